//! The ack batcher: store finished jobs' results, then delete their messages.

use super::*;

/// Waits on a breaker have no deadline of their own: shutdown aborts the ack loop.
const FOREVER: Duration = Duration::from_secs(365 * 86_400);

/// One message handed to the ack batcher.
pub(super) struct Ack {
    pub(super) receipt: String,
    /// `None` for a redelivery whose result was already stored.
    pub(super) result: Option<StoredResult>,
    pub(super) success: Option<Success>,
}

/// What a succeeded job reports once its result is stored.
pub(super) struct Success {
    pub(super) job_id: String,
    pub(super) duration: Duration,
    pub(super) queue_wait: Option<Duration>,
    pub(super) faces_found: u64,
}

/// Batches finished jobs: store their results, then delete their messages — at most one
/// delete call per 10 jobs, or per linger period, or when nothing else is running, or at
/// once when held acknowledgements are what stops the worker from receiving.
pub(super) async fn ack_loop<Q: JobQueue, H: JobHandler>(
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
pub(super) async fn flush<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, acks: Vec<Ack>) {
    let results: Vec<StoredResult> = acks.iter().filter_map(|a| a.result.clone()).collect();
    let mut pacer = RetryPacer::new(Duration::from_millis(100), shared.config.queue_retry_max);
    // Results first: a message is deleted only once its result is durable.
    if !results.is_empty() {
        let mut progress = StoreProgress::default();
        let deps = shared.sinks.dependencies();
        loop {
            // A sink that is down: wait for its breaker (this flush may be its probe).
            for d in &deps {
                shared.deps.wait_usable(*d, FOREVER).await;
            }
            match shared.sinks.store(&results, &mut progress).await {
                Ok(()) => {
                    for d in &deps {
                        shared.deps.succeeded(*d);
                    }
                    shared.ack_recovered("storing results");
                    break;
                }
                Err(e) => {
                    shared.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    if let (Some(d), false) = (e.dependency, e.permanent) {
                        // An outage, not a configuration error: the breaker paces the
                        // retries and health reports it degraded, not unhealthy.
                        shared.deps.failed(d, &e.message);
                        tracing::warn!(error = %e, jobs = results.len(), dependency = %d, "storing results failed; holding them until the dependency is back");
                        continue;
                    }
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
            shared.deps.wait_usable(Dependency::Queue, FOREVER).await;
            shared.stats.delete_calls.fetch_add(1, Ordering::Relaxed);
            match shared.queue.delete_batch(chunk).await {
                Ok(failures) => {
                    for f in failures {
                        // Stale receipt: it was redelivered; the result is stored, so the
                        // redelivery is acknowledged without rerunning.
                        tracing::warn!(error = %f.message, "delete failed for one message");
                    }
                    shared.deps.succeeded(Dependency::Queue);
                    break;
                }
                Err(e) => {
                    shared.stats.queue_errors.fetch_add(1, Ordering::Relaxed);
                    shared.deps.failed(Dependency::Queue, &e.to_string());
                    tracing::warn!(error = %e, "delete failed; retrying when the queue is back");
                }
            }
        }
        forget(shared, chunk);
    }
}

/// Settled by the ack path: no longer held.
pub(super) fn forget<Q: JobQueue, H: JobHandler>(shared: &Shared<Q, H>, receipts: &[String]) {
    {
        let mut tracked = shared.tracked.lock().unwrap();
        for r in receipts {
            tracked.remove(r);
        }
    }
    shared.capacity.notify_waiters();
}
