//! moto per test, and raw calls to it for the few set-ups whose SDK crate the tests
//! need not compile.

use facerec_moto_server::MotoServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    _server: MotoServer, // kept alive: dropping it stops moto
    pub endpoint: String,
}

impl Moto {
    /// Starts moto through the project's launcher ([`MotoServer::start`]); panics with
    /// the reason if it cannot.
    pub fn start() -> Self {
        let server = MotoServer::start();
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
