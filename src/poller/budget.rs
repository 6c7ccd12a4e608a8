//! Gong's daily request quota is shared by every integration of a company
//! (CRM sync, warehouse loads); this exporter keeps to its share of it by
//! spacing cycles, never by spending the quota.

use std::time::Duration;

use jiff::civil::Date;

/// Requests this exporter has sent on the current company day.
#[derive(Debug, Clone)]
pub struct DailyBudget {
    /// Requests per day this exporter may send: Gong's limit times the share.
    allowance: u64,
    day: Option<Date>,
    /// Requests sent (since start) when the current day began.
    baseline: u64,
    warned_day: Option<Date>,
}

/// When to run the next cycle, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Every `--poll.interval`: the budget allows it.
    Interval,
    /// Further apart than the interval, to fit the rest of today's budget.
    Stretched(Duration),
    /// Nothing more today: wait for the cycle after midnight.
    UntilMidnight,
}

impl DailyBudget {
    /// `daily_limit` is Gong's quota, `share` the part of it this exporter
    /// may use (0 < share <= 1).
    pub fn new(daily_limit: u32, share: f64) -> Self {
        let allowance = (f64::from(daily_limit) * share).floor().max(1.0) as u64;
        Self { allowance, day: None, baseline: 0, warned_day: None }
    }

    /// Requests per day this exporter may send.
    pub fn allowance(&self) -> u64 {
        self.allowance
    }

    /// Starts a new count when the company day changes. `sent` is the
    /// client's running total.
    pub fn roll(&mut self, today: Date, sent: u64) {
        if self.day != Some(today) {
            self.day = Some(today);
            self.baseline = sent;
        }
    }

    /// The current day and the running total it began at.
    pub fn day(&self) -> Option<(Date, u64)> {
        self.day.map(|day| (day, self.baseline))
    }

    /// Carries on a count another poller began (`day` began at `baseline`).
    pub fn resume(&mut self, day: Date, baseline: u64) {
        self.day = Some(day);
        self.baseline = baseline;
    }

    /// Requests sent today.
    pub fn used(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.baseline)
    }

    /// Requests left of today's allowance.
    pub fn remaining(&self, sent: u64) -> u64 {
        self.allowance.saturating_sub(self.used(sent))
    }

    /// Whether to warn now: 80% of the allowance is used and today has not
    /// been warned about yet.
    pub fn should_warn(&mut self, sent: u64) -> bool {
        let due = self.used(sent) * 5 >= self.allowance * 4;
        if due && self.warned_day != self.day {
            self.warned_day = self.day;
            return true;
        }
        false
    }

    /// How to pace the next cycle: a cycle costs `cycle_cost` requests and
    /// `until_midnight` is left of today. The rest of today's allowance is
    /// spread evenly over the rest of the day.
    pub fn pace(&self, sent: u64, cycle_cost: u64, interval: Duration, until_midnight: Duration) -> Pace {
        if cycle_cost == 0 {
            return Pace::Interval;
        }
        let remaining = self.remaining(sent);
        let affordable = remaining / cycle_cost;
        if affordable == 0 {
            return Pace::UntilMidnight;
        }
        let spacing = until_midnight / u32::try_from(affordable).unwrap_or(u32::MAX);
        if spacing > interval { Pace::Stretched(spacing) } else { Pace::Interval }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn allowance_is_the_share_of_the_limit() {
        assert_eq!(DailyBudget::new(10_000, 0.25).allowance(), 2_500);
        assert_eq!(DailyBudget::new(10, 0.01).allowance(), 1, "never zero");
    }

    #[test]
    fn small_company_polls_every_interval() {
        let mut b = DailyBudget::new(10_000, 0.25);
        b.roll(date(2024, 6, 10), 0);
        // 12 requests a cycle, 24 cycles a day: 288, far under 2,500.
        assert_eq!(b.pace(12, 12, HOUR, 23 * HOUR), Pace::Interval);
    }

    #[test]
    fn ten_thousand_users_degrade_to_fewer_cycles_never_a_spent_quota() {
        let mut b = DailyBudget::new(10_000, 0.25);
        b.roll(date(2024, 6, 10), 0);
        // ~1,000 requests a cycle: after the midnight cycle, 1,500 left =
        // one more cycle, spread over the remaining 22 hours.
        assert_eq!(b.pace(1_000, 1_000, HOUR, 22 * HOUR), Pace::Stretched(22 * HOUR));
        // After that one, nothing is left until midnight.
        assert_eq!(b.pace(2_000, 1_000, HOUR, 10 * HOUR), Pace::UntilMidnight);
        let cycles_a_day = 1 + 1;
        assert!(cycles_a_day * 1_000 <= b.allowance());
    }

    #[test]
    fn mid_sized_company_is_stretched_evenly() {
        let mut b = DailyBudget::new(10_000, 0.25);
        b.roll(date(2024, 6, 10), 0);
        // 200 a cycle, 2,300 left: 11 cycles over 20 h, every ~1h49m.
        match b.pace(200, 200, HOUR, 20 * HOUR) {
            Pace::Stretched(gap) => assert_eq!(gap.as_secs(), 20 * 3600 / 11),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn count_restarts_each_company_day_and_warns_once_at_80_percent() {
        let mut b = DailyBudget::new(1_000, 0.5);
        b.roll(date(2024, 6, 10), 100);
        assert_eq!(b.used(500), 400);
        assert!(b.should_warn(500), "400 of 500 is 80%");
        assert!(!b.should_warn(510), "once a day");
        b.roll(date(2024, 6, 10), 600);
        assert_eq!(b.used(600), 500, "same day: no reset");
        b.roll(date(2024, 6, 11), 600);
        assert_eq!(b.used(650), 50);
        assert_eq!(b.day(), Some((date(2024, 6, 11), 600)));
        let mut resumed = DailyBudget::new(1_000, 0.5);
        resumed.resume(date(2024, 6, 11), 600);
        resumed.roll(date(2024, 6, 11), 700);
        assert_eq!(resumed.used(700), 100, "a resumed day keeps its count");
        assert!(!b.should_warn(650));
    }
}
