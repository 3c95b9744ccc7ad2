//! SDK clients for `submit` and `results`: the standard environment (region, credentials,
//! `AWS_ENDPOINT_URL`…) plus an optional `--endpoint-url` (LocalStack, moto), with
//! path-style S3 addressing whenever an endpoint is overridden.

use std::time::Duration;

pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The `app/<name>` in the user agent of the fleet commands' requests: CloudTrail shows
/// them as the CLI's, and the IAM proof (tools/iam/prove.py) checks them against the
/// producer policy.
pub const APP_NAME: &str = "facerec-cli";

pub async fn clients(endpoint_url: Option<&str>) -> Clients {
    let mut loader = facerec_aws_support::sdk::defaults(APP_NAME);
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    Clients {
        sqs: facerec_worker_runtime::aws::sqs_client(&sdk, Duration::from_secs(20)),
        s3: facerec_worker_runtime::aws::s3_client(&sdk),
    }
}

/// An SDK error with its sources, on one line.
pub use facerec_aws_support::chain;
