//! Worker processes under test: a clean environment, JSON logs to a file, signals.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A worker process (a test worker or the real binary) with its stderr in a log file,
/// killed on drop if still running.
pub struct WorkerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    pub fn spawn_bin(
        bin: &Path,
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log_dir: &Path,
        name: &str,
    ) -> Self {
        Self::spawn_with_args(bin, &[], env, extra, log_dir, name)
    }

    pub fn spawn_with_args(
        bin: &Path,
        args: &[&str],
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log_dir: &Path,
        name: &str,
    ) -> Self {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FACEREC_LOG_FORMAT", "json")
            .env("FACEREC_HEALTH_FILE", log_dir.join(format!("{name}.alive")))
            .env("FACEREC_CGROUP_DIR", "/nonexistent")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(file);
        WorkerProcess {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle`.
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log_text().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for exit; returns (exit status, elapsed) or None on timeout.
    pub async fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> Option<(std::process::ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some((s, start.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
