//! Test infrastructure: moto per test and a recording HTTP stub for the responses moto
//! cannot give (throttling, canned errors, the Lambda Runtime API), both from
//! facerec-test-support; SDK configuration pointed at either; canned AWS error bodies.

#![allow(dead_code)] // each test binary uses a different subset

pub mod cluster;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
#[allow(unused_imports)] // not every test binary uses the stub
pub use facerec_test_support::{
    failed_cold_start, invoke_once, packaged_bootstrap, Moto, Recorded, Reply, Stub,
};

/// The environment common.md requires of anything touching the SDK: no IMDS, fixed
/// region, dummy credentials.
pub fn sdk_env() {
    facerec_test_support::set_test_env();
}

/// A moto server for one test, started once the test environment is set.
pub fn start_moto() -> Moto {
    sdk_env();
    Moto::start()
}

/// SDK configuration for a loopback endpoint; retries off so error tests see one call.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_env();
    facerec_test_support::loopback_loader(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// An awsQuery error body.
pub fn autoscaling_error(status: u16, code: &str, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: format!(
            "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>stub</RequestId></ErrorResponse>"
        ),
    }
}

/// An awsJson1_1 error body as ECS returns it.
pub fn ecs_error(status: u16, code: &str, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("x-amzn-ErrorType".into(), code.into()),
        ],
        body: format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
    }
}
