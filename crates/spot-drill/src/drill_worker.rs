//! The worker side of the drill (`spot-drill worker`): the production wiring
//! ([`launch::run_worker`]: settings from the environment, signals, heartbeat, batched
//! acknowledgements, the IMDS Spot watcher) around [`DrillHandler`], which stands in for
//! recognition only. It validates each body as a real v1 job, then "recognises" for a
//! duration derived from the job id (so every run of the drill is the same workload) and
//! returns a v1 result document naming the instance that produced it.

use std::time::{Duration, Instant};

use clap::Args;
use facerec_job::{JobV1, ResultV1, Timings, CONTRACT_VERSION};
use facerec_worker_runtime::launch::{self, WorkerSettings};
use facerec_worker_runtime::{JobError, JobHandler, JobOutput};

/// Log message of one handler execution (counted by the drill: exactly one per job).
pub const EXECUTION_LOG: &str = "drill handler executing";
/// `worker` field of the result documents: `spot-drill-worker/{instance}`.
pub const RESULT_WORKER_PREFIX: &str = "spot-drill-worker/";

#[derive(Debug, Clone, Args)]
pub struct DrillWorkerArgs {
    #[command(flatten)]
    pub settings: WorkerSettings,
    /// Name of the simulated instance, written into each result document.
    #[arg(long, env = "FACEREC_DRILL_INSTANCE")]
    pub instance: String,
    /// Shortest simulated recognition, milliseconds.
    #[arg(long, env = "FACEREC_DRILL_JOB_MS_MIN", default_value_t = 2_000)]
    pub job_ms_min: u64,
    /// Longest simulated recognition, milliseconds.
    #[arg(long, env = "FACEREC_DRILL_JOB_MS_MAX", default_value_t = 5_000)]
    pub job_ms_max: u64,
}

/// A v1 job whose image need not exist: the drill's handler never fetches it.
pub fn job_body(job_id: &str) -> String {
    JobV1::builder(
        job_id,
        format!("s3://facerec-drill-images/frames/{job_id}.jpg"),
    )
    .build()
    .expect("drill job ids are valid")
    .to_body()
}

/// The simulated recognition time of `job_id`: FNV-1a of the id spread over `[min, max]`.
pub fn job_duration(job_id: &str, min_ms: u64, max_ms: u64) -> Duration {
    let hash = job_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let span = max_ms.saturating_sub(min_ms) + 1;
    Duration::from_millis(min_ms + hash % span)
}

pub struct DrillHandler {
    pub instance: String,
    pub min_ms: u64,
    pub max_ms: u64,
}

impl JobHandler for DrillHandler {
    type Job = JobV1;

    fn parse(&self, body: &str) -> Result<JobV1, JobError> {
        // A body that does not parse never will: permanent, whatever the job crate's kind.
        JobV1::parse(body, false).map_err(|e| JobError::permanent(e.code, e.detail))
    }

    fn job_id(job: &JobV1) -> &str {
        &job.job_id
    }

    async fn handle(&self, job: JobV1) -> Result<JobOutput, JobError> {
        let planned = job_duration(&job.job_id, self.min_ms, self.max_ms);
        tracing::info!(job_id = %job.job_id, planned_ms = planned.as_millis() as u64, "{}", EXECUTION_LOG);
        let started = Instant::now();
        tokio::time::sleep(planned).await;
        let result = ResultV1 {
            version: CONTRACT_VERSION,
            job_id: job.job_id.clone(),
            image: job.image.into(),
            width: 0,
            height: 0,
            faces: Vec::new(),
            timings: Timings {
                total_ms: started.elapsed().as_secs_f64() * 1000.0,
                ..Timings::default()
            },
            worker: format!("{RESULT_WORKER_PREFIX}{}", self.instance),
        };
        Ok(JobOutput {
            result: serde_json::to_value(result)
                .map_err(|e| JobError::transient("worker_error", e.to_string()))?,
            faces_found: 0,
        })
    }
}

/// Run one drill worker until a signal or a Spot notice stops it.
pub async fn run(
    args: DrillWorkerArgs,
    started: Instant,
) -> Result<(), facerec_worker_runtime::BoxError> {
    if args.job_ms_min > args.job_ms_max {
        return Err("FACEREC_DRILL_JOB_MS_MIN must not exceed FACEREC_DRILL_JOB_MS_MAX".into());
    }
    let handler = DrillHandler {
        instance: args.instance,
        min_ms: args.job_ms_min,
        max_ms: args.job_ms_max,
    };
    let summary = launch::run_worker(args.settings, started, |_ctx| async { Ok(handler) }).await?;
    tracing::info!(?summary, "exiting");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_spread_over_the_range_and_stable() {
        let ds: Vec<Duration> = (0..200)
            .map(|i| job_duration(&format!("drill-{i:04}"), 2_000, 5_000))
            .collect();
        assert!(ds
            .iter()
            .all(|d| (2_000..=5_000).contains(&(d.as_millis() as u64))));
        assert!(ds.iter().any(|d| d.as_millis() < 2_600));
        assert!(ds.iter().any(|d| d.as_millis() > 4_400));
        assert_eq!(
            job_duration("drill-0007", 2_000, 5_000),
            job_duration("drill-0007", 2_000, 5_000)
        );
        assert_eq!(
            job_duration("x", 3_000, 3_000),
            Duration::from_millis(3_000)
        );
    }

    #[test]
    fn job_bodies_are_valid_v1_jobs() {
        let job = JobV1::parse(&job_body("drill-0001"), false).unwrap();
        assert_eq!(job.job_id, "drill-0001");
    }
}
