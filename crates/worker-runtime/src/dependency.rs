//! The worker's dependencies and a circuit breaker for each.
//!
//! A dependency that is down is not a job's fault. Every call the runtime makes to a
//! dependency reports its outcome here ([`Breakers::failed`], [`Breakers::succeeded`]);
//! the first failure opens the dependency's breaker ("down"), a success closes it ("up").
//! While a breaker is open:
//!
//! * the receive loop takes no new work (the queue's own breaker: it waits for a probe);
//! * jobs that failed on the dependency stay held — tracked, kept invisible by the
//!   heartbeat — and wait in [`Breakers::wait_usable`] instead of going back to the queue,
//!   because SQS counts every receive toward the redrive policy's `maxReceiveCount`;
//! * once `probe_interval` has passed since the last failure, one caller at a time is let
//!   through as a half-open probe (a held job retrying, the result flush, a receive). Its
//!   outcome closes the breaker or keeps it open for another interval.
//!
//! Each state change is logged once (down: since when and the last error; up: after how
//! long) and emitted as the `DependencyDown` metric (1 down, 0 up, dimension `Dependency`)
//! with `DependencyOutage` (milliseconds) on recovery.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::emf::EmfEmitter;

/// What the worker depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dependency {
    /// The job queue (SQS, or the embedded queue's file): receive, delete, visibility.
    Queue,
    /// S3: job inputs, the result prefix, the "already stored?" check.
    S3,
    /// The result queue (SQS SendMessageBatch).
    ResultQueue,
}

impl Dependency {
    pub const ALL: [Dependency; 3] = [Dependency::Queue, Dependency::S3, Dependency::ResultQueue];

    /// The name in logs, metrics and the health file.
    pub fn name(self) -> &'static str {
        match self {
            Dependency::Queue => "job-queue",
            Dependency::S3 => "s3",
            Dependency::ResultQueue => "result-queue",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone)]
enum State {
    Up,
    Down {
        since: Instant,
        since_wall: SystemTime,
        last_error: String,
        /// When the next half-open probe may go.
        next_probe: Instant,
        /// A probe is out until this instant (then another may go: its caller vanished).
        probing_until: Option<Instant>,
    },
}

/// A state change, recorded for tests and the drill.
#[derive(Debug, Clone)]
pub struct Transition {
    pub dependency: Dependency,
    pub down: bool,
    pub at: Instant,
    /// Down: the error; up: empty.
    pub error: String,
}

/// The breakers of all dependencies. Shared by the runtime's tasks.
pub struct Breakers {
    states: Mutex<[State; 3]>,
    changed: Notify,
    probe_interval: Duration,
    emf: OnceLock<Arc<EmfEmitter>>,
    transitions: Mutex<Vec<Transition>>,
}

impl Breakers {
    pub fn new(probe_interval: Duration) -> Self {
        Self {
            states: Mutex::new([State::Up, State::Up, State::Up]),
            changed: Notify::new(),
            probe_interval,
            emf: OnceLock::new(),
            transitions: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_emf(&self, emf: Arc<EmfEmitter>) {
        let _ = self.emf.set(emf);
    }

    /// A call to `dep` failed because of `dep` (unreachable, timed out, 5xx, throttled).
    pub fn failed(&self, dep: Dependency, error: &str) {
        let now = Instant::now();
        let newly_down = {
            let mut states = self.states.lock().unwrap();
            match &mut states[dep.index()] {
                State::Up => {
                    states[dep.index()] = State::Down {
                        since: now,
                        since_wall: SystemTime::now(),
                        last_error: error.to_string(),
                        next_probe: now + self.probe_interval,
                        probing_until: None,
                    };
                    true
                }
                State::Down {
                    last_error,
                    next_probe,
                    probing_until,
                    ..
                } => {
                    *last_error = error.to_string();
                    *next_probe = now + self.probe_interval;
                    *probing_until = None;
                    false
                }
            }
        };
        if newly_down {
            tracing::error!(dependency = %dep, error, "dependency down: holding jobs, not receiving until it is back");
            self.record(dep, true, None, error);
        }
        self.changed.notify_waiters();
    }

    /// A call to `dep` succeeded.
    pub fn succeeded(&self, dep: Dependency) {
        let was_down = {
            let mut states = self.states.lock().unwrap();
            let prev = std::mem::replace(&mut states[dep.index()], State::Up);
            match prev {
                State::Up => None,
                State::Down {
                    since, since_wall, ..
                } => Some((since, since_wall)),
            }
        };
        if let Some((since, since_wall)) = was_down {
            let outage = since.elapsed();
            let since_unix_s = since_wall
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            tracing::info!(
                dependency = %dep,
                down_for_s = outage.as_secs_f64(),
                down_since_unix_s = since_unix_s,
                "dependency back up: resuming"
            );
            self.record(dep, false, Some(outage), "");
            self.changed.notify_waiters();
        }
    }

    fn record(&self, dep: Dependency, down: bool, outage: Option<Duration>, error: &str) {
        self.transitions.lock().unwrap().push(Transition {
            dependency: dep,
            down,
            at: Instant::now(),
            error: error.to_string(),
        });
        if let Some(emf) = self.emf.get() {
            emf.emit_dependency(dep.name(), down, outage);
        }
    }

    pub fn is_up(&self, dep: Dependency) -> bool {
        matches!(self.states.lock().unwrap()[dep.index()], State::Up)
    }

    pub fn all_up(&self) -> bool {
        self.states
            .lock()
            .unwrap()
            .iter()
            .all(|s| matches!(s, State::Up))
    }

    /// True when every dependency other than `except` is up.
    pub fn others_up(&self, except: Dependency) -> bool {
        Dependency::ALL
            .iter()
            .filter(|d| **d != except)
            .all(|d| self.is_up(*d))
    }

    /// Whether a dependency that is down has a probe due (nobody is probing it and the
    /// interval has passed). False for a dependency that is up.
    pub fn probe_due(&self, dep: Dependency) -> bool {
        let now = Instant::now();
        match &self.states.lock().unwrap()[dep.index()] {
            State::Up => false,
            State::Down {
                next_probe,
                probing_until,
                ..
            } => now >= *next_probe && probing_until.is_none_or(|u| now >= u),
        }
    }

    /// May the caller use `dep` now? Always when it is up; when it is down, only as the
    /// one half-open probe once the interval has passed (the caller must then report
    /// [`Self::failed`] or [`Self::succeeded`]).
    pub fn try_use(&self, dep: Dependency) -> bool {
        let now = Instant::now();
        let mut states = self.states.lock().unwrap();
        match &mut states[dep.index()] {
            State::Up => true,
            State::Down {
                next_probe,
                probing_until,
                ..
            } => {
                if now >= *next_probe && probing_until.is_none_or(|u| now >= u) {
                    // A probe whose caller never reports (aborted) blocks the next one
                    // only for a few intervals.
                    *probing_until = Some(now + self.probe_interval * 5);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Wait until the caller may use `dep` ([`Self::try_use`]), at most `max`. Returns
    /// whether it may.
    pub async fn wait_usable(&self, dep: Dependency, max: Duration) -> bool {
        let end = Instant::now() + max;
        loop {
            let notified = self.changed.notified();
            if self.try_use(dep) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let nap = left
                .min(self.probe_interval / 4)
                .max(Duration::from_millis(10));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Wait until every dependency is up or `max` has passed.
    pub async fn wait_changed(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    /// The dependencies that are down, with how long and the last error, for health.
    pub fn down_summary(&self) -> Option<String> {
        let states = self.states.lock().unwrap();
        let parts: Vec<String> = Dependency::ALL
            .iter()
            .filter_map(|d| match &states[d.index()] {
                State::Up => None,
                State::Down {
                    since, last_error, ..
                } => Some(format!(
                    "{} down for {:.0} s ({})",
                    d.name(),
                    since.elapsed().as_secs_f64(),
                    last_error
                )),
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Every state change so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.transitions.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_on_failure_probes_once_per_interval_and_closes_on_success() {
        let b = Breakers::new(Duration::from_millis(100));
        assert!(b.all_up() && b.try_use(Dependency::S3));
        b.failed(Dependency::S3, "connection refused");
        assert!(!b.is_up(Dependency::S3) && b.is_up(Dependency::Queue));
        assert!(!b.others_up(Dependency::Queue));
        assert!(
            !b.try_use(Dependency::S3),
            "open: nobody passes before the interval"
        );
        assert!(b
            .down_summary()
            .unwrap()
            .contains("s3 down for 0 s (connection refused)"));
        // After the interval exactly one caller is the probe.
        assert!(b.wait_usable(Dependency::S3, Duration::from_secs(1)).await);
        assert!(!b.try_use(Dependency::S3), "one probe at a time");
        // The probe failed: closed to everyone for another interval.
        b.failed(Dependency::S3, "still refused");
        assert!(!b.probe_due(Dependency::S3));
        assert!(
            !b.wait_usable(Dependency::S3, Duration::from_millis(50))
                .await
        );
        assert!(b.wait_usable(Dependency::S3, Duration::from_secs(1)).await);
        b.succeeded(Dependency::S3);
        assert!(b.all_up() && b.try_use(Dependency::S3) && b.try_use(Dependency::S3));
        assert!(b.down_summary().is_none());
        let t = b.transitions();
        assert_eq!(t.len(), 2, "each change recorded once: {t:?}");
        assert!(t[0].down && t[0].error == "connection refused" && !t[1].down);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_another_caller_sees_the_dependency_back() {
        let b = Arc::new(Breakers::new(Duration::from_secs(60)));
        b.failed(Dependency::Queue, "timeout");
        let w = {
            let b = b.clone();
            tokio::spawn(async move {
                b.wait_usable(Dependency::Queue, Duration::from_secs(5))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        b.succeeded(Dependency::Queue);
        assert!(w.await.unwrap());
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
