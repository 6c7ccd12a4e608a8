//! The wall clock that company dates are read from. Production reads the
//! system clock; tests shift it to cross a company midnight in milliseconds
//! instead of waiting for one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// System time plus an offset shared by every clone (zero unless a test
/// moves it). Only dates and windows follow it; timers and the timestamps
/// in self-metrics stay on real time.
#[derive(Debug, Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Milliseconds since the epoch the clock stands still at, or
    /// [`RUNNING`]: the replay benchmark stops time during a cycle.
    frozen_ms: Arc<AtomicI64>,
}

/// `frozen_ms` of a clock that runs.
const RUNNING: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Self {
        Self { offset_ms: Arc::default(), frozen_ms: Arc::new(AtomicI64::new(RUNNING)) }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current instant as this clock sees it.
    pub fn now(&self) -> Timestamp {
        let frozen = self.frozen_ms.load(Ordering::Acquire);
        if frozen != RUNNING {
            return Timestamp::from_millisecond(frozen).unwrap_or(Timestamp::MAX);
        }
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::Acquire));
        Timestamp::now().checked_add(offset).unwrap_or(Timestamp::MAX)
    }

    /// Moves this clock and every clone of it by `by` (negative: back).
    pub fn shift(&self, by: SignedDuration) {
        self.frozen_ms.store(RUNNING, Ordering::Release);
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(millis, Ordering::AcqRel);
    }

    /// Stops this clock (and its clones) at `at` until [`Clock::set`] or
    /// [`Clock::shift`] runs it again.
    pub fn freeze(&self, at: Timestamp) {
        self.frozen_ms.store(at.as_millisecond(), Ordering::Release);
    }

    /// Sets this clock (and its clones) so that it reads `at` now.
    pub fn set(&self, at: Timestamp) {
        self.frozen_ms.store(RUNNING, Ordering::Release);
        let offset = at.duration_since(Timestamp::now());
        self.offset_ms.store(i64::try_from(offset.as_millis()).unwrap_or(i64::MAX), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_offset() {
        let clock = Clock::system();
        let clone = clock.clone();
        clock.shift(SignedDuration::from_hours(48));
        let ahead = clone.now().duration_since(Timestamp::now());
        assert!(ahead >= SignedDuration::from_hours(47) && ahead <= SignedDuration::from_hours(49), "{ahead:?}");
        let target: Timestamp = "2024-03-10T09:59:00Z".parse().unwrap();
        clone.set(target);
        assert!(clock.now().duration_since(target).abs() < SignedDuration::from_secs(5));
        clock.freeze(target);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(clone.now(), target, "a frozen clock stands still");
        clone.set(target);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.now() > target, "and runs again once set");
    }
}
