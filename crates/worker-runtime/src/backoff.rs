//! Exponential backoff: for retrying the queue service, and for a failed job's next
//! visibility (SQS has no per-message delay on redelivery, so the visibility timeout *is*
//! the retry delay).

use std::time::Duration;

/// `base * 2^(attempt-1)`, capped at `max`. `attempt` starts at 1.
pub fn exponential(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// Retry pacing for a failing dependency, with ±25% jitter so a fleet that lost its
/// endpoint does not come back in lockstep.
#[derive(Debug, Clone)]
pub struct RetryPacer {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl RetryPacer {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let d = exponential(self.base, self.max, self.attempt);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.subsec_nanos())
            .unwrap_or(0);
        // Cheap jitter source: the clock's low bits; uniform enough for spreading retries.
        let jitter = 0.75 + (nanos % 1000) as f64 / 2000.0;
        d.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let s = Duration::from_secs;
        assert_eq!(exponential(s(2), s(60), 1), s(2));
        assert_eq!(exponential(s(2), s(60), 3), s(8));
        assert_eq!(exponential(s(2), s(60), 10), s(60));
        assert_eq!(exponential(s(2), s(60), 200), s(60));
    }

    #[test]
    fn pacer_grows_within_jitter() {
        let mut p = RetryPacer::new(Duration::from_millis(100), Duration::from_secs(1));
        let d1 = p.next_delay();
        assert!(d1 >= Duration::from_millis(75) && d1 <= Duration::from_millis(125));
        for _ in 0..10 {
            assert!(p.next_delay() <= Duration::from_millis(1250));
        }
        p.reset();
        assert!(p.next_delay() <= Duration::from_millis(125));
    }
}
