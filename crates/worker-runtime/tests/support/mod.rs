//! Test support: the shared test bed from facerec-test-support (moto per test, SDK
//! clients pointed at it, the Backend a behavioural test runs on, the test handler, the
//! ECS agent and IMDS stand-ins, a pausable TCP proxy, worker processes), plus what only
//! this crate's tests have: the test worker binary and its log lines.
#![allow(dead_code)]

pub mod bed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[allow(unused_imports)] // each test binary uses a different subset
pub use facerec_test_support::worker_runtime::*;
#[allow(unused_imports)]
pub use facerec_test_support::{
    aws_env, repo_root, sdk_config, AgentStandIn, ImdsStandIn, Moto, OutageProxy, WorkerProcess,
};

/// The test worker binary (src/bin/test_worker.rs), built by cargo for integration tests.
pub fn test_worker_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_facerec-test-worker"))
}

/// Spawns the test worker (see [`test_worker_bin`]) with `env` and `extra` on top of a
/// clean environment, its log in `log_dir/name.log`.
pub fn spawn_test_worker(
    env: &[(String, String)],
    extra: &[(&str, &str)],
    log_dir: &Path,
    name: &str,
) -> WorkerProcess {
    WorkerProcess::spawn_bin(&test_worker_bin(), env, extra, log_dir, name)
}

/// Log line the test worker writes once per handler execution (src/bin/test_worker.rs).
pub const EXECUTION_LOG: &str = "test handler executing";

/// Job ids of the JSON log lines whose message is `message`, with how often each appears.
pub fn log_job_ids(log: &str, message: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["message"] == message {
            if let Some(id) = v["job_id"].as_str() {
                *out.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    out
}
