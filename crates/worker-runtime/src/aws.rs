//! SDK clients configured the way the SDK defines its environment.
//!
//! `aws_config::defaults` reads `AWS_REGION`, credentials, `AWS_ENDPOINT_URL` and the
//! per-service `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_S3`, exactly as every other SDK
//! does; we add timeouts that match each operation, so a dependency that is down is seen
//! in seconds, and, when an endpoint override points at an emulator, path-style S3
//! addressing (`bucket.127.0.0.1` cannot resolve).
//!
//! Timeouts (docs/operations.md § Dependency outages):
//!
//! | client | connect | first byte (read) | attempt | operation (all attempts) | attempts |
//! |---|---|---|---|---|---|
//! | SQS receive (long poll `w`) | 2 s | `w` + 5 s | `w` + 5 s | 2 × (`w` + 5 s) | 2 |
//! | SQS delete, visibility, DLQ, result queue | 2 s | 3 s | 5 s | 10 s | 2 |
//! | S3 (HEAD, PUT of a result, GET's headers) | 2 s | 3 s | 5 s | 10 s | 2 |
//!
//! A GET's body is read after the operation returns: the SDK's stalled-stream protection
//! (no byte for 5 s) and the handler's size-bound total (crates/worker) bound it. Two
//! attempts, not the default three: a retry that lands on another dead pooled connection
//! only doubles the wait, and the runtime's circuit breakers (crate::dependency) do the
//! retrying at a pace that does not hammer a dependency that is down. The connection of
//! a failed attempt is closed, not reused (`ReconnectMode::ReconnectOnTransientError`).

use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_s3::config::retry::{ReconnectMode, RetryConfig};
use facerec_aws_support::sdk;

/// The `app/<name>` the SDK puts in every request's user agent: CloudTrail shows which
/// component made a call, and the IAM proof (tools/iam/prove.py) attributes the calls
/// it records in the test suite by it.
pub const WORKER_APP_NAME: &str = "facerec-worker";

/// Connect timeout of every client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time to the first byte of a short call's response.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// A GET body that delivers no byte for this long is cut.
pub const STALL_GRACE: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: u32 = 2;

/// Load the worker's SDK configuration from the environment and profile files.
pub async fn load_sdk_config() -> SdkConfig {
    sdk::defaults(WORKER_APP_NAME).load().await
}

/// Timeouts of the long-poll receive: the answer comes after up to `long_poll`.
pub fn receive_timeouts(long_poll: Duration) -> TimeoutConfig {
    let attempt = long_poll + Duration::from_secs(5);
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(attempt)
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * MAX_ATTEMPTS)
        .build()
}

/// Timeouts of every short call (delete, visibility, send, S3).
pub fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Two attempts; a connection that timed out or answered a transient error is closed,
/// never handed back to the pool for the retry (the SDK's connection poisoning).
fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_reconnect_mode(ReconnectMode::ReconnectOnTransientError)
}

/// The SQS client for the long-poll receive: its attempts outlast a `long_poll` receive.
pub fn sqs_client(config: &SdkConfig, long_poll: Duration) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(config)
        .timeout_config(receive_timeouts(long_poll))
        .retry_config(retries())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// The SQS client for short calls: deletes, visibility changes, dead-lettering and the
/// result queue.
pub fn sqs_call_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(config)
        .timeout_config(call_timeouts())
        .retry_config(retries())
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
        .timeout_config(call_timeouts())
        .retry_config(retries())
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(STALL_GRACE)
                .build(),
        )
        .force_path_style(endpoint_overridden(config))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_bounds_connect_first_byte_attempt_and_operation() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let s3 = s3_client(&sdk);
        let t = s3.config().timeout_config().unwrap();
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(t.read_timeout(), Some(READ_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        let retry = s3.config().retry_config().unwrap();
        assert_eq!(retry.max_attempts(), 2);
        assert_eq!(
            retry.reconnect_mode(),
            ReconnectMode::ReconnectOnTransientError
        );
        let call = sqs_call_client(&sdk);
        assert_eq!(
            call.config().timeout_config().unwrap().read_timeout(),
            Some(READ_TIMEOUT)
        );
        let poll = sqs_client(&sdk, Duration::from_secs(20));
        let t = poll.config().timeout_config().unwrap();
        assert_eq!(t.read_timeout(), Some(Duration::from_secs(25)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(50)));
    }
}
