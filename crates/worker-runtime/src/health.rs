//! Liveness for the container health check.
//!
//! The runtime's health task rewrites a small file right after every receive and at least
//! every `health_interval` (10 s) in between, so a worker whose slots are all busy with
//! long jobs stays healthy. The file says what the runtime thinks of itself: `ok`;
//! `degraded: <reason>` while a dependency (job queue, S3, result queue) is down — the
//! worker holds its jobs and waits, and a new task would fare no better, so this passes
//! the check; or `unhealthy: <reason>` when the receive loop has stalled or results fail
//! with a permanent error (access denied, no such bucket or queue; see
//! [`crate::runtime`]). The `health` subcommand passes for a fresh `ok` or `degraded`
//! file; a stale file means the process (or its async runtime) is wedged, since then
//! nothing rewrites it. ECS marks an essential container that fails its health check
//! `UNHEALTHY` and the service replaces the task (docs/operations.md). A file rather than a port: nothing to bind, and it works on a
//! read-only root with a small tmpfs for `/tmp`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const DEFAULT_HEALTH_FILE: &str = "/tmp/facerec-worker.alive";

#[derive(Debug, Clone)]
pub struct HealthFile {
    path: PathBuf,
}

/// What the runtime reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    Ok,
    /// Working as well as it can while a dependency is down: passes the check.
    Degraded(String),
    Unhealthy(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("health file {0} missing: the worker has not started its receive loop")]
    Missing(PathBuf),
    #[error("health file {path} is {age:?} old (max {max:?}): the worker is wedged")]
    Stale {
        path: PathBuf,
        age: Duration,
        max: Duration,
    },
    #[error("the worker reports itself unhealthy: {0}")]
    Reported(String),
}

impl HealthFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `status`. Through a temporary file and a rename, so `check` never reads a
    /// half-written file. Errors are ignored: a failed write shows up as a stale file,
    /// which is the right signal.
    pub fn write(&self, status: &HealthStatus) {
        let text = match status {
            HealthStatus::Ok => "ok\n".to_string(),
            HealthStatus::Degraded(reason) => {
                format!("degraded: {}\n", reason.replace('\n', " "))
            }
            HealthStatus::Unhealthy(reason) => {
                format!("unhealthy: {}\n", reason.replace('\n', " "))
            }
        };
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }

    /// Record a healthy loop (shorthand for `write(&HealthStatus::Ok)`).
    pub fn touch(&self) {
        self.write(&HealthStatus::Ok);
    }

    /// Healthy when the file is at most `max_age` old and does not report itself
    /// unhealthy (`degraded` passes). Returns the file's age.
    pub fn check(&self, max_age: Duration) -> Result<Duration, Unhealthy> {
        self.check_reporting(max_age).map(|(age, _)| age)
    }

    /// [`Self::check`], with the reason when the worker reports itself degraded.
    pub fn check_reporting(
        &self,
        max_age: Duration,
    ) -> Result<(Duration, Option<String>), Unhealthy> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|_| Unhealthy::Missing(self.path.clone()))?;
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default();
        if age > max_age {
            return Err(Unhealthy::Stale {
                path: self.path.clone(),
                age,
                max: max_age,
            });
        }
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        if let Some(reason) = text.trim().strip_prefix("unhealthy:") {
            return Err(Unhealthy::Reported(reason.trim().to_string()));
        }
        let degraded = text
            .trim()
            .strip_prefix("degraded:")
            .map(|r| r.trim().to_string());
        Ok((age, degraded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ok_file_is_healthy_and_missing_stale_or_reported_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let h = HealthFile::new(dir.path().join("alive"));
        assert!(matches!(
            h.check(Duration::from_secs(5)),
            Err(Unhealthy::Missing(_))
        ));
        h.touch();
        assert!(h.check(Duration::from_secs(5)).is_ok());
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(
            h.check(Duration::from_millis(10)),
            Err(Unhealthy::Stale { .. })
        ));
        h.write(&HealthStatus::Unhealthy(
            "storing results failing for 61 s: AccessDenied".into(),
        ));
        match h.check(Duration::from_secs(5)) {
            Err(Unhealthy::Reported(r)) => assert!(r.contains("AccessDenied"), "{r}"),
            other => panic!("{other:?}"),
        }
        h.touch();
        assert!(h.check(Duration::from_secs(5)).is_ok(), "recovers");
        // A dependency's outage: reported, but the check passes (ECS keeps the task).
        h.write(&HealthStatus::Degraded(
            "s3 down for 12 s (connection refused)".into(),
        ));
        let (_, degraded) = h.check_reporting(Duration::from_secs(5)).unwrap();
        assert_eq!(
            degraded.as_deref(),
            Some("s3 down for 12 s (connection refused)")
        );
        assert!(std::fs::read_to_string(h.path())
            .unwrap()
            .starts_with("degraded: s3 down"));
        assert!(h.check(Duration::from_secs(5)).is_ok(), "degraded passes");
    }
}
