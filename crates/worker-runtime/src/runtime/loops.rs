//! Side loops of the runtime: task protection and the health file.

use super::*;

impl<Q: JobQueue, H: JobHandler> Shared<Q, H> {
    /// A receive that outlasts this (SDK attempt timeouts and retries included) means the
    /// loop is stuck.
    fn stall_limit(&self) -> Duration {
        (self.config.wait_time + Duration::from_secs(10)) * 3 + Duration::from_secs(30)
    }

    pub(super) fn health_status(&self) -> HealthStatus {
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
            if f.permanent {
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
        // A dependency's outage is not the task's fault: replacing the task cannot help.
        if let Some(down) = self.deps.down_summary() {
            return HealthStatus::Degraded(down);
        }
        HealthStatus::Ok
    }
}

pub(super) async fn protection_loop<Q: JobQueue, H: JobHandler>(
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
pub(super) async fn health_loop<Q: JobQueue, H: JobHandler>(
    shared: Arc<Shared<Q, H>>,
    file: HealthFile,
    stop: CancellationToken,
) {
    let mut last = None;
    loop {
        let status = shared.health_status();
        let changed = match (&last, &status) {
            (Some(HealthStatus::Degraded(_)), HealthStatus::Degraded(_)) => false,
            (last, status) => last.as_ref() != Some(status),
        };
        if changed {
            match &status {
                HealthStatus::Ok if last.is_some() => tracing::info!("healthy again"),
                HealthStatus::Ok => {}
                // Degraded changes each second (its duration); the breaker logs the change.
                HealthStatus::Degraded(_) => {}
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
