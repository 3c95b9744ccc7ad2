//! Test infrastructure: a moto server per test, a recording HTTP stub for the responses
//! moto cannot give (throttling, canned errors, the Lambda Runtime API), and SDK
//! configuration pointed at either.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The environment common.md requires of anything touching the SDK: no IMDS, fixed
/// region, dummy credentials.
pub fn sdk_env() {
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

/// SDK configuration for a loopback endpoint; retries off so error tests see one call.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    sdk_env();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// A moto_server started through the project's launcher; killed on drop.
pub struct Moto {
    _server: facerec_moto_server::MotoServer, // kept alive: dropping it stops moto
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        sdk_env();
        let server = facerec_moto_server::MotoServer::start();
        let endpoint = server.endpoint().to_string();
        Moto {
            _server: server,
            endpoint,
        }
    }

    /// Launches an EC2 instance in `az` and returns its id. A raw Query-API request, so
    /// the tests need not compile the (very large) EC2 SDK crate for this one call.
    pub async fn run_instance(&self, az: &str) -> String {
        let body = format!(
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1\
             &InstanceType=c6i.large&Placement.AvailabilityZone={az}"
        );
        let response = http_post(
            &self.endpoint,
            "ec2",
            "application/x-www-form-urlencoded",
            &[],
            &body,
        )
        .await;
        let start = response
            .find("<instanceId>")
            .expect("RunInstances response")
            + 12;
        let end = start + response[start..].find('<').unwrap();
        response[start..end].to_string()
    }

    /// A call to a JSON-protocol API (`target` like `AmazonSQS.CreateQueue` or
    /// `AWSEvents.PutRule`), by raw HTTP like [`Self::run_instance`]: the tests only need
    /// SQS and EventBridge to set up the delivery path, not their SDK crates. Returns the
    /// parsed response body; panics on anything but HTTP 200.
    pub async fn json_call(&self, service: &str, target: &str, body: &Value) -> Value {
        let content_type = if service == "sqs" {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        let response = http_post(
            &self.endpoint,
            service,
            content_type,
            &[("X-Amz-Target", target)],
            &body.to_string(),
        )
        .await;
        let (_, payload) = response
            .split_once("\r\n\r\n")
            .expect("HTTP response has a body");
        if payload.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("{target}: {e}: {payload}"))
    }
}

/// Minimal HTTP/1.1 POST with a SigV4-shaped (unsigned) Authorization header, which is
/// how moto's single-port server tells services apart.
async fn http_post(
    endpoint: &str,
    service: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{extra}\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

mod http_stub;
#[allow(unused_imports)] // not every test binary uses the stub
pub use http_stub::*;

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
