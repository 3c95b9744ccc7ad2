//! Start-up of the Lambda `bootstrap` executables (`provided.al2023` runtime): what both
//! functions do once per cold start before handing events to their handler.

use std::fmt::Display;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The error a cold start fails with (the same type as `lambda_runtime::Error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// JSON logs on stdout; CloudWatch Logs indexes their fields. No ANSI, no timestamp:
/// Lambda stamps each line itself. `FACEREC_LOG` filters ([`crate::LOG_FILTER_VAR`], as
/// for the worker), `info` by default.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(crate::LOG_FILTER_VAR)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}

/// The function's configuration, or the error that stops the cold start: a bad setting
/// is logged and becomes a readable Init error in Lambda.
pub fn config<C, E: Display>(from_env: Result<C, E>) -> Result<C, BoxError> {
    from_env.map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        BoxError::from(e.to_string())
    })
}

/// The longest one attempt of a Lambda's AWS call may take (the calls are small
/// control-plane requests answered in well under a second).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest one AWS call may take, retries included: an attempt, a backoff and most of
/// a second attempt. The backlog scaler's time budget (a poll every 10 s, its state saved
/// before a 60-s timeout) is planned around it.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(7);

/// The timeouts of the Lambdas' SDK clients: 3-s connect, [`ATTEMPT_TIMEOUT`],
/// [`OPERATION_TIMEOUT`]. Without them a call on a dead connection would wait until the
/// function's timeout (the SDK has no attempt or operation timeout by default).
pub fn timeouts() -> TimeoutConfig {
    crate::sdk::bounded_timeouts(ATTEMPT_TIMEOUT, OPERATION_TIMEOUT)
}

/// The SDK configuration from the function's environment (region, role credentials),
/// with [`timeouts`]. Each component applies its own app name where it builds its
/// clients.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}
