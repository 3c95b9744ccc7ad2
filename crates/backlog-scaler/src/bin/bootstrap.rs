//! The Lambda `bootstrap` executable for the `provided.al2023` runtime.
//!
//! Reads the configuration once per cold start, builds the SDK clients, then runs one
//! [`BacklogScaler::invoke_until`] per invocation, ending before the invocation's
//! deadline (the schedule's event carries nothing else the scaler needs). The response is the invocation's report; an error fails the invocation,
//! which is what the function's Errors alarm counts.

use facerec_aws_support::lambda;
use facerec_backlog_scaler::{
    AwsFleet, BacklogScaler, InvocationReport, ScalerConfig, SsmStateStore, StdoutMetrics,
    TokioClock,
};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::time::{Duration, SystemTime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    // A bad setting stops the cold start with a readable message (Init error in Lambda).
    let config = lambda::config(ScalerConfig::from_env())?;
    tracing::info!(
        cluster = %config.cluster_name,
        service = %config.service_name,
        group = %config.autoscaling_group_name,
        poll_s = config.poll_interval.as_secs(),
        run_s = config.run_for.as_secs(),
        min_tasks = config.policy.min_tasks,
        max_tasks = config.policy.max_tasks,
        cold_start_s = config.policy.cold_start_seconds,
        "backlog scaler starting"
    );
    let sdk = lambda::sdk_config().await;
    let fleet = AwsFleet::new(&sdk, &config);
    let store = SsmStateStore::new(&sdk, config.state_parameter.clone());
    let scaler = BacklogScaler::new(config, fleet, store, StdoutMetrics);
    let scaler = &scaler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // A fresh clock per invocation: the environment may have been frozen since the last.
        let clock = TokioClock::new();
        // The invocation ends before the function's timeout, whatever Terraform set it to.
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let deadline = tokio::time::Instant::now() + left;
        let report: InvocationReport = scaler.invoke_until(&clock, Some(deadline)).await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
