//! Start-up of the Lambda `bootstrap` executables (`provided.al2023` runtime): what both
//! functions do once per cold start before handing events to their handler.

use std::fmt::Display;

use aws_config::{BehaviorVersion, SdkConfig};

/// The error a cold start fails with (the same type as `lambda_runtime::Error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// JSON logs on stdout; CloudWatch Logs indexes their fields. No ANSI, no timestamp:
/// Lambda stamps each line itself. `RUST_LOG` filters, `info` by default.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
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

/// The SDK configuration from the function's environment (region, role credentials).
/// Each component applies its own app name where it builds its clients.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}
