//! SDK clients configured the way the SDK defines its environment.
//!
//! `aws_config::defaults` reads `AWS_REGION`, credentials, `AWS_ENDPOINT_URL` and the
//! per-service `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_S3`, exactly as every other SDK
//! does; we add only what a long-polling worker needs: an attempt timeout longer than the
//! 20 s poll (so a silently dead connection is noticed) and, when an endpoint override
//! points at an emulator, path-style S3 addressing (`bucket.127.0.0.1` cannot resolve).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use facerec_aws_support::sdk;

/// The `app/<name>` the SDK puts in every request's user agent: CloudTrail shows which
/// component made a call, and the IAM proof (tools/iam/prove.py) attributes the calls
/// it records in the test suite by it.
pub const WORKER_APP_NAME: &str = "facerec-worker";

/// Load the worker's SDK configuration from the environment and profile files.
pub async fn load_sdk_config() -> SdkConfig {
    sdk::defaults(WORKER_APP_NAME).load().await
}

fn timeouts(long_poll: Duration) -> TimeoutConfig {
    sdk::attempt_timeouts(long_poll + Duration::from_secs(10))
}

/// An SQS client whose attempts may outlast a `long_poll` receive.
pub fn sqs_client(config: &SdkConfig, long_poll: Duration) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(config)
        .timeout_config(timeouts(long_poll))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// True when an endpoint override is in force (emulators, VPC endpoints by URL).
pub fn endpoint_overridden(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty())
}

pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .timeout_config(timeouts(Duration::from_secs(50)))
        .force_path_style(endpoint_overridden(config))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
