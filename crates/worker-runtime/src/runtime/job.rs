//! One job's life after its receive: wait for a slot, check for a stored result, run
//! the handler (bounded), then hand the result to the ack batcher or settle the failure.

use super::ack::Success;
use super::visibility::send_releases;
use super::*;

/// Collect finished job tasks. A task that panicked (a bug in the runtime itself — handler
/// panics are caught inside) still has its message tracked: retry it with a backoff.
pub(super) async fn reap<Q: JobQueue, H: JobHandler>(
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

/// Mark a tracked message's job as no longer active.
pub(super) fn finish_active<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>) {
    shared.active.fetch_sub(1, Ordering::SeqCst);
    shared.capacity.notify_waiters();
}

/// Settle a message outside the ack path (dead-letter / backoff): drop it from tracking
/// unless shutdown already released it. Returns false if it was already released.
pub(super) fn untrack<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, receipt: &str) -> bool {
    let removed = shared.tracked.lock().unwrap().remove(receipt);
    match removed {
        Some(t) if t.state.is_active() => finish_active(shared),
        Some(_) => shared.capacity.notify_waiters(),
        None => return false,
    }
    true
}

pub(super) async fn process<Q: JobQueue, H: JobHandler>(
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

    // A dependency that is down is not the job's fault: the job stays held (tracked, so
    // the heartbeat keeps it invisible and SQS does not count another receive) and runs
    // again once the dependency's breaker lets it through.
    let mut job = Some(job);
    let mut waited_on: Option<Dependency> = None;
    let outcome = loop {
        if let Some(d) = waited_on {
            if !wait_for_dependency(&shared, &msg, d, &stop).await {
                return; // stopping: released
            }
        }
        // Idempotency: a redelivered job whose result is stored is acknowledged, not rerun.
        let exists = tokio::select! {
            r = shared.sinks.exists(&job_id) => r,
            _ = hard_stop.cancelled() => return, // released by shutdown
        };
        match exists {
            Ok(true) => {
                drop(permit);
                if let Some(d) = shared.sinks.exists_dependency() {
                    shared.deps.succeeded(d);
                }
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
            Ok(false) => {
                if let Some(d) = shared.sinks.exists_dependency() {
                    shared.deps.succeeded(d);
                }
            }
            Err(e) => match e.dependency {
                Some(d) if !e.permanent => {
                    // The result could not be stored either: wait for the dependency.
                    hold(&shared, d, &job_id, &e.message);
                    waited_on = Some(d);
                    continue;
                }
                _ => {
                    tracing::warn!(job_id = %job_id, error = %e, "result existence check failed; running the job")
                }
            },
        }
        // Parsed once above; a rerun after a dependency wait parses the same bytes again.
        let parsed = match job.take() {
            Some(j) => Ok(j),
            None => shared.handler.parse(&msg.body),
        };
        let job = match parsed {
            Ok(j) => j,
            Err(e) => {
                break Some(Err(JobError {
                    kind: ErrorKind::Permanent,
                    ..e
                }))
            }
        };
        let outcome = run_handler(&shared, job, &job_id, &hard_stop).await;
        match &outcome {
            Some(Err(e)) => {
                if let ErrorKind::Unavailable(d) = e.kind {
                    hold(&shared, d, &job_id, &e.to_string());
                    waited_on = Some(d);
                    continue;
                }
            }
            Some(Ok(_)) => {
                if let Some(d) = waited_on {
                    shared.deps.succeeded(d);
                }
            }
            None => {}
        }
        break outcome;
    };
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
pub(super) async fn run_handler<Q: JobQueue, H: JobHandler>(
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
    // Biased: a handler that has finished (or panicked) by the time the deadline fires
    // reports what it did; a fair select picked either at random when both were ready.
    tokio::select! {
        biased;
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

pub(super) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}

/// Hand a finished message to the ack batcher. False if shutdown released it meanwhile.
pub(super) fn complete<Q: JobQueue, H: JobHandler>(
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

pub(super) async fn fail<Q: JobQueue, H: JobHandler>(
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
        // Held and rerun by `process`; never counted, never dead-lettered.
        ErrorKind::Unavailable(_) => None,
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

/// A job failed because `dep` is down: open its breaker, count the wait.
fn hold<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    dep: Dependency,
    job_id: &str,
    error: &str,
) {
    shared
        .stats
        .dependency_waits
        .fetch_add(1, Ordering::Relaxed);
    shared.deps.failed(dep, error);
    tracing::warn!(job_id = %job_id, dependency = %dep, error, "dependency down: job held (kept invisible) until it is back; not counted as a failure");
}

/// Wait until `dep` may be used again. At a stop request the message is released
/// (visibility 0) for another worker instead, and this returns false.
async fn wait_for_dependency<Q: JobQueue, H: JobHandler>(
    shared: &Shared<Q, H>,
    msg: &ReceivedMessage,
    dep: Dependency,
    stop: &CancellationToken,
) -> bool {
    tokio::select! {
        ok = shared.deps.wait_usable(dep, Duration::from_secs(365 * 86_400)) => ok,
        _ = stop.cancelled() => {
            let _guard = shared.visibility_lock.lock().await;
            if untrack(shared, &msg.receipt) {
                let until = Instant::now() + shared.config.stop_grace;
                send_releases(shared, std::slice::from_ref(&msg.receipt), until).await;
                tracing::info!(message_id = %msg.message_id, dependency = %dep, "stopping while held for a dependency: released");
            }
            false
        }
    }
}
