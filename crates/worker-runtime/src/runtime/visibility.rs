//! Visibility changes: the heartbeat that keeps held messages invisible, and releases.

use super::*;

/// Release (visibility 0) every tracked message whose state matches, in batches; returns
/// how many. Gives up waiting for the queue at `until`.
pub(super) async fn release_where<Q: JobQueue, H: JobHandler>(
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
pub(super) async fn release_receipts<Q: JobQueue, H: JobHandler>(
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

pub(super) async fn send_releases<Q: JobQueue, H: JobHandler>(
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

/// Keeps every tracked message invisible while we hold it: once half of a message's
/// visibility has elapsed it is extended by a full visibility timeout, in batches of 10,
/// under the visibility lock (module docs).
pub struct VisibilityHeartbeat<Q: JobQueue, H: JobHandler> {
    pub(super) shared: Arc<Shared<Q, H>>,
}

impl<Q: JobQueue, H: JobHandler> VisibilityHeartbeat<Q, H> {
    pub(super) async fn run(self, stop: CancellationToken) {
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
                // The queue is down: extend only as its probe, once per probe interval.
                if !shared.deps.try_use(Dependency::Queue) {
                    break;
                }
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
                        shared.deps.succeeded(Dependency::Queue);
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
                        shared.deps.failed(Dependency::Queue, &e.to_string());
                        tracing::warn!(error = %e, "heartbeat failed; retrying next tick");
                    }
                }
            }
        }
    }
}
