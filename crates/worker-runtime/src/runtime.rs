//! The consume loop: receive → run (bounded) → store result → batched delete, with a
//! visibility heartbeat, retries by visibility backoff, explicit dead-lettering and a
//! deadline-bound graceful shutdown.
//!
//! Every received message is *tracked* from receive until its fate is settled (deleted,
//! dead-lettered, given a backoff visibility, or released). The [`VisibilityHeartbeat`]
//! extends every tracked message, so nothing we hold is redelivered behind our back —
//! including finished jobs whose delete is still batching. A message's state moves
//! `Waiting → Running → Completed` under one lock, which is what lets shutdown release
//! exactly the unfinished ones, once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backoff::{exponential, RetryPacer};
use crate::emf::{EmfEmitter, JobMetrics};
use crate::handler::{ErrorKind, JobError, JobHandler};
use crate::health::HealthFile;
use crate::memory_gate::MemoryGate;
use crate::queue::{DeadLetterReason, JobQueue, ReceivedMessage, VisibilityChange};
use crate::results::{ResultSinks, StoredResult};
use crate::task_protection::TaskProtection;

/// Tunables of the consume loop. [`RuntimeConfig::default`] is production; tests shrink
/// the durations.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Messages per receive (1..=10); the plan's `SQS_BATCH_SIZE`.
    pub batch_size: u32,
    /// Jobs run at once.
    pub parallelism: usize,
    /// Long-poll wait per receive (SQS maximum 20 s).
    pub wait_time: Duration,
    pub visibility_timeout: Duration,
    /// How often the heartbeat looks at tracked messages; each is extended once half its
    /// visibility has elapsed.
    pub heartbeat_interval: Duration,
    /// Deliveries before a transiently failing job is dead-lettered.
    pub max_receive_count: u32,
    /// Visibility after the n-th transient failure: `base * 2^(n-1)`, capped.
    pub retry_backoff_base: Duration,
    pub retry_backoff_max: Duration,
    /// From stop request to exit: ECS stopTimeout minus a safety margin.
    pub stop_deadline: Duration,
    /// How long a finished job may wait for others to share its delete batch.
    pub ack_linger: Duration,
    /// Cap on the pause between failed queue calls.
    pub queue_retry_max: Duration,
    /// How often a memory-gated worker re-reads the cgroup.
    pub memory_poll_interval: Duration,
    /// How often task protection is brought in line with busy/idle.
    pub protection_interval: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            batch_size: 3,
            parallelism: 1,
            wait_time: Duration::from_secs(20),
            visibility_timeout: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(10),
            max_receive_count: 5,
            retry_backoff_base: Duration::from_secs(5),
            retry_backoff_max: Duration::from_secs(300),
            stop_deadline: Duration::from_secs(110),
            ack_linger: Duration::from_secs(1),
            queue_retry_max: Duration::from_secs(10),
            memory_poll_interval: Duration::from_secs(1),
            protection_interval: Duration::from_secs(1),
        }
    }
}

/// Counters, readable while running (tests, benchmarks, logs).
#[derive(Debug, Default)]
pub struct RuntimeStats {
    pub receive_calls: AtomicU64,
    pub received: AtomicU64,
    pub succeeded: AtomicU64,
    /// Redelivered jobs whose result already existed: acknowledged without rerunning.
    pub already_done: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub released: AtomicU64,
    pub delete_calls: AtomicU64,
    pub visibility_calls: AtomicU64,
    pub heartbeat_extensions: AtomicU64,
    pub queue_errors: AtomicU64,
    pub memory_gated: AtomicU64,
}

impl RuntimeStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub succeeded: u64,
    pub dead_lettered: u64,
    /// Unfinished messages handed back (visibility 0) at shutdown.
    pub released: u64,
    /// True when the deadline cut running jobs short.
    pub deadline_hit: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Completed,
}

struct Tracked {
    state: State,
    visible_until: Instant,
}

struct Shared<Q, H> {
    queue: Q,
    handler: H,
    sinks: ResultSinks,
    config: RuntimeConfig,
    stats: Arc<RuntimeStats>,
    emf: Option<Arc<EmfEmitter>>,
    tracked: Mutex<HashMap<String, Tracked>>,
    /// Jobs Waiting or Running (not yet Completed): what bounds receiving.
    active: AtomicUsize,
    capacity: Notify,
    run_slots: Arc<Semaphore>,
}

struct Ack {
    receipt: String,
    result: Option<StoredResult>,
}

/// The worker runtime for one queue and one handler.
pub struct Runtime<Q: JobQueue, H: JobHandler> {
    shared: Arc<Shared<Q, H>>,
    memory_gate: Option<MemoryGate>,
    protection: TaskProtection,
    health: Option<HealthFile>,
    ready: Arc<Notify>,
}

impl<Q: JobQueue, H: JobHandler> Runtime<Q, H> {
    pub fn new(queue: Q, handler: H, sinks: ResultSinks, config: RuntimeConfig) -> Self {
        let slots = config.parallelism.max(1);
        Self {
            shared: Arc::new(Shared {
                queue,
                handler,
                sinks,
                run_slots: Arc::new(Semaphore::new(slots)),
                config,
                stats: Arc::new(RuntimeStats::default()),
                emf: None,
                tracked: Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                capacity: Notify::new(),
            }),
            memory_gate: None,
            protection: TaskProtection::new(None, Duration::ZERO).expect("no agent"),
            health: None,
            ready: Arc::new(Notify::new()),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared<Q, H> {
        Arc::get_mut(&mut self.shared).expect("configured before run")
    }

    pub fn with_memory_gate(mut self, gate: MemoryGate) -> Self {
        self.memory_gate = Some(gate);
        self
    }

    pub fn with_task_protection(mut self, p: TaskProtection) -> Self {
        self.protection = p;
        self
    }

    pub fn with_health_file(mut self, h: HealthFile) -> Self {
        self.health = Some(h);
        self
    }

    pub fn with_emf(mut self, emf: EmfEmitter) -> Self {
        self.shared_mut().emf = Some(Arc::new(emf));
        self
    }

    pub fn stats(&self) -> Arc<RuntimeStats> {
        self.shared.stats.clone()
    }

    /// Notified once, when the first receive is issued (start-to-ready measurement).
    pub fn ready_signal(&self) -> Arc<Notify> {
        self.ready.clone()
    }

    /// Consume until `stop` is cancelled (signal, Spot notice, caller), then shut down
    /// within `config.stop_deadline`.
    pub async fn run(self, stop: CancellationToken) -> RunSummary {
        let Runtime {
            shared,
            memory_gate,
            mut protection,
            health,
            ready,
        } = self;
        let hard_stop = CancellationToken::new();
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Ack>();

        let heartbeat_stop = CancellationToken::new();
        let heartbeat = tokio::spawn(
            VisibilityHeartbeat {
                shared: shared.clone(),
            }
            .run(heartbeat_stop.clone()),
        );
        let acker = tokio::spawn(ack_loop(shared.clone(), ack_rx, hard_stop.clone()));
        let protection_stop = CancellationToken::new();
        let protection_task = {
            let shared = shared.clone();
            let stop = protection_stop.clone();
            tokio::spawn(async move {
                if protection.is_active() {
                    loop {
                        let busy = !shared.tracked.lock().unwrap().is_empty();
                        protection.sync(busy).await;
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(shared.config.protection_interval) => {}
                        }
                    }
                    protection.sync(false).await;
                }
            })
        };

        let mut jobs = JoinSet::new();
        let mut pacer = RetryPacer::new(Duration::from_millis(100), shared.config.queue_retry_max);
        let mut gated_logged = false;
        let mut first = true;
        tracing::info!(
            batch_size = shared.config.batch_size,
            parallelism = shared.config.parallelism,
            visibility_timeout_s = shared.config.visibility_timeout.as_secs(),
            "worker runtime started"
        );
        while !stop.is_cancelled() {
            if let Some(h) = &health {
                h.touch();
            }
            // Reap finished job tasks so the set stays small.
            while jobs.try_join_next().is_some() {}

            if let Some(reading) = memory_gate.as_ref().and_then(|g| g.over_threshold()) {
                shared.stats.memory_gated.fetch_add(1, Ordering::Relaxed);
                if !gated_logged {
                    tracing::warn!(
                        used = reading.used_bytes,
                        limit = reading.limit_bytes,
                        "memory above threshold: not receiving"
                    );
                    gated_logged = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(shared.config.memory_poll_interval) => continue,
                }
            }
            if gated_logged {
                tracing::info!("memory back under threshold: receiving again");
                gated_logged = false;
            }

            // Bounded parallelism: receive only while a run slot is free.
            loop {
                let notified = shared.capacity.notified();
                if shared.active.load(Ordering::SeqCst) < shared.config.parallelism.max(1) {
                    break;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = notified => {}
                }
            }
            if stop.is_cancelled() {
                break;
            }

            if first {
                ready.notify_one();
                first = false;
            }
            shared.stats.receive_calls.fetch_add(1, Ordering::Relaxed);
            let received = tokio::select! {
                // A receive cut short here may leave messages invisible until their
                // visibility expires; they are not lost, only delayed.
                _ = stop.cancelled() => break,
                r = shared.queue.receive(
                    shared.config.batch_size,
                    shared.config.wait_time,
                    shared.config.visibility_timeout,
                ) => r,
            };
            match received {
                Ok(messages) => {
                    pacer.reset();
                    let now = Instant::now();
                    for m in messages {
                        shared.stats.received.fetch_add(1, Ordering::Relaxed);
                        shared.tracked.lock().unwrap().insert(
                            m.receipt.clone(),
                            Tracked {
                                state: State::Waiting,
                                visible_until: now + shared.config.visibility_timeout,
                            },
                        );
                        shared.active.fetch_add(1, Ordering::SeqCst);
                        jobs.spawn(process(
                            shared.clone(),
                            m,
                            stop.clone(),
                            hard_stop.clone(),
                            ack_tx.clone(),
                        ));
                    }
                }
                Err(e) => {
                    shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                    let delay = pacer.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "receive failed");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }

        // ---- shutdown ----
        let deadline = Instant::now() + shared.config.stop_deadline;
        tracing::info!(
            deadline_s = shared.config.stop_deadline.as_secs_f64(),
            "stop requested: receiving stopped, finishing running jobs"
        );
        // Jobs not started yet go straight back to the queue for another worker.
        let mut released = release_where(&shared, State::Waiting).await;

        let mut deadline_hit = false;
        loop {
            let notified = shared.capacity.notified();
            if shared.active.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                deadline_hit = true;
                break;
            }
        }
        if deadline_hit {
            tracing::warn!("stop deadline reached: releasing unfinished jobs");
            hard_stop.cancel();
            released += release_where(&shared, State::Running).await;
        }
        // Job tasks react to hard_stop at once; wait for them so every ack is queued.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while jobs.join_next().await.is_some() {}
        })
        .await;
        drop(ack_tx);
        // The ack loop flushes what is queued and ends when the channel closes.
        let flush_budget = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(2));
        if tokio::time::timeout(flush_budget, acker).await.is_err() {
            tracing::warn!("final result/delete flush did not finish in time");
        }
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
        protection_stop.cancel();
        let _ = protection_task.await;

        let stats = &shared.stats;
        let summary = RunSummary {
            succeeded: RuntimeStats::get(&stats.succeeded),
            dead_lettered: RuntimeStats::get(&stats.dead_lettered),
            released,
            deadline_hit,
        };
        tracing::info!(?summary, "worker runtime stopped");
        summary
    }
}

/// Release (visibility 0) every tracked message in `state`, in batches; returns how many.
async fn release_where<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, state: State) -> u64 {
    let receipts: Vec<String> = {
        let mut tracked = shared.tracked.lock().unwrap();
        let r: Vec<String> = tracked
            .iter()
            .filter(|(_, t)| t.state == state)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &r {
            tracked.remove(k);
        }
        r
    };
    if receipts.is_empty() {
        return 0;
    }
    // These jobs no longer hold a slot.
    shared.active.fetch_sub(receipts.len(), Ordering::SeqCst);
    shared.capacity.notify_waiters();
    let changes: Vec<VisibilityChange> = receipts
        .iter()
        .map(|r| VisibilityChange {
            receipt: r.clone(),
            timeout: Duration::ZERO,
        })
        .collect();
    for chunk in changes.chunks(10) {
        shared
            .stats
            .visibility_calls
            .fetch_add(1, Ordering::Relaxed);
        // A failed release only delays redelivery to the visibility timeout.
        if let Err(e) = shared.queue.change_visibility_batch(chunk).await {
            tracing::warn!(error = %e, "release at shutdown failed; messages reappear after their visibility timeout");
        }
    }
    shared
        .stats
        .released
        .fetch_add(receipts.len() as u64, Ordering::Relaxed);
    tracing::info!(count = receipts.len(), state = ?state, "released unfinished messages");
    receipts.len() as u64
}

/// Mark a tracked message's job as no longer active.
fn finish_active<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>) {
    shared.active.fetch_sub(1, Ordering::SeqCst);
    shared.capacity.notify_waiters();
}

/// Settle a message outside the ack path (dead-letter / backoff): drop it from tracking
/// unless shutdown already released it. Returns false if it was already released.
fn untrack<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, receipt: &str) -> bool {
    let removed = shared.tracked.lock().unwrap().remove(receipt).is_some();
    if removed {
        finish_active(shared);
    }
    removed
}

async fn process<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    msg: ReceivedMessage,
    stop: CancellationToken,
    hard_stop: CancellationToken,
    ack_tx: mpsc::UnboundedSender<Ack>,
) {
    // Wait for a run slot; shutdown releases waiting jobs itself.
    let permit = tokio::select! {
        p = shared.run_slots.clone().acquire_owned() => p.expect("semaphore never closed"),
        _ = stop.cancelled() => return,
    };
    {
        let mut tracked = shared.tracked.lock().unwrap();
        match tracked.get_mut(&msg.receipt) {
            Some(t) if !stop.is_cancelled() => t.state = State::Running,
            _ => return, // released by shutdown
        }
    }
    let started = Instant::now();
    let queue_wait = msg
        .sent_at
        .and_then(|s| SystemTime::now().duration_since(s).ok());

    let job = match shared.handler.parse(&msg.body) {
        Ok(job) => job,
        Err(e) => {
            drop(permit);
            fail(
                &shared,
                &msg,
                JobError {
                    kind: ErrorKind::Permanent,
                    ..e
                },
                started,
                queue_wait,
            )
            .await;
            return;
        }
    };
    let job_id = H::job_id(&job).to_string();
    tracing::info!(job_id = %job_id, receive_count = msg.receive_count, "job started");

    // Idempotency: a redelivered job whose result is stored is acknowledged, not rerun.
    match shared.sinks.exists(&job_id).await {
        Ok(true) => {
            drop(permit);
            shared.stats.already_done.fetch_add(1, Ordering::Relaxed);
            tracing::info!(job_id = %job_id, "result already stored; acknowledging redelivery");
            complete(&shared, &msg, None, &ack_tx);
            return;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(job_id = %job_id, error = %e, "result existence check failed; running the job")
        }
    }

    let outcome = tokio::select! {
        r = shared.handler.handle(job) => Some(r),
        _ = hard_stop.cancelled() => None,
    };
    drop(permit);
    let duration = started.elapsed();
    match outcome {
        None => {} // deadline: shutdown releases Running messages itself
        Some(Ok(out)) => {
            let stored = StoredResult {
                job_id: job_id.clone(),
                body: out.result.to_string(),
            };
            if !complete(&shared, &msg, Some(stored), &ack_tx) {
                return; // released by shutdown meanwhile; another worker redoes it
            }
            shared.stats.succeeded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(job_id = %job_id, duration_ms = duration.as_millis() as u64, faces = out.faces_found, "job succeeded");
            if let Some(emf) = &shared.emf {
                emf.emit(&JobMetrics {
                    succeeded: true,
                    duration,
                    queue_wait,
                    faces_found: out.faces_found,
                    error_code: None,
                });
            }
        }
        Some(Err(e)) => fail(&shared, &msg, e, started, queue_wait).await,
    }
}

/// Hand a finished message to the ack batcher. False if shutdown released it meanwhile.
fn complete<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    msg: &ReceivedMessage,
    result: Option<StoredResult>,
    ack_tx: &mpsc::UnboundedSender<Ack>,
) -> bool {
    {
        let mut tracked = shared.tracked.lock().unwrap();
        match tracked.get_mut(&msg.receipt) {
            Some(t) => t.state = State::Completed,
            None => return false,
        }
    }
    finish_active(shared);
    // The ack loop outlives every job task, so the send cannot fail while we run.
    let _ = ack_tx.send(Ack {
        receipt: msg.receipt.clone(),
        result,
    });
    true
}

async fn fail<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    msg: &ReceivedMessage,
    e: JobError,
    started: Instant,
    queue_wait: Option<Duration>,
) {
    let config = &shared.config;
    let to_dlq = match e.kind {
        ErrorKind::Permanent => Some(DeadLetterReason {
            code: e.code.clone(),
            detail: e.detail.clone(),
        }),
        ErrorKind::Transient if msg.receive_count >= config.max_receive_count => {
            Some(DeadLetterReason {
                code: "max_receive_count_exceeded".into(),
                detail: format!(
                    "failed on all {} deliveries; last error {}: {}",
                    msg.receive_count, e.code, e.detail
                ),
            })
        }
        ErrorKind::Transient => None,
    };
    if let Some(emf) = &shared.emf {
        emf.emit(&JobMetrics {
            succeeded: false,
            duration: started.elapsed(),
            queue_wait,
            faces_found: 0,
            error_code: Some(e.code.clone()),
        });
    }
    if let Some(reason) = to_dlq {
        match shared.queue.dead_letter(msg, &reason).await {
            Ok(()) => {
                shared.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(message_id = %msg.message_id, reason = %reason.code, detail = %reason.detail, "message dead-lettered");
                untrack(shared, &msg.receipt);
                return;
            }
            Err(err) => {
                // Never drop: fall through to a backoff so it comes back and tries again.
                tracing::error!(message_id = %msg.message_id, error = %err, "dead-lettering failed; retrying later");
            }
        }
    }
    let backoff = exponential(
        config.retry_backoff_base,
        config.retry_backoff_max,
        msg.receive_count.max(1),
    );
    if !untrack(shared, &msg.receipt) {
        return;
    }
    shared.stats.retried.fetch_add(1, Ordering::Relaxed);
    shared
        .stats
        .visibility_calls
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(message_id = %msg.message_id, error = %e, retry_in_s = backoff.as_secs(), "job failed; will retry");
    let change = [VisibilityChange {
        receipt: msg.receipt.clone(),
        timeout: backoff,
    }];
    if let Err(err) = shared.queue.change_visibility_batch(&change).await {
        // The message comes back when its current visibility expires instead.
        tracing::warn!(error = %err, "setting retry backoff failed");
    }
}

/// Batches finished jobs: store their results, then delete their messages — at most one
/// delete call per 10 jobs, or per linger period, or when nothing else is running.
async fn ack_loop<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    mut rx: mpsc::UnboundedReceiver<Ack>,
    hard_stop: CancellationToken,
) {
    let mut pending: Vec<Ack> = Vec::new();
    let mut oldest = Instant::now();
    loop {
        let linger_left = shared.config.ack_linger.saturating_sub(oldest.elapsed());
        let closed = tokio::select! {
            a = rx.recv() => match a {
                Some(a) => {
                    if pending.is_empty() {
                        oldest = Instant::now();
                    }
                    pending.push(a);
                    false
                }
                None => true,
            },
            _ = tokio::time::sleep(linger_left), if !pending.is_empty() => false,
        };
        let idle = shared.active.load(Ordering::SeqCst) == 0;
        if !pending.is_empty()
            && (closed
                || idle
                || pending.len() >= 10
                || oldest.elapsed() >= shared.config.ack_linger)
        {
            flush(&shared, std::mem::take(&mut pending), &hard_stop).await;
        }
        if closed {
            return;
        }
    }
}

async fn flush<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    acks: Vec<Ack>,
    hard_stop: &CancellationToken,
) {
    let results: Vec<StoredResult> = acks.iter().filter_map(|a| a.result.clone()).collect();
    let mut pacer = RetryPacer::new(Duration::from_millis(100), shared.config.queue_retry_max);
    // Results first: a message is deleted only once its result is durable.
    if !results.is_empty() {
        loop {
            match shared.sinks.store(&results).await {
                Ok(()) => break,
                Err(e) if hard_stop.is_cancelled() => {
                    tracing::error!(error = %e, "storing results failed at shutdown; releasing their messages");
                    let receipts: Vec<String> = acks.iter().map(|a| a.receipt.clone()).collect();
                    let changes: Vec<VisibilityChange> = receipts
                        .iter()
                        .map(|r| VisibilityChange {
                            receipt: r.clone(),
                            timeout: Duration::ZERO,
                        })
                        .collect();
                    for c in changes.chunks(10) {
                        let _ = shared.queue.change_visibility_batch(c).await;
                    }
                    forget(shared, &receipts);
                    return;
                }
                Err(e) => {
                    shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                    let d = pacer.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "storing results failed");
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = hard_stop.cancelled() => {}
                    }
                }
            }
        }
    }
    let receipts: Vec<String> = acks.iter().map(|a| a.receipt.clone()).collect();
    for chunk in receipts.chunks(10) {
        pacer.reset();
        loop {
            shared.stats.delete_calls.fetch_add(1, Ordering::Relaxed);
            match shared.queue.delete_batch(chunk).await {
                Ok(failures) => {
                    for f in failures {
                        // Stale receipt: it was redelivered; the result is stored, so the
                        // redelivery is acknowledged without rerunning.
                        tracing::warn!(error = %f.message, "delete failed for one message");
                    }
                    break;
                }
                Err(e) => {
                    shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                    if hard_stop.is_cancelled() {
                        tracing::error!(error = %e, "delete failed at shutdown; messages will be redelivered and acknowledged from the stored result");
                        break;
                    }
                    let d = pacer.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "delete failed");
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = hard_stop.cancelled() => {}
                    }
                }
            }
        }
        forget(shared, chunk);
    }
}

fn forget<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, receipts: &[String]) {
    let mut tracked = shared.tracked.lock().unwrap();
    for r in receipts {
        tracked.remove(r);
    }
}

/// Keeps every tracked message invisible while we hold it: once half of a message's
/// visibility has elapsed it is extended by a full visibility timeout, in batches of 10.
pub struct VisibilityHeartbeat<Q: JobQueue, H: JobHandler> {
    shared: Arc<Shared<Q, H>>,
}

impl<Q: JobQueue, H: JobHandler> VisibilityHeartbeat<Q, H> {
    async fn run(self, stop: CancellationToken) {
        let shared = self.shared;
        let vis = shared.config.visibility_timeout;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(shared.config.heartbeat_interval) => {}
            }
            let now = Instant::now();
            let due: Vec<String> = {
                let tracked = shared.tracked.lock().unwrap();
                tracked
                    .iter()
                    .filter(|(_, t)| t.visible_until.saturating_duration_since(now) < vis / 2)
                    .map(|(r, _)| r.clone())
                    .collect()
            };
            for chunk in due.chunks(10) {
                let changes: Vec<VisibilityChange> = chunk
                    .iter()
                    .map(|r| VisibilityChange {
                        receipt: r.clone(),
                        timeout: vis,
                    })
                    .collect();
                shared
                    .stats
                    .visibility_calls
                    .fetch_add(1, Ordering::Relaxed);
                let sent_at = Instant::now();
                match shared.queue.change_visibility_batch(&changes).await {
                    Ok(failures) => {
                        let failed: std::collections::HashSet<&str> =
                            failures.iter().map(|f| f.receipt.as_str()).collect();
                        let mut tracked = shared.tracked.lock().unwrap();
                        for r in chunk {
                            if failed.contains(r.as_str()) {
                                continue;
                            }
                            if let Some(t) = tracked.get_mut(r) {
                                t.visible_until = sent_at + vis;
                                shared
                                    .stats
                                    .heartbeat_extensions
                                    .fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        for f in &failures {
                            tracing::warn!(error = %f.message, "heartbeat could not extend a message");
                        }
                    }
                    Err(e) => {
                        shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "heartbeat failed; retrying next tick");
                    }
                }
            }
        }
    }
}
