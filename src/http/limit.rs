//! Per-team rate limits on the intake: a token bucket for each team, filled
//! at `per_second` up to `burst`, one token a request. A request with none
//! left is answered 429 with `Retry-After` (Alertmanager, Grafana and
//! PagerDuty's clients retry on 429), before its body is read.
//!
//! The buckets are keyed by team, after the key was checked: a team's
//! current and next key share one (a rotation does not double the rate),
//! and requests with unknown keys make no buckets. Time comes from the
//! daemon's clock, so tests step it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::time::Instant;
use crate::settings::RateLimit;

pub struct Limiter {
    limit: RateLimit,
    /// (tokens left, when counted), by team. The lock is held for a few
    /// arithmetic operations, never across an await.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `team` at `now`; or, if there is none, says in how
    /// many whole seconds there will be one.
    pub fn take(&self, team: &str, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.entry(team.to_string()).or_insert((burst, now));
        // A clock that went back refills nothing.
        let elapsed = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * self.limit.per_second).min(burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.limit.per_second;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

    fn t0() -> Instant {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let now = t0();
        for _ in 0..3 {
            assert_eq!(limiter.take("payments", now), Ok(()));
        }
        assert_eq!(limiter.take("payments", now), Err(1));
        // Another team has its own bucket.
        assert_eq!(limiter.take("platform", now), Ok(()));
        // Half a second gives one token back (2 a second).
        let later = now + Duration::milliseconds(500);
        assert_eq!(limiter.take("payments", later), Ok(()));
        assert_eq!(limiter.take("payments", later), Err(1));
        // A long quiet spell refills up to the burst, not beyond.
        let much_later = later + Duration::hours(1);
        for _ in 0..3 {
            assert_eq!(limiter.take("payments", much_later), Ok(()));
        }
        assert!(limiter.take("payments", much_later).is_err());
    }

    #[test]
    fn retry_after_covers_a_slow_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 0.1,
            burst: 1,
        });
        assert_eq!(limiter.take("t", t0()), Ok(()));
        assert_eq!(limiter.take("t", t0()), Err(10));
        assert_eq!(limiter.take("t", t0() + Duration::seconds(4)), Err(6));
        // A clock that goes back neither refills nor breaks the bucket.
        assert_eq!(limiter.take("t", t0() - Duration::seconds(60)), Err(6));
        assert_eq!(limiter.take("t", t0() + Duration::seconds(10)), Ok(()));
    }
}
