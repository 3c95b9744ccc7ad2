//! One drill worker process: `spot-drill worker` with a clean environment, JSON logs to
//! a file, its own health file (touched by the receive loop after every receive — the
//! drill uses it to see a fresh batch arrive), signals, and exit time. Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::SystemTime;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::worker_log::WorkerLog;

pub struct WorkerProcess {
    pub name: String,
    pub log_path: PathBuf,
    pub health_path: PathBuf,
    child: Child,
    exit: Option<(ExitStatus, SystemTime)>,
}

impl WorkerProcess {
    /// Start `exe worker` with exactly `env` (plus `PATH`).
    pub fn spawn(
        exe: &Path,
        name: &str,
        env: &[(String, String)],
        dir: &Path,
    ) -> anyhow::Result<WorkerProcess> {
        let log_path = dir.join(format!("{name}.log"));
        let health_path = dir.join(format!("{name}.alive"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("create {}", log_path.display()))?;
        let child = Command::new(exe)
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("FACEREC_LOG_FORMAT", "json")
            .env("FACEREC_HEALTH_FILE", &health_path)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start worker {name} ({})", exe.display()))?;
        Ok(WorkerProcess {
            name: name.to_string(),
            log_path,
            health_path,
            child,
            exit: None,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Last touch of the health file: the end of the latest receive.
    pub fn health_touched_at(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.health_path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// Exit status and the time it was first seen, once the process has exited.
    pub fn poll_exit(&mut self) -> Option<(ExitStatus, SystemTime)> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some((status, SystemTime::now()));
            }
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.poll_exit().is_none()
    }

    /// Send `signal` (`TERM`, `KILL`, …) with kill(1); no-op once exited.
    pub fn signal(&mut self, signal: &str) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let pid = self.pid().context("worker has no pid")?;
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .context("run kill")?;
        anyhow::ensure!(
            status.success() || !self.is_running(),
            "kill -{signal} {pid} failed"
        );
        Ok(())
    }

    pub fn log(&self) -> WorkerLog {
        WorkerLog::read(&self.log_path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}
