//! SDK configuration for tests: a loopback endpoint, a fixed region and dummy credentials;
//! never the instance metadata service. These are the tests' own set-up clients: the
//! components' production clients (with their app names) are built by the components.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

/// The environment every test that touches the SDK runs with (the Makefile exports the
/// same): no IMDS, fixed region, dummy credentials. Set once per test binary.
pub fn set_test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in [
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ] {
            std::env::set_var(k, v);
        }
    });
}

/// The SDK's defaults pointed at `endpoint` (moto or a stub on 127.0.0.1), region
/// us-east-1, credentials `test`/`test`; add retry or timeout settings, then load.
pub fn loopback_loader(endpoint: &str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
}

/// [`loopback_loader`], loaded.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    loopback_loader(endpoint).load().await
}

/// The environment every process that touches the SDK gets in tests.
pub use facerec_moto_server::aws_env;

/// Creates the SQS queue `name` (default attributes); returns its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}
