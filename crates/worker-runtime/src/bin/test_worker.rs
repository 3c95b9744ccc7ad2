//! `facerec-test-worker`: a worker process with a controllable test handler, wired exactly like
//! `facerec-worker` (same settings, signals, protection, Spot watcher), for the runtime's
//! process-level tests (kill -9, SIGTERM) and the benchmark.
//!
//! Job body: `{"job_id": "...", "sleep_ms": 50, "fail": "none"}` where `fail` is
//! `none`, `transient` (always fails, retryable), `corrupt` (permanent, code
//! `corrupt_image`), `panic` (the handler panics) or `crash` (the process aborts, like an
//! OOM kill, on every delivery). Anything that is not such JSON is `malformed_json`.
//! Every handler execution logs [`EXECUTION_LOG`] with the job id, so tests can count
//! runs per job.

use std::time::{Duration, Instant};

use clap::Parser;
use facerec_worker_runtime::launch::{self, WorkerSettings};
use facerec_worker_runtime::{JobError, JobHandler, JobOutput};

/// Logged (with `job_id`) once per handler execution.
const EXECUTION_LOG: &str = "test handler executing";

#[derive(Parser)]
#[command(name = "facerec-test-worker")]
struct Cli {
    #[command(flatten)]
    settings: WorkerSettings,
}

#[derive(serde::Deserialize)]
struct TestJob {
    job_id: String,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    fail: String,
}

struct TestHandler;

impl JobHandler for TestHandler {
    type Job = TestJob;

    fn parse(&self, body: &str) -> Result<TestJob, JobError> {
        serde_json::from_str(body).map_err(|e| JobError::permanent("malformed_json", e.to_string()))
    }

    fn job_id(job: &TestJob) -> &str {
        &job.job_id
    }

    async fn handle(&self, job: TestJob) -> Result<JobOutput, JobError> {
        tracing::info!(job_id = %job.job_id, "{}", EXECUTION_LOG);
        if job.fail == "crash" {
            // Die mid-job the way an OOM kill or a segfault would: no cleanup at all.
            std::process::abort();
        }
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
        match job.fail.as_str() {
            "transient" => Err(JobError::transient("test_transient", "told to fail")),
            "corrupt" => Err(JobError::permanent("corrupt_image", "not an image")),
            "panic" => panic!("test handler told to panic"),
            _ => Ok(JobOutput {
                result: serde_json::json!({
                    "job_id": job.job_id,
                    "pid": std::process::id(),
                }),
                faces_found: 1,
            }),
        }
    }
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let cli: Cli = launch::parse_cli("facerec-test-worker");
    launch::init_logging();
    match launch::run_worker(cli.settings, started, |_ctx| async { Ok(TestHandler) }).await {
        Ok(summary) => {
            tracing::info!(?summary, "exiting");
        }
        Err(e) => {
            eprintln!("facerec-test-worker: {e}");
            std::process::exit(2);
        }
    }
}
