//! Test infrastructure: a moto server per test, a recording HTTP stub for the APIs moto
//! lacks, and SDK configuration pointed at either.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
}

/// Minimal HTTP/1.1 POST with a SigV4-shaped (unsigned) Authorization header, which is
/// how moto's single-port server tells services apart.
async fn http_post(endpoint: &str, service: &str, content_type: &str, body: &str) -> String {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n\
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

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub headers: String,
    pub body: String,
}

impl Recorded {
    /// A form parameter of an awsQuery request (values here need no URL decoding
    /// beyond `%3A`, which the SDK uses for the colon in `autoscaling:`).
    pub fn param(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.replace("%3A", ":"))
        })
    }
}

/// What the stub answers: status line code, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A loopback HTTP server that records every request and answers with `reply`.
pub struct Stub {
    pub endpoint: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    pub async fn start(reply: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(reply);
        let log = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let reply = reply.clone();
                tokio::spawn(async move {
                    // Keep-alive: serve requests on this connection until it closes.
                    let mut buf = Vec::new();
                    loop {
                        let Some(request) = read_request(&mut stream, &mut buf).await else {
                            return;
                        };
                        let answer = reply(&request);
                        log.lock().unwrap().push(request);
                        let mut out = format!(
                            "HTTP/1.1 {} Stub\r\nContent-Length: {}\r\n",
                            answer.status,
                            answer.body.len()
                        );
                        for (k, v) in &answer.headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&answer.body);
                        if stream.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Stub {
            endpoint,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = headers
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                buf.drain(..end + 4 + length);
                return Some(Recorded { headers, body });
            }
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The awsQuery success body Auto Scaling returns for an operation with empty output.
pub fn autoscaling_ok(action: &str) -> Reply {
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: format!(
            "<{action}Response xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
             <{action}Result/><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata>\
             </{action}Response>"
        ),
    }
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
