//! The Lambda `bootstrap` executable for the `provided.al2023` runtime.
//!
//! Reads the configuration once per cold start, builds the SDK clients, then hands each
//! SQS batch to [`SpotHandler::handle`].

use facerec_spot_handler::{AwsFleet, HandlerConfig, SpotHandler, StdoutMetrics};
use lambda_runtime::{service_fn, Error, LambdaEvent};

use aws_lambda_events::event::sqs::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs on stdout; CloudWatch Logs indexes their fields. No ANSI, no timestamp:
    // Lambda stamps each line itself.
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

    // A bad setting stops the cold start with a readable message (Init error in Lambda).
    let config = HandlerConfig::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        Error::from(e.to_string())
    })?;
    tracing::info!(
        cluster = %config.cluster_name,
        capacity_rebalance = config.capacity_rebalance,
        autoscaling_group = config.autoscaling_group.as_deref().unwrap_or(""),
        lifecycle_hook = config.lifecycle_hook.as_deref().unwrap_or(""),
        max_wait_s = config.lifecycle.max_wait.as_secs(),
        "spot handler starting"
    );
    if config.lifecycle_hook.is_none() {
        tracing::warn!(
            "LIFECYCLE_HOOK_NAME unset: every termination lifecycle action is skipped (other-hook)"
        );
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let fleet = AwsFleet::new(&sdk, config.cluster_name.clone());
    let handler = SpotHandler::new(config, fleet, StdoutMetrics);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handler.handle(event.payload).await)
    }))
    .await
}
