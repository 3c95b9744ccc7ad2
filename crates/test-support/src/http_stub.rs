//! A loopback HTTP stub that records every request and answers with a canned reply: the
//! Lambda Runtime API for the packaged binaries, and responses moto cannot give
//! (throttling, canned errors). Used by the Spot handler's and the backlog scaler's tests.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub headers: String,
    pub body: String,
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

/// The Lambda Runtime API for one invocation: the first `next` hands out `event` as
/// invocation `req-1` of `function_name`, due a minute from now; later `next` calls fail,
/// which makes the runtime exit once it has posted its answer (accepted, 202).
pub async fn runtime_api_with_one_event(function_name: &str, event: String) -> Stub {
    let function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
    let served = AtomicBool::new(false);
    Stub::start(move |request| {
        let first_line = request.headers.lines().next().unwrap_or_default();
        if first_line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            if served.swap(true, Ordering::SeqCst) {
                return Reply {
                    status: 500,
                    headers: vec![],
                    body: String::new(),
                };
            }
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis();
            return Reply {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Lambda-Runtime-Aws-Request-Id".into(), "req-1".into()),
                    (
                        "Lambda-Runtime-Deadline-Ms".into(),
                        (now_ms + 60_000).to_string(),
                    ),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn".into(),
                        function_arn.clone(),
                    ),
                ],
                body: event.clone(),
            };
        }
        Reply {
            status: 202,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: r#"{"status":"OK"}"#.into(),
        }
    })
    .await
}

/// A Lambda bootstrap as Lambda starts function `function_name`: a clean environment
/// with the Runtime API at `runtime_api`, the test's region and credentials, AWS at
/// `aws_endpoint`, stdout and stderr piped for [`answer_to_first_invocation`]. The
/// caller adds the function's own variables and spawns it.
pub fn lambda_bootstrap(
    binary: &str,
    runtime_api: &Stub,
    function_name: &str,
    aws_endpoint: &str,
) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            runtime_api.endpoint.trim_start_matches("http://"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A Lambda bootstrap's cold start with only `variables` set (and a Runtime API it never
/// reaches) must fail; returns what it printed, stdout and stderr together.
pub fn failed_cold_start(binary: &str, variables: &[(&str, &str)]) -> String {
    let out = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // never reached
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .envs(variables.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success());
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits (at most 30 s) until `child`, a Lambda bootstrap pointed at `runtime_api`, posts
/// its answer to invocation `req-1`; then gives it a moment to ask for the next event,
/// stops it, and returns that answer with the child's stdout and stderr.
pub async fn answer_to_first_invocation(
    runtime_api: &Stub,
    child: &mut Child,
) -> (Recorded, String, String) {
    let started = Instant::now();
    let response = loop {
        let posted = runtime_api.requests().into_iter().find(|r| {
            r.headers
                .starts_with("POST /2018-06-01/runtime/invocation/req-1/")
        });
        if let Some(r) = posted {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no response posted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (response, stdout, stderr)
}

/// What a Lambda bootstrap answered to its one invocation: the response payload and its
/// stdout, each line parsed as JSON (log and EMF records alike), and as text.
pub struct Invocation {
    pub payload: serde_json::Value,
    pub lines: Vec<serde_json::Value>,
    pub stdout: String,
}

/// Runs `binary` as Lambda function `function_name` with `variables` and AWS at
/// `aws_endpoint`, hands it `event` through [`runtime_api_with_one_event`], and returns
/// its answer; asserts the answer is a response (not an error) and every stdout line is
/// JSON.
pub async fn invoke_once(
    binary: &str,
    function_name: &str,
    event: String,
    aws_endpoint: &str,
    variables: &[(&str, &str)],
) -> Invocation {
    let runtime_api = runtime_api_with_one_event(function_name, event).await;
    let mut child = lambda_bootstrap(binary, &runtime_api, function_name, aws_endpoint)
        .envs(variables.iter().copied())
        .spawn()
        .unwrap();
    let (response, stdout, stderr) = answer_to_first_invocation(&runtime_api, &mut child).await;
    assert!(
        response.headers.contains("/invocation/req-1/response"),
        "the function reported an error: {} {}\nstderr: {stderr}",
        response.headers,
        response.body
    );
    let payload = serde_json::from_str(&response.body).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Invocation {
        payload,
        lines,
        stdout,
    }
}

/// The packaged bootstrap that `variable` names (a build script sets it before zipping).
pub fn packaged_bootstrap(variable: &str) -> String {
    std::env::var(variable)
        .unwrap_or_else(|_| panic!("{variable} must name the packaged bootstrap"))
}
