//! SDK configuration as the components build it.
//!
//! Every production client names its component in the user agent (`app/<name>`):
//! CloudTrail shows which component made a call, and the IAM proof (tools/iam/prove.py)
//! attributes the calls it records in the test suite by it. Each component keeps its own
//! name as a constant where its clients are built; these helpers only apply it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, ConfigLoader, SdkConfig};

/// `name` as the SDK's application name. Panics on a name the SDK refuses (a constant of
/// ours, so a bug caught by the first test that builds a client).
pub fn app_name(name: &'static str) -> AppName {
    AppName::new(name).expect("a valid app name")
}

/// The SDK's defaults (environment, profiles) with `name` as the application name; the
/// caller adds its own overrides (region, endpoint) and loads.
pub fn defaults(name: &'static str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).app_name(app_name(name))
}

/// `sdk` with `name` as its application name, for clients built from a configuration
/// loaded elsewhere (the Lambdas load theirs once per cold start).
pub fn with_app_name(sdk: &SdkConfig, name: &'static str) -> SdkConfig {
    sdk.to_builder().app_name(app_name(name)).build()
}

/// A 3-s connect timeout and a bound on each attempt, so a silently dead connection is
/// noticed; `attempt` must outlast the longest call the client makes (a long poll).
pub fn attempt_timeouts(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .build()
}

/// [`attempt_timeouts`] and a bound on the whole operation, retries included, so no call
/// outlasts `operation` (the SDK sets neither by default:
/// <https://docs.aws.amazon.com/sdk-for-rust/latest/dg/timeouts.html>).
pub fn bounded_timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_name_applied_to_a_loaded_configuration() {
        let sdk = SdkConfig::builder().build();
        let named = with_app_name(&sdk, "facerec-test");
        assert_eq!(named.app_name().map(|n| n.as_ref()), Some("facerec-test"));
    }

    #[test]
    fn attempt_timeouts_bound_connect_and_attempt() {
        let t = attempt_timeouts(Duration::from_secs(30));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn bounded_timeouts_bound_the_operation_too() {
        let t = bounded_timeouts(Duration::from_secs(3), Duration::from_secs(7));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(7)));
    }
}
