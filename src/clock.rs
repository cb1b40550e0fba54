//! The only place that reads the system clock.
//!
//! Everything else is told the time: the domain takes `now` as a value, and
//! the shell asks a [`Clock`], which tests replace with a [`ManualClock`].

use std::sync::Mutex;

use chrono::{Duration, Utc};

use crate::domain::time::Instant;

pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        // Whole seconds: everything the program stores and prints is to the second.
        let now = Utc::now();
        now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new(at: Instant) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
