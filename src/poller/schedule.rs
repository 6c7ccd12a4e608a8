//! When the next cycle runs: a pure decision from the clock readings and
//! the budget's pace, kept apart from the loop that sleeps on it so every
//! case can be tested without waiting.

use std::time::Duration;

use tokio::time::Instant;

use super::budget::Pace;

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
    let mut at = started + interval;
    let mut skipped = 0;
    while at <= now {
        at += interval;
        skipped += 1;
    }
    let at = match pace {
        Pace::Interval => at,
        Pace::Stretched(gap) => at.max(now + gap),
        Pace::UntilMidnight => midnight,
    };
    NextCycle { at: at.min(midnight), skipped }
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
}
