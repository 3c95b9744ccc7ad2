//! Stop requests: SIGTERM (ECS stopping the task), SIGINT (a terminal), and anything else
//! that cancels the same token (the Spot notice watcher).

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Cancel `stop` on the first SIGTERM or SIGINT. Installs the handlers before returning,
/// so a signal that arrives right after start-up is not lost.
pub fn stop_on_signals(stop: CancellationToken) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = stop.cancelled() => return,
        };
        // Cancel first: logging may fail (a closed stderr) and must never block a stop.
        stop.cancel();
        tracing::info!(signal = name, "stop signal received");
    });
    Ok(())
}
