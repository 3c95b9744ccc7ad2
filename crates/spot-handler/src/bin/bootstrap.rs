//! The Lambda `bootstrap` executable for the `provided.al2023` runtime.
//!
//! Reads the configuration once per cold start, builds the SDK clients, then hands each
//! SQS batch to [`SpotHandler::handle`].

use facerec_aws_support::lambda;
use facerec_spot_handler::{AwsFleet, HandlerConfig, SpotHandler, StdoutMetrics};
use lambda_runtime::{service_fn, Error, LambdaEvent};

use aws_lambda_events::event::sqs::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    // A bad setting stops the cold start with a readable message (Init error in Lambda).
    let config = lambda::config(HandlerConfig::from_env())?;
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
    let sdk = lambda::sdk_config().await;
    let fleet = AwsFleet::new(&sdk, config.cluster_name.clone());
    let handler = SpotHandler::new(config, fleet, StdoutMetrics);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handler.handle(event.payload).await)
    }))
    .await
}
