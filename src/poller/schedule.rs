//! When the next cycle runs: a pure decision from the clock readings and
//! the budget's pace, kept apart from the loop that sleeps on it so every
//! case can be tested without waiting.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::budget::Pace;

/// Which schedule the poller keeps (`--poll.schedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Everything after company midnight, then only what can still change
    /// until yesterday settles, with windows built from kept days.
    Settling,
    /// Every window whole every `--poll.interval`.
    Fixed,
}

/// The next cycle's start and how many due cycles were passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCycle {
    pub at: Instant,
    /// Regular cycles that fell due while the last one ran: skipped, not
    /// run back to back.
    pub skipped: u32,
}

/// The cycle that started at `started` ended at `now`. Regular cycles are
/// `interval` apart on the grid that began at `started`; the budget's
/// `pace` may push the next one later; nothing runs later than `midnight`
/// (the cycle just after company midnight, which moves "yesterday" over).
pub fn next_cycle(started: Instant, now: Instant, interval: Duration, pace: Pace, midnight: Instant) -> NextCycle {
    // Slots that fell due while the cycle ran, counted without walking
    // them (a tiny --poll.interval under a long cycle would be millions).
    let passed = now.saturating_duration_since(started).as_nanos() / interval.as_nanos().max(1);
    let skipped = u32::try_from(passed).unwrap_or(u32::MAX);
    let due = u64::try_from((passed + 1) * interval.as_nanos()).unwrap_or(u64::MAX);
    let at = started.checked_add(Duration::from_nanos(due)).unwrap_or(midnight);
    let at = match pace {
        Pace::Interval => at,
        Pace::Stretched(gap) => at.max(now + gap),
        Pace::UntilMidnight => midnight,
    };
    NextCycle { at: at.min(midnight), skipped }
}

/// Where one re-pollable part (activity days, reviews, interaction) stands
/// in the settling schedule of the current company day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartSchedule {
    /// The gap after the last fetch.
    pub gap: Duration,
    /// When to fetch it again; `None` once yesterday has settled.
    pub next: Option<Timestamp>,
}

/// After a part was fetched at `at`: an answer that `changed` since the last
/// fetch brings the gap back to `interval` (a change may follow, and must
/// be seen within `interval` plus one cycle); an unchanged one doubles it.
/// No re-poll at or after `settled_at` (yesterday's end + `--poll.settle-for`),
/// but a part still changing gets one last fetch at `settled_at`, so a change
/// shortly before it is seen too.
pub fn after_fetch(
    previous: Option<PartSchedule>,
    at: Timestamp,
    changed: bool,
    interval: Duration,
    settled_at: Timestamp,
) -> PartSchedule {
    let gap = match previous {
        Some(p) if !changed => p.gap.saturating_mul(2).min(Duration::from_secs(86_400)),
        _ => interval,
    };
    let next = if at >= settled_at {
        None
    } else {
        let due = at.checked_add(gap).unwrap_or(Timestamp::MAX);
        if due < settled_at {
            Some(due)
        } else if changed {
            Some(settled_at)
        } else {
            None
        }
    };
    PartSchedule { gap, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_short_cycle_waits_for_the_next_interval() {
        let t0 = Instant::now();
        let next = next_cycle(t0, t0 + secs(50), HOUR, Pace::Interval, t0 + 10 * HOUR);
        assert_eq!(next, NextCycle { at: t0 + HOUR, skipped: 0 });
    }

    #[test]
    fn a_cycle_longer_than_the_interval_skips_what_fell_due() {
        let t0 = Instant::now();
        let next = next_cycle(t0, t0 + HOUR * 2 + secs(1), HOUR, Pace::Interval, t0 + 10 * HOUR);
        assert_eq!(next, NextCycle { at: t0 + 3 * HOUR, skipped: 2 });
        // Ending exactly on the grid counts that slot as passed.
        let next = next_cycle(t0, t0 + HOUR, HOUR, Pace::Interval, t0 + 10 * HOUR);
        assert_eq!(next, NextCycle { at: t0 + 2 * HOUR, skipped: 1 });
    }

    #[test]
    fn a_tiny_interval_under_a_long_cycle_is_counted_not_walked() {
        let t0 = Instant::now();
        let next = next_cycle(t0, t0 + secs(10), Duration::from_nanos(1), Pace::Interval, t0 + HOUR);
        assert_eq!(next.skipped, 10_000_000_000u64.min(u64::from(u32::MAX)) as u32);
        assert!(next.at > t0 + secs(10));
    }

    #[test]
    fn the_budget_stretches_the_gap_but_never_past_midnight() {
        let t0 = Instant::now();
        let now = t0 + secs(60);
        let stretched = next_cycle(t0, now, HOUR, Pace::Stretched(3 * HOUR), t0 + 10 * HOUR);
        assert_eq!(stretched.at, now + 3 * HOUR);
        // A stretch shorter than the grid keeps the grid.
        let short = next_cycle(t0, now, HOUR, Pace::Stretched(secs(600)), t0 + 10 * HOUR);
        assert_eq!(short.at, t0 + HOUR);
        let capped = next_cycle(t0, now, HOUR, Pace::Stretched(20 * HOUR), t0 + 10 * HOUR);
        assert_eq!(capped.at, t0 + 10 * HOUR);
    }

    #[test]
    fn a_spent_budget_waits_for_midnight_and_midnight_caps_the_interval() {
        let t0 = Instant::now();
        let next = next_cycle(t0, t0 + secs(60), HOUR, Pace::UntilMidnight, t0 + 5 * HOUR);
        assert_eq!(next.at, t0 + 5 * HOUR);
        let next = next_cycle(t0, t0 + secs(60), HOUR, Pace::Interval, t0 + secs(1800));
        assert_eq!(next.at, t0 + secs(1800));
    }

    fn at(hours: f64) -> Timestamp {
        Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs_f64(hours * 3600.0)
    }

    #[test]
    fn a_changing_part_is_polled_every_interval_until_it_settles() {
        let interval = Duration::from_secs(2 * 3600 + 45 * 60);
        let settled = at(12.0);
        let mut times = vec![at(0.0)];
        let mut state = after_fetch(None, at(0.0), true, interval, settled);
        while let Some(next) = state.next {
            times.push(next);
            state = after_fetch(Some(state), next, true, interval, settled);
        }
        let hours: Vec<f64> = times.iter().map(|t| t.as_second() as f64 / 3600.0).collect();
        assert_eq!(hours, [0.0, 2.75, 5.5, 8.25, 11.0, 12.0], "the last fetch is at the settling point");
        assert!(times.windows(2).all(|w| w[1].duration_since(w[0]).as_secs() <= interval.as_secs() as i64));
    }

    #[test]
    fn an_unchanged_answer_doubles_the_gap_and_a_change_narrows_it_again() {
        let hour = Duration::from_secs(3600);
        let settled = at(12.0);
        let first = after_fetch(None, at(0.0), true, hour, settled);
        assert_eq!(first.next, Some(at(1.0)));
        let same = after_fetch(Some(first), at(1.0), false, hour, settled);
        assert_eq!((same.gap, same.next), (2 * hour, Some(at(3.0))));
        let same = after_fetch(Some(same), at(3.0), false, hour, settled);
        assert_eq!(same.next, Some(at(7.0)));
        let changed = after_fetch(Some(same), at(7.0), true, hour, settled);
        assert_eq!((changed.gap, changed.next), (hour, Some(at(8.0))));
        // Unchanged past the settling point: done for the day.
        let done = after_fetch(Some(PartSchedule { gap: 4 * hour, next: None }), at(9.0), false, hour, settled);
        assert_eq!(done.next, None);
        assert_eq!(after_fetch(None, at(13.0), true, hour, settled).next, None, "fetched after settling: final");
    }
}
