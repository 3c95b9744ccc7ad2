//! `facerec-test-worker`: a worker process with a controllable test handler, wired exactly like
//! `facerec-worker` (same settings, signals, protection, Spot watcher), for the runtime's
//! process-level tests (kill -9, SIGTERM) and the benchmark.
//!
//! Job body: `{"job_id": "...", "sleep_ms": 50, "fail": "none"}` where `fail` is
//! `none`, `transient` (always fails, retryable) or `corrupt` (permanent, code
//! `corrupt_image`). Anything that is not such JSON is `malformed_json`.

use std::time::{Duration, Instant};

use clap::Parser;
use facerec_worker_runtime::launch::{self, WorkerSettings};
use facerec_worker_runtime::{JobError, JobHandler, JobOutput};

#[derive(Parser)]
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
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
        match job.fail.as_str() {
            "transient" => Err(JobError::transient("test_transient", "told to fail")),
            "corrupt" => Err(JobError::permanent("corrupt_image", "not an image")),
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
    launch::init_logging();
    let cli = Cli::parse();
    match launch::run_worker(cli.settings, started, |_ctx| async { Ok(TestHandler) }).await {
        Ok(summary) => {
            tracing::info!(?summary, "exiting");
        }
        Err(e) => {
            eprintln!("facerec test worker: {e}");
            std::process::exit(2);
        }
    }
}
