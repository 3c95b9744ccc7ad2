//! Liveness for the container health check.
//!
//! The receive loop touches a file every iteration (a long poll is at most 20 s); the
//! `health` subcommand passes while the file is fresh. A file rather than a port: nothing
//! to bind, and it works on a read-only root with a small tmpfs for `/tmp`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const DEFAULT_HEALTH_FILE: &str = "/tmp/facerec-worker.alive";

#[derive(Debug, Clone)]
pub struct HealthFile {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("health file {0} missing: the worker has not started its receive loop")]
    Missing(PathBuf),
    #[error("health file {path} is {age:?} old (max {max:?}): the receive loop is stuck")]
    Stale {
        path: PathBuf,
        age: Duration,
        max: Duration,
    },
}

impl HealthFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record that the loop is alive. Errors are ignored: a failed touch shows up as a
    /// failed health check, which is the right signal.
    pub fn touch(&self) {
        let _ = std::fs::write(&self.path, b"ok\n");
    }

    pub fn check(&self, max_age: Duration) -> Result<Duration, Unhealthy> {
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
        Ok(age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_file_is_healthy_and_missing_is_not() {
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
    }
}
