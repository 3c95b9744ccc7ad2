//! SDK clients for `submit`, `results` and `status`: the standard environment (region, credentials,
//! `AWS_ENDPOINT_URL`…) with `--region`, `--profile` and `--endpoint-url` (LocalStack,
//! moto) over it, and path-style S3 addressing whenever an endpoint is overridden.
//!
//! [`clients`] fails fast and once: no region or no credentials is one line naming the
//! fix, before any photo is read or uploaded (the SDK would otherwise fail every call,
//! one error line per photo).

use std::time::Duration;

use aws_sdk_sqs::config::ProvideCredentials;

pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

/// Where and as whom the fleet commands call AWS.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsArgs {
    /// AWS endpoint override (LocalStack, moto); also read from AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS region [default: AWS_REGION, then the profile's region].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile of ~/.aws/config and ~/.aws/credentials [default: AWS_PROFILE].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// The `app/<name>` in the user agent of the fleet commands' requests: CloudTrail shows
/// them as the CLI's, and the IAM proof (tools/iam/prove.py) checks them against the
/// producer policy.
pub const APP_NAME: &str = "facerec-cli";

/// How long resolving credentials may take (the default chain tries the environment,
/// profiles, SSO, the container and instance endpoints in turn).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn clients(aws: &AwsArgs) -> anyhow::Result<Clients> {
    let sdk = sdk_config(aws).await?;
    Ok(Clients {
        sqs: facerec_worker_runtime::aws::sqs_client(&sdk, Duration::from_secs(20)),
        s3: facerec_worker_runtime::aws::s3_client(&sdk),
    })
}

/// The SDK configuration every fleet command's clients are built from (`status` builds
/// its ECS and Auto Scaling clients from it), after the region and credential checks.
pub async fn sdk_config(aws: &AwsArgs) -> anyhow::Result<aws_config::SdkConfig> {
    let mut loader = facerec_aws_support::sdk::defaults(APP_NAME);
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &aws.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        anyhow::bail!(
            "no AWS region: pass --region (e.g. --region eu-west-1), set AWS_REGION, or give the profile a region"
        );
    }
    let Some(provider) = sdk.credentials_provider() else {
        anyhow::bail!("no AWS credentials provider configured");
    };
    match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => anyhow::bail!(
            "no AWS credentials: {} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws sso login`)",
            // The chain lists each provider it tried on its own line: one line here.
            chain(&e).split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        Err(_) => anyhow::bail!(
            "no AWS credentials within {} s (the credential chain did not answer)",
            CREDENTIALS_TIMEOUT.as_secs()
        ),
    }
    Ok(sdk)
}

/// An SDK error with its sources, on one line.
pub use facerec_aws_support::chain;
