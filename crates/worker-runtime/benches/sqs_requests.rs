//! SQS requests per job at steady load (issue 4 goal: ≤ 1.5 at batch 3).
//!
//! Runs the real runtime in-process against moto with production polling settings
//! (20 s long poll, batch `SQS_BATCH_SIZE`, 1 s ack linger) and a handler that takes
//! `JOB_MS`. Every HTTP request the SQS client sends (retries included) is counted by an
//! SDK interceptor, by operation. The window excludes start-up and the final empty polls:
//! it runs from the 10th to the 90th percentile of completions, while the backlog never
//! empties. Run with `cargo bench -p facerec-worker-runtime --bench sqs_requests`
//! (scripts/bench-worker.sh does).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use facerec_test_support::sdk_config;
use facerec_test_support::worker_runtime::{job, Backend, TestHandler};
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
use facerec_worker_runtime::{Runtime, RuntimeConfig};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default, Clone)]
struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown")
            .trim_start_matches("AmazonSQS.")
            .to_string();
        *self.0.lock().unwrap().entry(op).or_default() += 1;
        Ok(())
    }
}

impl RequestCounter {
    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }
}

async fn measure(jobs: usize, job_ms: u64, batch: u32, parallelism: usize, result_queue: bool) {
    let backend = Backend::sqs().await;
    let Backend::Sqs {
        moto,
        s3,
        bucket,
        sqs: admin,
        ..
    } = &backend
    else {
        unreachable!()
    };
    let bodies: Vec<String> = (0..jobs)
        .map(|i| job(&format!("b-{i:05}"), job_ms))
        .collect();
    backend.send(&bodies).await;

    let counter = RequestCounter::default();
    let cfg = sdk_config(&moto.endpoint).await;
    let config = RuntimeConfig {
        batch_size: batch,
        parallelism,
        ..RuntimeConfig::default()
    };
    let sqs = facerec_worker_runtime::aws::sqs_client(&cfg, config.wait_time);
    let sqs = aws_sdk_sqs::Client::from_conf(
        sqs.config()
            .to_builder()
            .interceptor(counter.clone())
            .build(),
    );
    let mut sinks = ResultSinks::default().with_s3(
        s3.clone(),
        S3Prefix::parse(&format!("s3://{bucket}/results")).unwrap(),
    );
    let mut label = "results to S3 prefix";
    if result_queue {
        let url = admin
            .create_queue()
            .queue_name("results")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        sinks = sinks.with_queue(sqs.clone(), url);
        label = "results to S3 prefix + result queue";
    }
    let queue = backend.sqs_queue(sqs);
    let _: &SqsQueue = &queue;
    let runtime = Runtime::new(queue, TestHandler::default(), sinks, config);
    let stats = runtime.stats();
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runtime.run(stop.clone()));

    let lo = (jobs / 10) as u64;
    let hi = (jobs * 9 / 10) as u64;
    let wait_for = |n: u64| {
        let stats = stats.clone();
        async move {
            while stats.succeeded.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(lo).await;
    let (start_counts, t0) = (counter.snapshot(), Instant::now());
    wait_for(hi).await;
    let (end_counts, elapsed) = (counter.snapshot(), t0.elapsed());
    stop.cancel();
    handle.await.unwrap();

    let window_jobs = hi - lo;
    let mut total = 0u64;
    let mut per_op = Vec::new();
    for (op, n) in &end_counts {
        let d = n - start_counts.get(op).copied().unwrap_or(0);
        if d > 0 {
            per_op.push(format!("{op} {:.3}", d as f64 / window_jobs as f64));
            total += d;
        }
    }
    println!(
        "| {label} | {batch} | {parallelism} | {job_ms} | {window_jobs} | {:.3} | {} | {:.1} |",
        total as f64 / window_jobs as f64,
        per_op.join(", "),
        window_jobs as f64 / elapsed.as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; ignore arguments.
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    println!("| configuration | batch | parallelism | job ms | jobs in window | SQS requests/job | by operation (per job) | jobs/s |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    measure(jobs, 100, 3, 3, false).await;
    measure(jobs, 100, 3, 3, true).await;
    measure(jobs, 100, 3, 6, false).await;
}
