//! Time, as the handler sees it: a monotonic clock to sleep on between polls and the wall
//! time the rule's state is kept in. Tests run the polling loop in paused tokio time.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

pub trait Clock: Send + Sync {
    /// Now, on the clock [`Clock::sleep_until`] uses.
    fn now(&self) -> Instant;

    /// Returns at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Wall time now, in milliseconds since the Unix epoch.
    fn unix_millis(&self) -> i64;

    /// Wall time now, in whole seconds since the Unix epoch (the rule's `t`).
    fn unix_seconds(&self) -> u64 {
        (self.unix_millis().max(0) / 1000) as u64
    }
}

/// Tokio's clock, with the wall time taken once at creation and advanced with tokio's
/// monotonic clock from there: a pause of tokio time pauses both, so a test with paused
/// time sees consistent polls. Create one per invocation: a Lambda environment can be
/// frozen between invocations, and the wall time is re-read at each creation.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: Instant,
    origin_unix_millis: i64,
}

impl TokioClock {
    /// Anchored at the system's wall time now.
    pub fn new() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as i64;
        Self::anchored_at(millis)
    }

    /// Anchored at the given wall time (tests).
    pub fn anchored_at(unix_millis: i64) -> Self {
        TokioClock {
            origin: Instant::now(),
            origin_unix_millis: unix_millis,
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline)
    }

    fn unix_millis(&self) -> i64 {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        self.origin_unix_millis + elapsed.as_millis() as i64
    }
}
