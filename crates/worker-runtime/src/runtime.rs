//! The consume loop: receive → run (bounded) → store result → batched delete, with a
//! visibility heartbeat, retries by visibility backoff, explicit dead-lettering and a
//! deadline-bound graceful shutdown.
//!
//! Every received message is *tracked* from receive until its fate is settled (deleted,
//! dead-lettered, given a backoff visibility, or released). The [`VisibilityHeartbeat`]
//! extends every tracked message, so nothing we hold is redelivered behind our back —
//! including finished jobs whose result write or delete is still pending. A message's
//! state moves `Waiting → Running → Completed` under one lock, which is what lets
//! shutdown release exactly the unfinished ones, once.
//!
//! Invariants worth knowing before changing anything here:
//!
//! * **Capacity** counts every tracked message, not only running ones: receiving needs a
//!   free run slot *and* fewer than `parallelism + batch_size` messages held. Finished
//!   jobs whose result cannot be stored therefore stop the worker from taking more work
//!   (and memory) instead of piling up invisibly.
//! * **One visibility lock** (an async mutex) is held around every visibility change
//!   together with the tracking update it belongs to — heartbeat extensions, retry
//!   backoffs, releases. A release can therefore never be overtaken by an extension that
//!   was picked before it: the extension either lands first, or finds the message no
//!   longer tracked and skips it.
//! * **A job that panics, or runs past `job_timeout`,** is a transient failure like any
//!   other (backoff, then the DLQ after `max_receive_count` deliveries): its slot is freed
//!   and its message never held forever.
//! * **Succeeded means stored:** the `succeeded` counter, the "job succeeded" log line and
//!   the `JobsSucceeded` metric are emitted after the result reached every sink.
//! * **Shutdown is bounded:** running jobs get until `stop_deadline`; results, deletes and
//!   releases get `stop_grace` more; whatever is still held then is released (visibility
//!   0) before `run` returns.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::backoff::{exponential, RetryPacer};
use crate::emf::{EmfEmitter, JobMetrics};
use crate::handler::{ErrorKind, JobError, JobHandler, JobOutput};
use crate::health::{HealthFile, HealthStatus};
use crate::memory_gate::MemoryGate;
use crate::queue::{DeadLetterReason, JobQueue, QueueError, ReceivedMessage, VisibilityChange};
use crate::results::{ResultSinks, StoreProgress, StoredResult};
use crate::task_protection::TaskProtection;

/// Tunables of the consume loop. [`RuntimeConfig::default`] is production; tests shrink
/// the durations.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Messages per receive (1..=10); the plan's (docs/plan.md) `SQS_BATCH_SIZE`.
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
    /// From stop request to cutting running jobs short: ECS stopTimeout minus a margin.
    pub stop_deadline: Duration,
    /// After `stop_deadline`, the time the final result/delete flush and releases may
    /// take; `run` returns by `stop_deadline + stop_grace`. Must fit in the margin.
    pub stop_grace: Duration,
    /// How long a finished job may wait for others to share its delete batch.
    pub ack_linger: Duration,
    /// Cap on the pause between failed queue calls.
    pub queue_retry_max: Duration,
    /// How often a memory-gated worker re-reads the cgroup.
    pub memory_poll_interval: Duration,
    /// How often task protection is brought in line with busy/idle.
    pub protection_interval: Duration,
    /// Longest a job may run; then it is abandoned (its task aborted) and retried like a
    /// transient failure (`job_timeout`). `None`: no limit.
    pub job_timeout: Option<Duration>,
    /// How often the health file is rewritten (it is also rewritten after every receive).
    pub health_interval: Duration,
    /// Result writes or deletes failing transiently this long make the worker report
    /// itself unhealthy; permanent failures (access denied, no such bucket/queue) at once.
    pub unhealthy_after: Duration,
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
            stop_grace: Duration::from_secs(5),
            ack_linger: Duration::from_secs(1),
            queue_retry_max: Duration::from_secs(10),
            memory_poll_interval: Duration::from_secs(1),
            protection_interval: Duration::from_secs(1),
            job_timeout: Some(Duration::from_secs(600)),
            health_interval: Duration::from_secs(10),
            unhealthy_after: Duration::from_secs(60),
        }
    }
}

/// Counters, readable while running (tests, benchmarks, logs).
#[derive(Debug, Default)]
pub struct RuntimeStats {
    pub receive_calls: AtomicU64,
    pub received: AtomicU64,
    /// Jobs whose result reached every sink.
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
    /// Failed result writes (each retry counts).
    pub store_errors: AtomicU64,
    pub memory_gated: AtomicU64,
    pub job_panics: AtomicU64,
    pub job_timeouts: AtomicU64,
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
    /// Messages handed back (visibility 0) at shutdown: unstarted, cut short by the
    /// deadline, received during the stop, or finished but not stored/deleted in time.
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

impl State {
    /// Waiting and Running jobs occupy a run slot's worth of capacity (`active`).
    fn is_active(self) -> bool {
        matches!(self, State::Waiting | State::Running)
    }
}

struct Tracked {
    state: State,
    visible_until: Instant,
}

/// Result writes or deletes that keep failing: what the health check reports.
struct AckFailure {
    what: &'static str,
    since: Instant,
    message: String,
    permanent: bool,
}

struct Shared<Q, H> {
    queue: Q,
    handler: H,
    sinks: ResultSinks,
    config: RuntimeConfig,
    stats: Arc<RuntimeStats>,
    emf: Option<Arc<EmfEmitter>>,
    tracked: Mutex<HashMap<String, Tracked>>,
    /// Tracked messages Waiting or Running (not yet Completed).
    active: AtomicUsize,
    /// Notified whenever a message stops being active or stops being held.
    capacity: Notify,
    run_slots: Arc<Semaphore>,
    /// Held around every visibility change and its tracking update (module docs).
    visibility_lock: tokio::sync::Mutex<()>,
    /// The receive loop's last turn, in milliseconds since `epoch`.
    loop_beat: AtomicU64,
    epoch: Instant,
    ack_failure: Mutex<Option<AckFailure>>,
    /// Poked after every receive so the health file is rewritten at once.
    received_signal: Notify,
    stopping: AtomicBool,
}

/// One message handed to the ack batcher.
struct Ack {
    receipt: String,
    /// `None` for a redelivery whose result was already stored.
    result: Option<StoredResult>,
    success: Option<Success>,
}

/// What a succeeded job reports once its result is stored.
struct Success {
    job_id: String,
    duration: Duration,
    queue_wait: Option<Duration>,
    faces_found: u64,
}

impl<Q: JobQueue, H: JobHandler> Shared<Q, H> {
    fn beat(&self) {
        self.loop_beat
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Most messages held at once: running/waiting jobs plus finished ones whose result
    /// write or delete is pending.
    fn hold_limit(&self) -> usize {
        self.config.parallelism.max(1) + self.config.batch_size as usize
    }

    fn held(&self) -> usize {
        self.tracked.lock().unwrap().len()
    }

    /// How many messages the next receive may ask for, or `None` while at capacity.
    fn receive_room(&self) -> Option<u32> {
        if self.active.load(Ordering::SeqCst) >= self.config.parallelism.max(1) {
            return None;
        }
        let room = self.hold_limit().saturating_sub(self.held());
        (room > 0).then(|| room.min(self.config.batch_size.max(1) as usize) as u32)
    }

    /// A receive that outlasts this (SDK attempt timeouts and retries included) means the
    /// loop is stuck.
    fn stall_limit(&self) -> Duration {
        (self.config.wait_time + Duration::from_secs(10)) * 3 + Duration::from_secs(30)
    }

    fn ack_failed(&self, what: &'static str, message: &str, permanent: bool) {
        let mut f = self.ack_failure.lock().unwrap();
        match f.as_mut() {
            Some(f) if f.what == what => {
                f.message = message.to_string();
                f.permanent = permanent;
            }
            _ => {
                *f = Some(AckFailure {
                    what,
                    since: Instant::now(),
                    message: message.to_string(),
                    permanent,
                })
            }
        }
    }

    fn ack_recovered(&self, what: &'static str) {
        let mut f = self.ack_failure.lock().unwrap();
        if f.as_ref().is_some_and(|f| f.what == what) {
            tracing::info!(what, "recovered: acknowledgements flowing again");
            *f = None;
        }
    }

    fn health_status(&self) -> HealthStatus {
        if self.stopping.load(Ordering::Relaxed) {
            return HealthStatus::Ok;
        }
        let beat = Duration::from_millis(self.loop_beat.load(Ordering::Relaxed));
        let since_beat = self.epoch.elapsed().saturating_sub(beat);
        if since_beat > self.stall_limit() {
            return HealthStatus::Unhealthy(format!(
                "receive loop stalled: no turn for {:.0} s",
                since_beat.as_secs_f64()
            ));
        }
        if let Some(f) = self.ack_failure.lock().unwrap().as_ref() {
            let failing = f.since.elapsed();
            if f.permanent || failing >= self.config.unhealthy_after {
                return HealthStatus::Unhealthy(format!(
                    "{} failing for {:.0} s ({}): {}",
                    f.what,
                    failing.as_secs_f64(),
                    if f.permanent {
                        "permanent error"
                    } else {
                        "transient errors"
                    },
                    f.message
                ));
            }
        }
        HealthStatus::Ok
    }
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
                visibility_lock: tokio::sync::Mutex::new(()),
                loop_beat: AtomicU64::new(0),
                epoch: Instant::now(),
                ack_failure: Mutex::new(None),
                received_signal: Notify::new(),
                stopping: AtomicBool::new(false),
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

    /// Consume until `stop` is cancelled (signal, Spot notice, caller), then shut down:
    /// `run` returns within `config.stop_deadline + config.stop_grace`.
    pub async fn run(self, stop: CancellationToken) -> RunSummary {
        let Runtime {
            shared,
            memory_gate,
            protection,
            health,
            ready,
        } = self;
        let config = shared.config.clone();
        let hard_stop = CancellationToken::new();
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Ack>();
        shared.beat();

        let heartbeat_stop = CancellationToken::new();
        let mut heartbeat = tokio::spawn(
            VisibilityHeartbeat {
                shared: shared.clone(),
            }
            .run(heartbeat_stop.clone()),
        );
        let mut acker = tokio::spawn(ack_loop(shared.clone(), ack_rx));
        let protection_stop = CancellationToken::new();
        let mut protection_task = tokio::spawn(protection_loop(
            shared.clone(),
            protection,
            protection_stop.clone(),
        ));
        let health_stop = CancellationToken::new();
        let health_task =
            health.map(|h| tokio::spawn(health_loop(shared.clone(), h, health_stop.clone())));

        let mut jobs = JoinSet::new();
        let mut job_messages: HashMap<tokio::task::Id, (String, u32)> = HashMap::new();
        let mut pacer = RetryPacer::new(Duration::from_millis(100), config.queue_retry_max);
        let mut gated_logged = false;
        let mut first = true;
        let mut pending_receive = None;
        tracing::info!(
            batch_size = config.batch_size,
            parallelism = config.parallelism,
            visibility_timeout_s = config.visibility_timeout.as_secs(),
            "worker runtime started"
        );
        while !stop.is_cancelled() {
            shared.beat();
            reap(&shared, &mut jobs, &mut job_messages).await;

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
                    _ = tokio::time::sleep(config.memory_poll_interval) => continue,
                }
            }
            if gated_logged {
                tracing::info!("memory back under threshold: receiving again");
                gated_logged = false;
            }

            // Bounded parallelism: receive only while a run slot is free and fewer than
            // hold_limit messages are held. The loop still turns every second while it
            // waits, which is what the health check calls alive.
            let room = loop {
                shared.beat();
                let notified = shared.capacity.notified();
                if let Some(room) = shared.receive_room() {
                    break Some(room);
                }
                tokio::select! {
                    _ = stop.cancelled() => break None,
                    _ = notified => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                reap(&shared, &mut jobs, &mut job_messages).await;
            };
            let Some(room) = room else { break };

            if first {
                ready.notify_one();
                first = false;
            }
            shared.stats.receive_calls.fetch_add(1, Ordering::Relaxed);
            let mut receive: JoinHandle<Result<Vec<ReceivedMessage>, QueueError>> = {
                let s = shared.clone();
                tokio::spawn(async move {
                    s.queue
                        .receive(room, s.config.wait_time, s.config.visibility_timeout)
                        .await
                })
            };
            let received = tokio::select! {
                // A receive already sent may be handing us messages: let it finish during
                // shutdown and release what it brings, rather than leave those hidden.
                _ = stop.cancelled() => {
                    pending_receive = Some(receive);
                    break;
                }
                r = &mut receive => r.unwrap_or_else(|e| Err(QueueError::Service(format!("receive task failed: {e}")))),
            };
            shared.received_signal.notify_one();
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
                                visible_until: now + config.visibility_timeout,
                            },
                        );
                        shared.active.fetch_add(1, Ordering::SeqCst);
                        let key = (m.receipt.clone(), m.receive_count);
                        let task = jobs.spawn(process(
                            shared.clone(),
                            m,
                            stop.clone(),
                            hard_stop.clone(),
                            ack_tx.clone(),
                        ));
                        job_messages.insert(task.id(), key);
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
        shared.stopping.store(true, Ordering::Relaxed);
        let stop_at = Instant::now();
        let deadline = stop_at + config.stop_deadline;
        let exit_at = deadline + config.stop_grace;
        // Keep a third of the grace (at most 2 s) for the final release.
        let flush_until = exit_at - (config.stop_grace / 3).min(Duration::from_secs(2));
        tracing::info!(
            deadline_s = config.stop_deadline.as_secs_f64(),
            grace_s = config.stop_grace.as_secs_f64(),
            "stop requested: receiving stopped, finishing running jobs"
        );
        // Jobs not started yet go straight back to the queue for another worker.
        let mut released =
            release_where(&shared, |s| s == State::Waiting, "Waiting", exit_at).await;
        if let Some(mut receive) = pending_receive {
            match tokio::time::timeout_at(deadline.into(), &mut receive).await {
                Ok(Ok(Ok(messages))) if !messages.is_empty() => {
                    shared
                        .stats
                        .received
                        .fetch_add(messages.len() as u64, Ordering::Relaxed);
                    let receipts: Vec<String> = messages.into_iter().map(|m| m.receipt).collect();
                    released += release_receipts(&shared, &receipts, exit_at).await;
                }
                Ok(_) => {}
                Err(_) => {
                    receive.abort();
                    tracing::warn!("receive still running at the deadline: its messages (if any) reappear after their visibility timeout");
                }
            }
        }

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
            released += release_where(&shared, State::is_active, "Running", exit_at).await;
        }
        // Job tasks react to hard_stop at once; wait for them so every ack is queued.
        let joined = tokio::time::timeout_at(flush_until.into(), async {
            while let Some(r) = jobs.join_next_with_id().await {
                if let Err(e) = r {
                    tracing::error!(error = %e, "job task failed during shutdown; its message is released");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!("job tasks did not end in time; aborting them");
            jobs.abort_all();
        }
        drop(ack_tx);
        // The ack loop flushes what is queued and ends when the channel closes.
        if tokio::time::timeout_at(flush_until.into(), &mut acker)
            .await
            .is_err()
        {
            tracing::warn!(
                "final result/delete flush did not finish in time; releasing what is left"
            );
            acker.abort();
        }
        heartbeat_stop.cancel();
        if tokio::time::timeout_at(flush_until.into(), &mut heartbeat)
            .await
            .is_err()
        {
            heartbeat.abort();
        }
        // Whatever is still held was not settled (a result not stored, a delete that
        // failed, a job task that never came back): hand it back before exiting.
        released += release_where(&shared, |_| true, "Held", exit_at).await;
        protection_stop.cancel();
        if tokio::time::timeout_at(exit_at.into(), &mut protection_task)
            .await
            .is_err()
        {
            protection_task.abort();
        }
        health_stop.cancel();
        if let Some(h) = health_task {
            let _ = h.await;
        }

        let stats = &shared.stats;
        let summary = RunSummary {
            succeeded: RuntimeStats::get(&stats.succeeded),
            dead_lettered: RuntimeStats::get(&stats.dead_lettered),
            released,
            deadline_hit,
        };
        tracing::info!(
            ?summary,
            took_s = stop_at.elapsed().as_secs_f64(),
            "worker runtime stopped"
        );
        summary
    }
}

/// Collect finished job tasks. A task that panicked (a bug in the runtime itself — handler
/// panics are caught inside) still has its message tracked: retry it with a backoff.
async fn reap<Q: JobQueue, H: JobHandler>(
    shared: &Arc<Shared<Q, H>>,
    jobs: &mut JoinSet<()>,
    job_messages: &mut HashMap<tokio::task::Id, (String, u32)>,
) {
    while let Some(r) = jobs.try_join_next_with_id() {
        match r {
            Ok((id, ())) => {
                job_messages.remove(&id);
            }
            Err(e) => {
                let Some((receipt, receive_count)) = job_messages.remove(&e.id()) else {
                    continue;
                };
                tracing::error!(error = %e, "job task failed; its message will be retried");
                let backoff = exponential(
                    shared.config.retry_backoff_base,
                    shared.config.retry_backoff_max,
                    receive_count.max(1),
                );
                let _guard = shared.visibility_lock.lock().await;
                if untrack(shared, &receipt) {
                    let change = [VisibilityChange {
                        receipt,
                        timeout: backoff,
                    }];
                    let _ = shared.queue.change_visibility_batch(&change).await;
                }
            }
        }
    }
}

async fn protection_loop<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    mut protection: TaskProtection,
    stop: CancellationToken,
) {
    if !protection.is_active() {
        return;
    }
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

/// Rewrites the health file after every receive and every `health_interval`.
async fn health_loop<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    file: HealthFile,
    stop: CancellationToken,
) {
    let mut last = None;
    loop {
        let status = shared.health_status();
        if last.as_ref() != Some(&status) {
            match &status {
                HealthStatus::Ok if last.is_some() => tracing::info!("healthy again"),
                HealthStatus::Ok => {}
                HealthStatus::Unhealthy(reason) => {
                    tracing::error!(reason = %reason, "reporting unhealthy")
                }
            }
        }
        file.write(&status);
        last = Some(status);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = shared.received_signal.notified() => {}
            _ = tokio::time::sleep(shared.config.health_interval) => {}
        }
    }
}

/// Release (visibility 0) every tracked message whose state matches, in batches; returns
/// how many. Gives up waiting for the queue at `until`.
async fn release_where<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    matches: impl Fn(State) -> bool,
    what: &'static str,
    until: Instant,
) -> u64 {
    let guard = tokio::time::timeout_at(until.into(), shared.visibility_lock.lock())
        .await
        .ok();
    let (receipts, were_active) = {
        let mut tracked = shared.tracked.lock().unwrap();
        let picked: Vec<(String, State)> = tracked
            .iter()
            .filter(|(_, t)| matches(t.state))
            .map(|(k, t)| (k.clone(), t.state))
            .collect();
        for (k, _) in &picked {
            tracked.remove(k);
        }
        let active = picked.iter().filter(|(_, s)| s.is_active()).count();
        (
            picked.into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
            active,
        )
    };
    if receipts.is_empty() {
        return 0;
    }
    // These jobs no longer hold a slot or a place.
    shared.active.fetch_sub(were_active, Ordering::SeqCst);
    shared.capacity.notify_waiters();
    let n = send_releases(shared, &receipts, until).await;
    drop(guard);
    // `state`: Waiting (unstarted), Running (cut by the deadline) or Held (finished, not
    // stored or deleted in time). The Spot drill reads this line.
    tracing::info!(count = n, state = what, "released unfinished messages");
    n
}

/// Release untracked receipts: messages a receive brought in while stopping (unstarted,
/// so logged as Waiting).
async fn release_receipts<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    receipts: &[String],
    until: Instant,
) -> u64 {
    let n = send_releases(shared, receipts, until).await;
    tracing::info!(
        count = n,
        state = "Waiting",
        received_while_stopping = true,
        "released unfinished messages"
    );
    n
}

async fn send_releases<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    receipts: &[String],
    until: Instant,
) -> u64 {
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
        match tokio::time::timeout_at(until.into(), shared.queue.change_visibility_batch(chunk))
            .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "release failed; messages reappear after their visibility timeout")
            }
            Err(_) => {
                tracing::warn!(
                    "release timed out; messages reappear after their visibility timeout"
                )
            }
        }
    }
    shared
        .stats
        .released
        .fetch_add(receipts.len() as u64, Ordering::Relaxed);
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
    let removed = shared.tracked.lock().unwrap().remove(receipt);
    match removed {
        Some(t) if t.state.is_active() => finish_active(shared),
        Some(_) => shared.capacity.notify_waiters(),
        None => return false,
    }
    true
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
    let exists = tokio::select! {
        r = shared.sinks.exists(&job_id) => r,
        _ = hard_stop.cancelled() => return, // released by shutdown
    };
    match exists {
        Ok(true) => {
            drop(permit);
            shared.stats.already_done.fetch_add(1, Ordering::Relaxed);
            tracing::info!(job_id = %job_id, "result already stored; acknowledging redelivery");
            if let Some(emf) = &shared.emf {
                emf.emit(&JobMetrics {
                    already_stored: true,
                    queue_wait,
                    ..JobMetrics::default()
                });
            }
            complete(
                &shared,
                &msg,
                Ack {
                    receipt: msg.receipt.clone(),
                    result: None,
                    success: None,
                },
                &ack_tx,
            );
            return;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(job_id = %job_id, error = %e, "result existence check failed; running the job")
        }
    }

    let outcome = run_handler(&shared, job, &job_id, &hard_stop).await;
    drop(permit);
    let duration = started.elapsed();
    match outcome {
        None => {} // deadline: shutdown releases Running messages itself
        Some(Ok(out)) => {
            let ack = Ack {
                receipt: msg.receipt.clone(),
                result: Some(StoredResult {
                    job_id: job_id.clone(),
                    body: out.result.to_string(),
                }),
                success: Some(Success {
                    job_id: job_id.clone(),
                    duration,
                    queue_wait,
                    faces_found: out.faces_found,
                }),
            };
            if !complete(&shared, &msg, ack, &ack_tx) {
                // Released by shutdown meanwhile; another worker redoes it.
                tracing::info!(job_id = %job_id, "job finished after its message was released; result dropped");
            }
        }
        Some(Err(e)) => fail(&shared, &msg, e, started, queue_wait).await,
    }
}

/// Run the handler on its own task, so a panic is caught (the task's `JoinError`) and a
/// job past `job_timeout` or the stop deadline can be aborted. `None`: cut by the deadline.
async fn run_handler<Q: JobQueue, H: JobHandler>(
    shared: &Arc<Shared<Q, H>>,
    job: H::Job,
    job_id: &str,
    hard_stop: &CancellationToken,
) -> Option<Result<JobOutput, JobError>> {
    let s = shared.clone();
    let mut task = tokio::spawn(async move { s.handler.handle(job).await });
    let limit = shared.config.job_timeout;
    let timeout = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = &mut task => Some(match r {
            Ok(r) => r,
            Err(e) if e.is_panic() => {
                shared.stats.job_panics.fetch_add(1, Ordering::Relaxed);
                let what = panic_message(e.into_panic());
                tracing::error!(job_id = %job_id, panic = %what, "job handler panicked");
                Err(JobError::transient("worker_panic", format!("handler panicked: {what}")))
            }
            Err(e) => Err(JobError::transient("worker_error", format!("handler task ended: {e}"))),
        }),
        _ = timeout => {
            task.abort();
            shared.stats.job_timeouts.fetch_add(1, Ordering::Relaxed);
            let limit = limit.unwrap_or_default();
            // A handler stuck in blocking code cannot be stopped; its thread runs on, but
            // the slot and the message are freed.
            tracing::error!(job_id = %job_id, limit_s = limit.as_secs_f64(), "job exceeded its time limit; abandoned");
            Some(Err(JobError::transient(
                "job_timeout",
                format!("ran longer than {} s", limit.as_secs_f64()),
            )))
        }
        _ = hard_stop.cancelled() => {
            task.abort();
            None
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}

/// Hand a finished message to the ack batcher. False if shutdown released it meanwhile.
fn complete<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    msg: &ReceivedMessage,
    ack: Ack,
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
    let _ = ack_tx.send(ack);
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
            ..JobMetrics::default()
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
    let _guard = shared.visibility_lock.lock().await;
    if !untrack(shared, &msg.receipt) {
        return;
    }
    shared.stats.retried.fetch_add(1, Ordering::Relaxed);
    shared
        .stats
        .visibility_calls
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(message_id = %msg.message_id, error = %e, retry_in_s = backoff.as_secs_f64(), "job failed; will retry");
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
/// delete call per 10 jobs, or per linger period, or when nothing else is running, or at
/// once when held acknowledgements are what stops the worker from receiving.
async fn ack_loop<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    mut rx: mpsc::UnboundedReceiver<Ack>,
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
                    // Take whatever else is already queued: one flush instead of several.
                    while pending.len() < 10 {
                        match rx.try_recv() {
                            Ok(a) => pending.push(a),
                            Err(_) => break,
                        }
                    }
                    false
                }
                None => true,
            },
            _ = tokio::time::sleep(linger_left), if !pending.is_empty() => false,
        };
        let idle = shared.active.load(Ordering::SeqCst) == 0;
        let blocking_receive = shared.held() >= shared.hold_limit();
        if !pending.is_empty()
            && (closed
                || idle
                || blocking_receive
                || pending.len() >= 10
                || oldest.elapsed() >= shared.config.ack_linger)
        {
            flush(&shared, std::mem::take(&mut pending)).await;
        }
        if closed {
            return;
        }
    }
}

/// Store the results (retrying until they are stored: they are held, never dropped; at
/// shutdown `run` aborts this and releases them), then delete the messages.
async fn flush<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, acks: Vec<Ack>) {
    let results: Vec<StoredResult> = acks.iter().filter_map(|a| a.result.clone()).collect();
    let mut pacer = RetryPacer::new(Duration::from_millis(100), shared.config.queue_retry_max);
    // Results first: a message is deleted only once its result is durable.
    if !results.is_empty() {
        let mut progress = StoreProgress::default();
        loop {
            match shared.sinks.store(&results, &mut progress).await {
                Ok(()) => {
                    shared.ack_recovered("storing results");
                    break;
                }
                Err(e) => {
                    shared.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    shared.ack_failed("storing results", &e.message, e.permanent);
                    let d = pacer.next_delay();
                    if e.permanent {
                        tracing::error!(error = %e, jobs = results.len(), retry_in_ms = d.as_millis() as u64, "storing results failed with a permanent error (fix the configuration or IAM); holding the results and retrying");
                    } else {
                        tracing::warn!(error = %e, jobs = results.len(), retry_in_ms = d.as_millis() as u64, "storing results failed; retrying");
                    }
                    tokio::time::sleep(d).await;
                }
            }
        }
    }
    // Stored everywhere: these jobs succeeded.
    for s in acks.iter().filter_map(|a| a.success.as_ref()) {
        shared.stats.succeeded.fetch_add(1, Ordering::Relaxed);
        tracing::info!(job_id = %s.job_id, duration_ms = s.duration.as_millis() as u64, faces = s.faces_found, "job succeeded");
        if let Some(emf) = &shared.emf {
            emf.emit(&JobMetrics {
                succeeded: true,
                duration: s.duration,
                queue_wait: s.queue_wait,
                faces_found: s.faces_found,
                ..JobMetrics::default()
            });
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
                    shared.ack_recovered("deleting messages");
                    break;
                }
                Err(e) => {
                    shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                    shared.ack_failed("deleting messages", &e.to_string(), false);
                    let d = pacer.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "delete failed; retrying");
                    tokio::time::sleep(d).await;
                }
            }
        }
        forget(shared, chunk);
    }
}

/// Settled by the ack path: no longer held.
fn forget<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, receipts: &[String]) {
    {
        let mut tracked = shared.tracked.lock().unwrap();
        for r in receipts {
            tracked.remove(r);
        }
    }
    shared.capacity.notify_waiters();
}

/// Keeps every tracked message invisible while we hold it: once half of a message's
/// visibility has elapsed it is extended by a full visibility timeout, in batches of 10,
/// under the visibility lock (module docs).
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
            let _guard = shared.visibility_lock.lock().await;
            // Picked under the lock: a message released before this point is gone from
            // tracking; one released after waits for the lock, so its release lands last.
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
                        let failed: HashSet<&str> =
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
