//! The consume loop: receive → run (bounded) → store result → batched delete, with a
//! visibility heartbeat, retries by visibility backoff, explicit dead-lettering, a circuit
//! breaker per dependency and a deadline-bound graceful shutdown.
//!
//! Files: this one (configuration, shared state, the receive loop and shutdown), `job`
//! (one job's life), `ack` (result writes and deletes), `visibility` (heartbeat,
//! releases), `loops` (task protection, health file).
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
//! * **A dependency that is down is not the job's fault** ([`crate::dependency`]): a job
//!   that fails because S3, the result queue or the job queue is down (the handler's
//!   `Unavailable` errors, a failed "already stored?" check) stays tracked — invisible,
//!   heartbeated, its slot kept — and runs again when the breaker lets it through; it is
//!   never given a backoff visibility, since SQS would count the next receive. The
//!   receive loop takes no new work while any breaker is open, the ack path waits on the
//!   breakers instead of retrying blindly, and health says `degraded`, not `unhealthy`.
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
use crate::dependency::{Breakers, Dependency};
use crate::emf::{EmfEmitter, JobMetrics};
use crate::handler::{ErrorKind, JobError, JobHandler, JobOutput};
use crate::health::{HealthFile, HealthStatus};
use crate::memory_gate::MemoryGate;
use crate::queue::{DeadLetterReason, JobQueue, QueueError, ReceivedMessage, VisibilityChange};
use crate::results::{ResultSinks, StoreProgress, StoredResult};
use crate::task_protection::TaskProtection;

mod ack;
mod job;
mod loops;
mod visibility;

use ack::{ack_loop, Ack};
use job::{process, reap};
use loops::{health_loop, protection_loop};
pub use visibility::VisibilityHeartbeat;
use visibility::{release_receipts, release_where};

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
    /// While a dependency is down, how often one caller may try it (the half-open probe
    /// of its breaker, [`crate::dependency`]). Also bounds how soon work resumes after the
    /// dependency is back.
    pub probe_interval: Duration,
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
            probe_interval: Duration::from_secs(2),
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
    /// Times a job was held for a dependency that was down (its message kept invisible,
    /// the job rerun once the dependency was back) instead of failing.
    pub dependency_waits: AtomicU64,
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
    /// One circuit breaker per dependency.
    deps: Arc<Breakers>,
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
}

/// How many messages to receive now, given `room`, or `None` to wait: every dependency
/// up (the queue's breaker letting this receive through, as its probe if it is down);
/// while another is down, nothing — its held jobs probe it — unless nothing is held, when
/// one message goes ahead as the probe.
fn receive_gate<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, room: u32) -> Option<u32> {
    let deps = &shared.deps;
    let room = if deps.others_up(Dependency::Queue) {
        room
    } else {
        let probe_due = Dependency::ALL
            .iter()
            .any(|d| *d != Dependency::Queue && deps.probe_due(*d));
        if shared.held() > 0 || !probe_due {
            return None;
        }
        1
    };
    deps.try_use(Dependency::Queue).then_some(room)
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
        let probe_interval = config.probe_interval;
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
                deps: Arc::new(Breakers::new(probe_interval)),
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
        let emf = Arc::new(emf);
        self.shared.deps.set_emf(emf.clone());
        self.shared_mut().emf = Some(emf);
        self
    }

    /// The dependencies' breakers (state, transitions), readable while running.
    pub fn dependencies(&self) -> Arc<Breakers> {
        self.shared.deps.clone()
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
            // A dependency that is down: take no new work (module docs of dependency).
            let room = match receive_gate(&shared, room) {
                Some(room) => room,
                None => {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = shared.deps.wait_changed(config.probe_interval.min(Duration::from_secs(1)) / 2) => {}
                    }
                    continue;
                }
            };

            if first {
                ready.notify_one();
                first = false;
            }
            shared.stats.receive_calls.fetch_add(1, Ordering::Relaxed);
            // The queue starts a message's visibility clock somewhere inside this call;
            // counting from its start is the safe side (the heartbeat does the same).
            let sent_at = Instant::now();
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
                    shared.deps.succeeded(Dependency::Queue);
                    pacer.reset();
                    for m in messages {
                        shared.stats.received.fetch_add(1, Ordering::Relaxed);
                        shared.tracked.lock().unwrap().insert(
                            m.receipt.clone(),
                            Tracked {
                                state: State::Waiting,
                                visible_until: sent_at + config.visibility_timeout,
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
                    shared.deps.failed(Dependency::Queue, &e.to_string());
                    // The breaker paces the next try (a probe per interval); the pacer
                    // only keeps a failing embedded store from spinning.
                    let delay = pacer.next_delay().min(shared.config.probe_interval);
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
        release_where(&shared, |s| s == State::Waiting, "Waiting", exit_at).await;
        if let Some(mut receive) = pending_receive {
            match tokio::time::timeout_at(deadline.into(), &mut receive).await {
                Ok(Ok(Ok(messages))) if !messages.is_empty() => {
                    shared
                        .stats
                        .received
                        .fetch_add(messages.len() as u64, Ordering::Relaxed);
                    let receipts: Vec<String> = messages.into_iter().map(|m| m.receipt).collect();
                    release_receipts(&shared, &receipts, exit_at).await;
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
            release_where(&shared, State::is_active, "Running", exit_at).await;
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
        release_where(&shared, |_| true, "Held", exit_at).await;
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
            // Every release goes through `send_releases`, which counts it: the shutdown's
            // and those of jobs held for a dependency when the stop came.
            released: RuntimeStats::get(&stats.released),
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
