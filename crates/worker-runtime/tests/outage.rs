//! Dependency outages (issue 18): two in-process workers on moto, SQS and S3 each behind
//! a fault-injecting proxy (facerec_test_support::FaultProxy), jobs arriving during the
//! outage. Scaled down from production (visibility 10 s instead of 60 s, outages of 5 s
//! and 20 s: shorter and longer than the visibility timeout) so each drill takes well
//! under a minute. Every drill asserts the goals: nothing dead-lettered or lost,
//! no job run twice when the outage is shorter than the visibility timeout (at most once
//! more otherwise), the outage noticed within 10 s, the first result within 5 s of the
//! dependency's return.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use facerec_test_support::{sdk_config, Fault, FaultProxy};
use facerec_worker_runtime::dependency::{Breakers, Dependency};
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
use facerec_worker_runtime::runtime::RuntimeStats;
use facerec_worker_runtime::{JobError, JobHandler, JobOutput, RunSummary, Runtime, RuntimeConfig};
use support::*;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const VISIBILITY: Duration = Duration::from_secs(10);

fn drill_config() -> RuntimeConfig {
    RuntimeConfig {
        batch_size: 3,
        parallelism: 2,
        wait_time: Duration::from_secs(1),
        visibility_timeout: VISIBILITY,
        heartbeat_interval: Duration::from_millis(500),
        // The drill: FACEREC_MAX_RECEIVE_COUNT 2 under a redrive limit above it.
        max_receive_count: 2,
        retry_backoff_base: Duration::from_secs(1),
        retry_backoff_max: Duration::from_secs(4),
        stop_deadline: Duration::from_secs(5),
        stop_grace: Duration::from_secs(3),
        ack_linger: Duration::from_millis(100),
        queue_retry_max: Duration::from_secs(1),
        memory_poll_interval: Duration::from_millis(100),
        protection_interval: Duration::from_millis(100),
        job_timeout: Some(Duration::from_secs(60)),
        health_interval: Duration::from_millis(200),
        probe_interval: Duration::from_millis(500),
    }
}

/// The test handler behind a read of the job's input from S3 (through the proxy), like
/// the recognition handler: S3 being down is `unavailable`, and only a job whose input
/// was read counts as an execution.
#[derive(Clone)]
struct S3InputHandler {
    inner: TestHandler,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl JobHandler for S3InputHandler {
    type Job = <TestHandler as JobHandler>::Job;

    fn parse(&self, body: &str) -> Result<Self::Job, JobError> {
        self.inner.parse(body)
    }

    fn job_id(job: &Self::Job) -> &str {
        TestHandler::job_id(job)
    }

    async fn handle(&self, job: Self::Job) -> Result<JobOutput, JobError> {
        self.s3
            .get_object()
            .bucket(&self.bucket)
            .key("inputs/image")
            .send()
            .await
            .map_err(|e| {
                JobError::unavailable(
                    Dependency::S3,
                    "s3_unavailable",
                    facerec_aws_support::chain(&e),
                )
            })?
            .body
            .collect()
            .await
            .map_err(|e| JobError::unavailable(Dependency::S3, "s3_unavailable", e.to_string()))?;
        self.inner.handle(job).await
    }
}

struct Worker {
    handle: JoinHandle<RunSummary>,
    stats: Arc<RuntimeStats>,
    deps: Arc<Breakers>,
    stop: CancellationToken,
}

struct Bed {
    backend: Backend,
    sqs: FaultProxy,
    s3: FaultProxy,
    handler: TestHandler,
}

impl Bed {
    async fn new() -> Bed {
        let backend = Backend::sqs().await;
        let Backend::Sqs { s3, bucket, .. } = &backend else {
            unreachable!()
        };
        s3.put_object()
            .bucket(bucket)
            .key("inputs/image")
            .body(b"an image".to_vec().into())
            .send()
            .await
            .unwrap();
        let endpoint = backend.endpoint().unwrap().to_string();
        Bed {
            sqs: FaultProxy::start(&endpoint).await,
            s3: FaultProxy::start(&endpoint).await,
            backend,
            handler: TestHandler::default(),
        }
    }

    async fn worker(&self, config: RuntimeConfig) -> Worker {
        let sqs_cfg = sdk_config(&self.sqs.endpoint).await;
        let s3_cfg = sdk_config(&self.s3.endpoint).await;
        let Backend::Sqs { bucket, .. } = &self.backend else {
            unreachable!()
        };
        let queue: SqsQueue = self
            .backend
            .sqs_queue(facerec_worker_runtime::aws::sqs_client(
                &sqs_cfg,
                config.wait_time,
            ))
            .with_call_client(facerec_worker_runtime::aws::sqs_call_client(&sqs_cfg));
        let s3 = facerec_worker_runtime::aws::s3_client(&s3_cfg);
        let sinks = ResultSinks::default().with_s3(
            s3.clone(),
            S3Prefix::parse(&format!("s3://{bucket}/results")).unwrap(),
        );
        let handler = S3InputHandler {
            inner: self.handler.clone(),
            s3,
            bucket: bucket.clone(),
        };
        let runtime = Runtime::new(queue, handler, sinks, config);
        let stats = runtime.stats();
        let deps = runtime.dependencies();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(runtime.run(stop.clone()));
        Worker {
            handle,
            stats,
            deps,
            stop,
        }
    }
}

/// What a drill measured.
#[derive(Debug)]
struct Drill {
    /// From the fault to the first worker's breaker opening.
    noticed: Option<Duration>,
    /// From the fault's end to the first new result.
    first_result: Option<Duration>,
    executions: BTreeMap<String, u32>,
    dead_letters: usize,
    results: usize,
    dependency_waits: u64,
    summaries: Vec<RunSummary>,
}

/// Two workers; 24 jobs, `fault` on (`sqs`, `s3`) for `outage` with 12 more jobs sent
/// during it, then back; every job done.
async fn drill(sqs_fault: Option<Fault>, s3_fault: Option<Fault>, outage: Duration) -> Drill {
    drill_with(drill_config(), sqs_fault, s3_fault, outage).await
}

async fn drill_with(
    config: RuntimeConfig,
    sqs_fault: Option<Fault>,
    s3_fault: Option<Fault>,
    outage: Duration,
) -> Drill {
    let bed = Bed::new().await;
    let first: Vec<String> = (0..24).map(|i| job(&format!("a-{i:02}"), 150)).collect();
    bed.backend.send(&first).await;
    let workers = [bed.worker(config.clone()).await, bed.worker(config).await];
    assert!(
        bed.backend
            .wait_for(Duration::from_secs(20), |r, _| r.len() >= 4)
            .await,
        "warm-up"
    );
    let faulted_at = Instant::now();
    if let Some(f) = sqs_fault {
        bed.sqs.set(f);
    }
    if let Some(f) = s3_fault {
        bed.s3.set(f);
    }
    let second: Vec<String> = (0..12).map(|i| job(&format!("b-{i:02}"), 150)).collect();
    bed.backend.send(&second).await;
    tokio::time::sleep(outage).await;
    let before = bed.backend.result_ids().await.len();
    bed.sqs.set(Fault::Pass);
    bed.s3.set(Fault::Pass);
    let back_at = Instant::now();
    let mut first_result = None;
    let done = bed
        .backend
        .wait_for(Duration::from_secs(60), |r, c| {
            if first_result.is_none() && (r.len() > before || r.len() == 36) {
                first_result = Some(back_at.elapsed());
            }
            r.len() == 36 && c == (0, 0)
        })
        .await;
    // A black hole is seen when a call times out, which may be after a short outage ended.
    let noticed = workers
        .iter()
        .flat_map(|w| w.deps.transitions())
        .filter(|t| t.down && t.at >= faulted_at)
        .map(|t| t.at - faulted_at)
        .min();
    let mut summaries = Vec::new();
    let mut dependency_waits = 0;
    for w in workers {
        w.stop.cancel();
        summaries.push(w.handle.await.unwrap());
        dependency_waits += RuntimeStats::get(&w.stats.dependency_waits);
    }
    let results = bed.backend.result_ids().await.len();
    assert!(
        done,
        "not drained: {results} results, {:?}",
        bed.backend.counts().await
    );
    Drill {
        noticed,
        first_result,
        executions: bed.handler.executions(),
        dead_letters: bed.backend.dead_letters().await.len(),
        results,
        dependency_waits,
        summaries,
    }
}

/// The goals every drill meets; `short`: the outage was shorter than the visibility
/// timeout, so no job may run twice.
fn assert_goals(d: &Drill, short: bool) {
    eprintln!("drill: {d:?}");
    assert_eq!(d.dead_letters, 0, "nothing dead-lettered");
    assert_eq!(d.results, 36, "nothing lost");
    assert_eq!(d.executions.len(), 36);
    let most = d.executions.values().copied().max().unwrap_or(0);
    let allowed = if short { 1 } else { 2 };
    assert!(
        most <= allowed,
        "a job ran {most} times: {:?}",
        d.executions
    );
    // A short outage may pass before any call times out; a long one must be seen.
    match d.noticed {
        Some(noticed) => assert!(
            noticed <= Duration::from_secs(10),
            "noticed after {noticed:?}"
        ),
        None => assert!(short, "a long outage was never noticed"),
    }
    let first = d.first_result.expect("a result after the outage");
    assert!(
        first <= Duration::from_secs(5),
        "first result {first:?} after"
    );
    assert!(d.summaries.iter().all(|s| s.dead_lettered == 0));
}

const SHORT: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_refused_longer_than_the_visibility_timeout() {
    let d = drill(None, Some(Fault::Refuse), LONG).await;
    assert_goals(&d, false);
    assert!(d.dependency_waits > 0, "jobs were held for S3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_black_holed_shorter_than_the_visibility_timeout() {
    let d = drill(None, Some(Fault::Blackhole), SHORT).await;
    assert_goals(&d, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_black_holed_longer_than_the_visibility_timeout() {
    let d = drill(Some(Fault::Blackhole), None, LONG).await;
    assert_goals(&d, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_refused_shorter_than_the_visibility_timeout() {
    let d = drill(Some(Fault::Refuse), None, SHORT).await;
    assert_goals(&d, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_and_s3_refused_longer_than_the_visibility_timeout() {
    let d = drill(Some(Fault::Refuse), Some(Fault::Refuse), LONG).await;
    assert_goals(&d, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_and_s3_black_holed_shorter_than_the_visibility_timeout() {
    let d = drill(Some(Fault::Blackhole), Some(Fault::Blackhole), SHORT).await;
    assert_goals(&d, true);
}

/// S3 answering, but slower than the first-byte timeout: down, like a black hole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_slower_than_its_read_timeout_is_down_and_nothing_is_lost() {
    let d = drill(None, Some(Fault::Slow(Duration::from_secs(4))), LONG).await;
    assert_goals(&d, false);
}

/// S3 serving requests whose answers are lost (reset mid-response): the writes are
/// retried (idempotent by key), nothing counted against the jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_resetting_mid_response_loses_nothing() {
    let d = drill(None, Some(Fault::ResetMidResponse), SHORT).await;
    assert_goals(&d, true);
}

/// The 5-minute goal at production timings (visibility 60 s, heartbeat 10 s,
/// probe 2 s), run by hand (docs/operations.md § Dependency outages):
/// `FACEREC_DRILL_OUTAGE_S` seconds (default 300) of `FACEREC_DRILL_FAULT` (`blackhole`,
/// default, or `refuse`) on `FACEREC_DRILL_TARGET` (`both`, default, `sqs` or `s3`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "minutes long: run by hand (docs/operations.md)"]
async fn by_hand_outage_at_production_timings() {
    let env = |k: &str| std::env::var(k).ok();
    let secs = env("FACEREC_DRILL_OUTAGE_S")
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let fault = match env("FACEREC_DRILL_FAULT").as_deref() {
        Some("refuse") => Fault::Refuse,
        _ => Fault::Blackhole,
    };
    let (sqs, s3) = match env("FACEREC_DRILL_TARGET").as_deref() {
        Some("sqs") => (Some(fault), None),
        Some("s3") => (None, Some(fault)),
        _ => (Some(fault), Some(fault)),
    };
    let config = RuntimeConfig {
        visibility_timeout: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(10),
        probe_interval: Duration::from_secs(2),
        ..drill_config()
    };
    let outage = Duration::from_secs(secs);
    let d = drill_with(config, sqs, s3, outage).await;
    assert_goals(&d, outage < Duration::from_secs(60));
}

/// A stop during an outage is as quick as ever: jobs held for S3 are released
/// (visibility 0) at once for another worker, not kept until the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_while_s3_is_down_releases_the_held_jobs_at_once() {
    let bed = Bed::new().await;
    bed.s3.set(Fault::Refuse);
    let jobs: Vec<String> = (0..4).map(|i| job(&format!("s-{i}"), 0)).collect();
    bed.backend.send(&jobs).await;
    let config = drill_config();
    let w = bed.worker(config.clone()).await;
    let held = async {
        while RuntimeStats::get(&w.stats.dependency_waits) < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("jobs held for S3");
    assert!(!w.deps.is_up(Dependency::S3));
    let t = Instant::now();
    w.stop.cancel();
    let summary = w.handle.await.unwrap();
    assert!(
        t.elapsed() < config.stop_deadline,
        "took {:?}: held jobs waited for the deadline",
        t.elapsed()
    );
    assert!(!summary.deadline_hit, "{summary:?}");
    assert!(summary.released >= 2, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0);
    assert!(
        bed.handler.executions().is_empty(),
        "nothing ran without its input"
    );
    let (visible, _) = bed.backend.counts().await;
    assert!(visible >= 2, "released jobs are visible again at once");
}
