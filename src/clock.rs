//! The one "day" clock of every day-based rule in localcos: lifecycle
//! (Days, NoncurrentDays, DaysAfterInitiation), restore expiry, inventory
//! schedules and object-lock retention.
//!
//! A day lasts `--day-seconds` (env `LOCALCOS_DAY_SECONDS`, default 86400).
//! With the default, day boundaries are COS's: midnight in Asia/Shanghai
//! (UTC+8). With any other length they fall every `day` from process start
//! (NOTES-ON-ISSUES 11), so a test with `--day-seconds 2` sees a 1-day rule
//! act within 3 "days" (6 s) of an object's creation.
//!
//! Times are Unix milliseconds (as stored in records); the clock is pure
//! over them, so rules are table-tested without sleeping.

use std::time::Duration;

/// One real day.
pub const REAL_DAY: Duration = Duration::from_secs(86_400);
/// Asia/Shanghai's offset from UTC (no daylight saving).
const UTC8_MS: i64 = 8 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayClock {
    /// Milliseconds in one day (at least 1).
    day_ms: i64,
    /// Where day boundaries are counted from (Unix ms): `-UTC+8` for real
    /// days (so boundaries are Beijing midnights), process start otherwise.
    origin_ms: i64,
}

impl Default for DayClock {
    fn default() -> Self {
        DayClock::new(REAL_DAY, 0)
    }
}

impl DayClock {
    /// A clock whose days last `day`; `start_ms` is when the process started
    /// (only used for days shorter or longer than a real one).
    pub fn new(day: Duration, start_ms: i64) -> DayClock {
        let day_ms = i64::try_from(day.as_millis()).unwrap_or(i64::MAX).max(1);
        let origin_ms = if day == REAL_DAY { -UTC8_MS } else { start_ms };
        DayClock { day_ms, origin_ms }
    }

    /// A clock whose days last `day`, counted from now.
    pub fn starting_now(day: Duration) -> DayClock {
        DayClock::new(day, now_ms())
    }

    /// The length of one day.
    pub fn day(&self) -> Duration {
        Duration::from_millis(self.day_ms as u64)
    }

    /// `n` days as milliseconds (saturating).
    pub fn days_ms(&self, n: u64) -> i64 {
        self.day_ms
            .saturating_mul(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// The first day boundary at or after `t_ms`.
    pub fn boundary_at_or_after(&self, t_ms: i64) -> i64 {
        let since = t_ms.saturating_sub(self.origin_ms);
        let days = since.div_euclid(self.day_ms);
        let floor = self
            .origin_ms
            .saturating_add(days.saturating_mul(self.day_ms));
        if floor == t_ms {
            t_ms
        } else {
            floor.saturating_add(self.day_ms)
        }
    }

    /// When a rule of `n` days counted from `since_ms` falls due: `since +
    /// n days`, rounded up to the next day boundary (cos-bucket.md §4.2).
    pub fn due(&self, since_ms: i64, n: u64) -> i64 {
        self.boundary_at_or_after(since_ms.saturating_add(self.days_ms(n)))
    }

    /// Whether `n` days counted from `since_ms` have passed at `now_ms`.
    pub fn is_due(&self, since_ms: i64, n: u64, now_ms: i64) -> bool {
        now_ms >= self.due(since_ms, n)
    }
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_days_end_at_beijing_midnight() {
        let c = DayClock::default();
        // 2024-01-01T10:00:00Z is 18:00 in Beijing; the next Beijing midnight
        // is 2024-01-01T16:00:00Z.
        let t = 1_704_103_200_000;
        assert_eq!(c.boundary_at_or_after(t), 1_704_124_800_000);
        // A boundary maps to itself.
        assert_eq!(c.boundary_at_or_after(1_704_124_800_000), 1_704_124_800_000);
        // One day after 18:00 rounds up to the midnight after that.
        assert_eq!(c.due(t, 1), 1_704_124_800_000 + 86_400_000);
        assert_eq!(c.due(t, 0), 1_704_124_800_000);
    }

    #[test]
    fn short_days_count_from_start() {
        let c = DayClock::new(Duration::from_secs(2), 1_000_000);
        assert_eq!(c.day(), Duration::from_secs(2));
        // Created 0.5 s after start: 1 day later is 2.5 s, rounded up to 4 s.
        assert_eq!(c.due(1_000_500, 1), 1_004_000);
        assert!(!c.is_due(1_000_500, 1, 1_003_999));
        assert!(c.is_due(1_000_500, 1, 1_004_000));
        // Always within n + 1 days of creation.
        for created in (1_000_000..1_010_000).step_by(137) {
            let due = c.due(created, 1);
            assert!(
                due >= created + 2_000 && due <= created + 4_000,
                "{created} {due}"
            );
        }
        // Times before the start still round to a boundary.
        assert_eq!(c.boundary_at_or_after(999_999), 1_000_000);
        assert_eq!(c.boundary_at_or_after(997_000), 998_000);
    }

    #[test]
    fn huge_counts_saturate() {
        let c = DayClock::default();
        assert_eq!(c.days_ms(u64::MAX), i64::MAX);
        assert!(c.due(0, u64::MAX) >= i64::MAX - 86_400_000);
    }
}
