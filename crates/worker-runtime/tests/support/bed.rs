//! The in-process test bed of `tests/behaviour.rs` and `tests/behaviour_sqs.rs`: a fast
//! runtime configuration and workers started on a backend, with their stop handles.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

pub use facerec_worker_runtime::emf::EmfEmitter;
pub use facerec_worker_runtime::health::HealthFile;
pub use facerec_worker_runtime::memory_gate::MemoryGate;
pub use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
pub use facerec_worker_runtime::runtime::RuntimeStats;
pub use facerec_worker_runtime::task_protection::TaskProtection;
pub use facerec_worker_runtime::{RunSummary, Runtime, RuntimeConfig};
pub use std::sync::atomic::Ordering;
pub use std::sync::Arc;
pub use std::time::Duration;
pub use tokio::task::JoinHandle;
pub use tokio_util::sync::CancellationToken;

pub use super::*;

pub fn fast_config() -> RuntimeConfig {
    RuntimeConfig {
        batch_size: 3,
        parallelism: 4,
        wait_time: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(200),
        max_receive_count: MAX_RECEIVE_COUNT,
        retry_backoff_base: Duration::ZERO,
        retry_backoff_max: Duration::from_secs(1),
        stop_deadline: Duration::from_secs(5),
        stop_grace: Duration::from_secs(2),
        ack_linger: Duration::from_millis(100),
        queue_retry_max: Duration::from_secs(1),
        memory_poll_interval: Duration::from_millis(100),
        protection_interval: Duration::from_millis(100),
        job_timeout: Some(Duration::from_secs(60)),
        health_interval: Duration::from_millis(100),
        probe_interval: Duration::from_millis(500),
    }
}

pub struct Running {
    pub handle: JoinHandle<RunSummary>,
    pub stats: Arc<RuntimeStats>,
    pub stop: CancellationToken,
    pub handler: TestHandler,
}

impl Running {
    pub async fn stop(self) -> (RunSummary, Arc<RuntimeStats>) {
        self.stop.cancel();
        (self.handle.await.unwrap(), self.stats)
    }
}

/// Start an in-process runtime on `backend`; `endpoint` overrides the SQS/S3 endpoint
/// (the outage proxy). `tweak` adds memory gate / protection.
pub async fn start(
    backend: &Backend,
    config: RuntimeConfig,
    endpoint: Option<&str>,
    tweak: impl FnOnce(Runtime<AnyQueue, TestHandler>) -> Runtime<AnyQueue, TestHandler>,
) -> Running {
    start_with(
        backend,
        config,
        endpoint,
        TestHandler::default(),
        |s| s,
        tweak,
    )
    .await
}

/// [`start`] with a given handler (shared execution counts) and extra result sinks.
pub async fn start_with(
    backend: &Backend,
    config: RuntimeConfig,
    endpoint: Option<&str>,
    handler: TestHandler,
    sinks_tweak: impl FnOnce(ResultSinks) -> ResultSinks,
    tweak: impl FnOnce(Runtime<AnyQueue, TestHandler>) -> Runtime<AnyQueue, TestHandler>,
) -> Running {
    let stop = CancellationToken::new();
    let (queue, sinks) = match backend {
        Backend::Sqs { bucket, .. } => {
            let ep = endpoint.unwrap_or(backend.endpoint().unwrap());
            let cfg = sdk_config(ep).await;
            let sqs = facerec_worker_runtime::aws::sqs_client(&cfg, config.wait_time);
            let s3 = facerec_worker_runtime::aws::s3_client(&cfg);
            let sinks = ResultSinks::default().with_s3(
                s3,
                S3Prefix::parse(&format!("s3://{bucket}/results")).unwrap(),
            );
            (AnyQueue::Sqs(backend.sqs_queue(sqs)), sinks)
        }
        Backend::Embedded { .. } => (
            AnyQueue::Embedded(backend.embedded_queue()),
            backend.sinks(),
        ),
    };
    let runtime = tweak(Runtime::new(
        queue,
        handler.clone(),
        sinks_tweak(sinks),
        config,
    ));
    let stats = runtime.stats();
    let handle = tokio::spawn(runtime.run(stop.clone()));
    Running {
        handle,
        stats,
        stop,
        handler,
    }
}

pub fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Both queue types behind one type, so the in-process helpers stay monomorphic.
pub enum AnyQueue {
    Sqs(facerec_worker_runtime::queue::sqs::SqsQueue),
    Embedded(facerec_worker_runtime::queue::embedded::EmbeddedQueue),
}

pub use facerec_worker_runtime::queue::{
    BatchFailure, DeadLetterReason, JobQueue, QueueError, ReceivedMessage, VisibilityChange,
};

impl JobQueue for AnyQueue {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        match self {
            AnyQueue::Sqs(q) => q.receive(max, wait, visibility).await,
            AnyQueue::Embedded(q) => q.receive(max, wait, visibility).await,
        }
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<BatchFailure>, QueueError> {
        match self {
            AnyQueue::Sqs(q) => q.delete_batch(receipts).await,
            AnyQueue::Embedded(q) => q.delete_batch(receipts).await,
        }
    }
    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<Vec<BatchFailure>, QueueError> {
        match self {
            AnyQueue::Sqs(q) => q.change_visibility_batch(changes).await,
            AnyQueue::Embedded(q) => q.change_visibility_batch(changes).await,
        }
    }
    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<(), QueueError> {
        match self {
            AnyQueue::Sqs(q) => q.dead_letter(message, reason).await,
            AnyQueue::Embedded(q) => q.dead_letter(message, reason).await,
        }
    }
}
