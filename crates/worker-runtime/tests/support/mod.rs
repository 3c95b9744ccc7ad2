//! Test support: a moto server per test, SDK clients pointed at it, a pausable TCP proxy
//! (the "endpoint goes away" test), loopback stand-ins for the ECS agent and IMDS, and
//! the test worker process.
//!
//! Stand-ins (documented in docs/jobs.md § Testing):
//! * [`AgentStandIn`] — answers `PUT /task-protection/v1/state` like the ECS agent and
//!   records every request body.
//! * [`ImdsStandIn`] — IMDSv2: `PUT /latest/api/token` issues a token; `GET
//!   /latest/meta-data/spot/instance-action` needs it and answers 404 until a notice is
//!   posted with [`ImdsStandIn::post_notice`]. [`ImdsStandIn::start_down`] answers 503 to
//!   everything until [`ImdsStandIn::come_up`] (a metadata service slow at boot).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use facerec_worker_runtime::queue::embedded::EmbeddedQueue;
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::queue::{JobQueue, ATTR_DETAIL, ATTR_REASON, ATTR_RECEIVE_COUNT};
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    _server: facerec_moto_server::MotoServer, // kept alive: dropping it stops moto
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let server = facerec_moto_server::MotoServer::start();
        let endpoint = server.endpoint().to_string();
        Moto {
            _server: server,
            endpoint,
        }
    }
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// The environment every process that touches the SDK gets in tests.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A message found in a dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub body: String,
    pub reason: String,
    pub detail: String,
    pub receive_count: String,
    /// Every message attribute as a string (SQS string values; embedded attributes).
    pub attributes: BTreeMap<String, String>,
}

/// Where a behavioural test runs: SQS on moto, or the embedded queue.
pub enum Backend {
    Sqs {
        moto: Moto,
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        queue_url: String,
        dlq_url: String,
        bucket: String,
    },
    Embedded {
        _dir: tempfile::TempDir,
        path: PathBuf,
        queue: EmbeddedQueue,
    },
}

pub const MAX_RECEIVE_COUNT: u32 = 3;

impl Backend {
    pub async fn sqs() -> Backend {
        let moto = Moto::start();
        Self::sqs_on(moto).await
    }

    pub async fn sqs_on(moto: Moto) -> Backend {
        let cfg = sdk_config(&moto.endpoint).await;
        let sqs = aws_sdk_sqs::Client::new(&cfg);
        let s3 = facerec_worker_runtime::aws::s3_client(&cfg);
        let dlq_url = sqs
            .create_queue()
            .queue_name("jobs-dlq")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        // The redrive policy mirrors production; the worker dead-letters first, explicitly.
        let redrive = format!(
            r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{}"}}"#,
            MAX_RECEIVE_COUNT + 1
        );
        let queue_url = sqs
            .create_queue()
            .queue_name("jobs")
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let bucket = "results".to_string();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        Backend::Sqs {
            moto,
            sqs,
            s3,
            queue_url,
            dlq_url,
            bucket,
        }
    }

    pub fn embedded() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let queue = EmbeddedQueue::open(&path, "jobs", MAX_RECEIVE_COUNT).unwrap();
        Backend::Embedded {
            _dir: dir,
            path,
            queue,
        }
    }

    pub fn is_sqs(&self) -> bool {
        matches!(self, Backend::Sqs { .. })
    }

    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Backend::Sqs { moto, .. } => Some(&moto.endpoint),
            Backend::Embedded { .. } => None,
        }
    }

    pub async fn send(&self, bodies: &[String]) {
        match self {
            Backend::Sqs { sqs, queue_url, .. } => {
                for chunk in bodies.chunks(10) {
                    let entries = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, b)| {
                            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                                .id(i.to_string())
                                .message_body(b)
                                .build()
                                .unwrap()
                        })
                        .collect();
                    let out = sqs
                        .send_message_batch()
                        .queue_url(queue_url)
                        .set_entries(Some(entries))
                        .send()
                        .await
                        .unwrap();
                    assert!(out.failed.is_empty());
                }
            }
            Backend::Embedded { queue, .. } => {
                queue.send_batch(bodies).await.unwrap();
            }
        }
    }

    /// Send one message carrying a producer attribute (`name` = `value`, a string).
    pub async fn send_with_attribute(&self, body: &str, name: &str, value: &str) {
        match self {
            Backend::Sqs { sqs, queue_url, .. } => {
                sqs.send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .message_attributes(
                        name,
                        aws_sdk_sqs::types::MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(value)
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            Backend::Embedded { queue, .. } => {
                let attrs = BTreeMap::from([(name.to_string(), value.to_string())]);
                queue.send_with_attributes(body, &attrs).await.unwrap();
            }
        }
    }

    pub fn sinks(&self) -> ResultSinks {
        match self {
            Backend::Sqs { s3, bucket, .. } => ResultSinks::default().with_s3(
                s3.clone(),
                S3Prefix::parse(&format!("s3://{bucket}/results")).unwrap(),
            ),
            Backend::Embedded { queue, .. } => ResultSinks::default().with_embedded(queue.clone()),
        }
    }

    /// Job ids with a stored result, with how many result documents each has.
    pub async fn results(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        match self {
            Backend::Sqs { s3, bucket, .. } => {
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix("results/")
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    for o in page.unwrap().contents.unwrap_or_default() {
                        let key = o.key.unwrap();
                        let body = s3
                            .get_object()
                            .bucket(bucket)
                            .key(&key)
                            .send()
                            .await
                            .unwrap()
                            .body
                            .collect()
                            .await
                            .unwrap()
                            .into_bytes();
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let id = key
                            .strip_prefix("results/")
                            .unwrap()
                            .strip_suffix(".json")
                            .unwrap()
                            .to_string();
                        assert_eq!(v["job_id"], id.as_str(), "result stored under its job id");
                        out.insert(id, v);
                    }
                }
            }
            Backend::Embedded { path, .. } => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare("SELECT job_id, body FROM results").unwrap();
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .unwrap();
                for row in rows {
                    let (id, body) = row.unwrap();
                    out.insert(id, serde_json::from_str(&body).unwrap());
                }
            }
        }
        out
    }

    /// Job ids with a stored result (cheap: S3 keys only, no GETs).
    pub async fn result_ids(&self) -> BTreeMap<String, ()> {
        match self {
            Backend::Sqs { s3, bucket, .. } => {
                let mut out = BTreeMap::new();
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix("results/")
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    for o in page.unwrap().contents.unwrap_or_default() {
                        let key = o.key.unwrap();
                        let id = key.trim_start_matches("results/").trim_end_matches(".json");
                        out.insert(id.to_string(), ());
                    }
                }
                out
            }
            Backend::Embedded { .. } => self.results().await.into_keys().map(|k| (k, ())).collect(),
        }
    }

    /// (visible, in flight) on the job queue.
    pub async fn counts(&self) -> (u64, u64) {
        match self {
            Backend::Sqs { sqs, queue_url, .. } => {
                let a = sqs
                    .get_queue_attributes()
                    .queue_url(queue_url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .send()
                    .await
                    .unwrap()
                    .attributes
                    .unwrap();
                let get = |k: QueueAttributeName| a[&k].parse::<u64>().unwrap();
                (
                    get(QueueAttributeName::ApproximateNumberOfMessages),
                    get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                )
            }
            Backend::Embedded { queue, .. } => {
                let c = queue.counts().await.unwrap();
                (c.visible, c.in_flight)
            }
        }
    }

    /// Brings `so_far` up to everything dead-lettered since the test began, for polling
    /// loops: `dead_letters` drains SQS (each message comes once) but only reads the
    /// embedded queue (each call returns them all again), so appending its result would
    /// count an embedded dead letter once per poll.
    pub async fn collect_dead_letters(&self, so_far: &mut Vec<DeadLetter>) {
        let now = self.dead_letters().await;
        match self {
            Backend::Sqs { .. } => so_far.extend(now),
            Backend::Embedded { .. } => *so_far = now,
        }
    }

    /// Everything in the dead-letter queue (drains it on SQS).
    pub async fn dead_letters(&self) -> Vec<DeadLetter> {
        match self {
            Backend::Sqs { sqs, dlq_url, .. } => {
                let mut out = Vec::new();
                loop {
                    let r = sqs
                        .receive_message()
                        .queue_url(dlq_url)
                        .max_number_of_messages(10)
                        .message_attribute_names("All")
                        .message_system_attribute_names(MessageSystemAttributeName::All)
                        .visibility_timeout(600)
                        .send()
                        .await
                        .unwrap();
                    let msgs = r.messages.unwrap_or_default();
                    if msgs.is_empty() {
                        break;
                    }
                    for m in msgs {
                        let reason = m
                            .message_attributes
                            .as_ref()
                            .and_then(|a| a.get(ATTR_REASON))
                            .and_then(|v| v.string_value.clone())
                            .unwrap_or_default();
                        let attributes: BTreeMap<String, String> = m
                            .message_attributes
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.string_value.unwrap_or_default()))
                            .collect();
                        let receive_count = attributes
                            .get(ATTR_RECEIVE_COUNT)
                            .cloned()
                            .unwrap_or_default();
                        let detail = attributes.get(ATTR_DETAIL).cloned().unwrap_or_default();
                        out.push(DeadLetter {
                            body: m.body.unwrap_or_default(),
                            reason,
                            detail,
                            receive_count,
                            attributes,
                        });
                    }
                }
                out
            }
            Backend::Embedded { queue, .. } => queue
                .dead_letter_queue()
                .peek_all()
                .await
                .unwrap()
                .into_iter()
                .map(|(body, attrs)| DeadLetter {
                    body,
                    reason: attrs[ATTR_REASON].as_str().unwrap_or_default().to_string(),
                    detail: attrs[ATTR_DETAIL].as_str().unwrap_or_default().to_string(),
                    receive_count: attrs[ATTR_RECEIVE_COUNT]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    attributes: attrs
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Create an SQS queue named `name` on this (SQS) backend; returns its URL.
    pub async fn create_queue(&self, name: &str) -> String {
        let Backend::Sqs { sqs, .. } = self else {
            panic!("not an SQS backend")
        };
        sqs.create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Drain a result queue: job id (`facerec.job-id` attribute) → number of messages.
    pub async fn drain_result_queue(&self, url: &str) -> BTreeMap<String, u32> {
        let Backend::Sqs { sqs, .. } = self else {
            panic!("not an SQS backend")
        };
        let mut out = BTreeMap::new();
        loop {
            let msgs = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .visibility_timeout(600)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                let id = m
                    .message_attributes()
                    .and_then(|a| a.get("facerec.job-id"))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_string();
                *out.entry(id).or_default() += 1;
            }
        }
    }

    /// Environment for a test worker process consuming this backend.
    pub fn worker_env(&self) -> Vec<(String, String)> {
        match self {
            Backend::Sqs {
                moto,
                queue_url,
                dlq_url,
                bucket,
                ..
            } => {
                let mut env = aws_env(&moto.endpoint);
                env.push(("QUEUE_URL".into(), queue_url.clone()));
                env.push(("DLQ_URL".into(), dlq_url.clone()));
                env.push(("RESULT_PREFIX".into(), format!("s3://{bucket}/results")));
                env
            }
            Backend::Embedded { path, .. } => {
                let mut env = aws_env("http://127.0.0.1:9");
                env.push(("FACEREC_EMBEDDED_QUEUE".into(), path.display().to_string()));
                env
            }
        }
    }

    pub fn sqs_queue(&self, client: aws_sdk_sqs::Client) -> SqsQueue {
        match self {
            Backend::Sqs {
                queue_url, dlq_url, ..
            } => SqsQueue::new(client, queue_url.clone(), Some(dlq_url.clone())),
            _ => panic!("not an SQS backend"),
        }
    }

    pub fn embedded_queue(&self) -> EmbeddedQueue {
        match self {
            Backend::Embedded { queue, .. } => queue.clone(),
            _ => panic!("not an embedded backend"),
        }
    }

    /// Wait until `cond(results, counts)` holds or `timeout` passes; returns whether it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&BTreeMap<String, ()>, (u64, u64)) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let r = self.result_ids().await;
            let c = self.counts().await;
            if cond(&r, c) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub fn job(id: &str, sleep_ms: u64) -> String {
    serde_json::json!({"job_id": id, "sleep_ms": sleep_ms}).to_string()
}

pub fn failing_job(id: &str, fail: &str) -> String {
    serde_json::json!({"job_id": id, "sleep_ms": 0, "fail": fail}).to_string()
}

/// The test worker binary (src/bin/test_worker.rs), built by cargo for integration tests.
pub fn test_worker_bin() -> PathBuf {
    // option_env!: this module is also included by the facerec-worker crate's tests.
    match option_env!("CARGO_BIN_EXE_facerec-test-worker") {
        Some(p) => PathBuf::from(p),
        None => panic!("the test worker exists only in facerec-worker-runtime's tests"),
    }
}

/// A test worker process; killed on drop if still running.
pub struct WorkerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    pub fn spawn(
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log_dir: &Path,
        name: &str,
    ) -> Self {
        Self::spawn_bin(&test_worker_bin(), env, extra, log_dir, name)
    }

    pub fn spawn_bin(
        bin: &Path,
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log_dir: &Path,
        name: &str,
    ) -> Self {
        Self::spawn_with_args(bin, &[], env, extra, log_dir, name)
    }

    pub fn spawn_with_args(
        bin: &Path,
        args: &[&str],
        env: &[(String, String)],
        extra: &[(&str, &str)],
        log_dir: &Path,
        name: &str,
    ) -> Self {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FACEREC_LOG_FORMAT", "json")
            .env("FACEREC_HEALTH_FILE", log_dir.join(format!("{name}.alive")))
            .env("FACEREC_CGROUP_DIR", "/nonexistent")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(file);
        WorkerProcess {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle`.
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log_text().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for exit; returns (exit status, elapsed) or None on timeout.
    pub async fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> Option<(std::process::ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some((s, start.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP forwarder that can be switched off (refusing and cutting connections) to play
/// an endpoint outage between the worker and moto.
pub struct OutageProxy {
    pub endpoint: String,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl OutageProxy {
    pub async fn start(upstream: &str) -> OutageProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound); // connection reset: the endpoint is "gone"
                    continue;
                }
                let upstream = upstream.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(h.abort_handle());
            }
        });
        OutageProxy {
            endpoint,
            down,
            conns,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for h in self.conns.lock().unwrap().drain(..) {
                h.abort();
            }
        }
    }
}

type Responder = Arc<dyn Fn(&str, &str, &str, &str) -> (u16, String) + Send + Sync>;

/// Minimal HTTP server loop for the stand-ins: calls `respond(method, path, headers, body)`.
async fn serve(listener: TcpListener, respond: Responder) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let respond = respond.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            // Read head, then Content-Length bytes of body.
            let (head, body) = loop {
                let n = match s.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&tmp[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let mut first = head.lines().next().unwrap_or("").split_whitespace();
            let method = first.next().unwrap_or("").to_string();
            let path = first.next().unwrap_or("").to_string();
            let (status, resp) = respond(&method, &path, &head, &body);
            let out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                resp.len()
            );
            let _ = s.write_all(out.as_bytes()).await;
        });
    }
}

/// Stand-in for the ECS agent's task protection endpoint.
pub struct AgentStandIn {
    pub uri: String,
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl AgentStandIn {
    pub async fn start() -> AgentStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/api/task-1", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let r = requests.clone();
        tokio::spawn(serve(
            listener,
            Arc::new(move |method, path, _h, body| {
                if method != "PUT" || path != "/api/task-1/task-protection/v1/state" {
                    return (404, "{}".into());
                }
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                r.lock().unwrap().push(v.clone());
                (
                    200,
                    serde_json::json!({"protection": {"ProtectionEnabled": v["ProtectionEnabled"]}})
                        .to_string(),
                )
            }),
        ));
        AgentStandIn { uri, requests }
    }

    pub fn states(&self) -> Vec<bool> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["ProtectionEnabled"].as_bool().unwrap_or(false))
            .collect()
    }
}

/// Stand-in for IMDSv2 with a switchable Spot notice.
pub struct ImdsStandIn {
    pub endpoint: String,
    notice: Arc<Mutex<Option<String>>>,
    pub unauthorized: Arc<Mutex<u32>>,
    /// While set, every request is answered 503 (the metadata service not up yet).
    down: Arc<AtomicBool>,
    /// Requests answered while down.
    pub refused: Arc<Mutex<u32>>,
}

impl ImdsStandIn {
    pub async fn start() -> ImdsStandIn {
        Self::start_with(false).await
    }

    /// A stand-in that refuses (503) until [`ImdsStandIn::come_up`].
    pub async fn start_down() -> ImdsStandIn {
        Self::start_with(true).await
    }

    pub fn come_up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    async fn start_with(down: bool) -> ImdsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let notice: Arc<Mutex<Option<String>>> = Arc::default();
        let unauthorized: Arc<Mutex<u32>> = Arc::default();
        let down = Arc::new(AtomicBool::new(down));
        let refused: Arc<Mutex<u32>> = Arc::default();
        let (n, u, d, r) = (
            notice.clone(),
            unauthorized.clone(),
            down.clone(),
            refused.clone(),
        );
        tokio::spawn(serve(
            listener,
            Arc::new(move |method, path, head, _body| {
                if d.load(Ordering::SeqCst) {
                    *r.lock().unwrap() += 1;
                    return (503, String::new());
                }
                let head = head.to_ascii_lowercase();
                match (method, path) {
                    ("PUT", "/latest/api/token") => {
                        if head.contains("x-aws-ec2-metadata-token-ttl-seconds:") {
                            (200, "stand-in-token".into())
                        } else {
                            (400, String::new())
                        }
                    }
                    ("GET", "/latest/meta-data/spot/instance-action") => {
                        if !head.contains("x-aws-ec2-metadata-token: stand-in-token") {
                            *u.lock().unwrap() += 1;
                            return (401, String::new());
                        }
                        match n.lock().unwrap().clone() {
                            Some(body) => (200, body),
                            None => (404, String::new()),
                        }
                    }
                    _ => (404, String::new()),
                }
            }),
        ));
        ImdsStandIn {
            endpoint,
            notice,
            unauthorized,
            down,
            refused,
        }
    }

    pub fn post_notice(&self) {
        *self.notice.lock().unwrap() =
            Some(r#"{"action":"terminate","time":"2026-11-27T18:00:00Z"}"#.into());
    }
}

/// Run `f` against a `JobQueue`-typed handle of the backend (SQS or embedded).
pub async fn sqs_client_for(endpoint: &str, wait: Duration) -> aws_sdk_sqs::Client {
    let cfg = sdk_config(endpoint).await;
    facerec_worker_runtime::aws::sqs_client(&cfg, wait)
}

/// Make the trait-generic API usable in `match` arms.
pub fn assert_queue<Q: JobQueue>(_q: &Q) {}

/// The in-process twin of the test worker's handler (see src/bin/test_worker.rs), which
/// also counts its executions per job id (shared by clones), so tests can tell a job run
/// twice from a result written twice. Extra `fail` modes: `panic`, and `hang` (never
/// returns; for the job time limit).
#[derive(Clone, Default)]
pub struct TestHandler {
    pub executions: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl TestHandler {
    pub fn executions(&self) -> BTreeMap<String, u32> {
        self.executions.lock().unwrap().clone()
    }

    /// Job ids executed more than once.
    pub fn repeated(&self) -> Vec<(String, u32)> {
        self.executions()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect()
    }
}

#[derive(serde::Deserialize)]
pub struct TestJob {
    job_id: String,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    fail: String,
}

impl facerec_worker_runtime::JobHandler for TestHandler {
    type Job = TestJob;

    fn parse(&self, body: &str) -> Result<TestJob, facerec_worker_runtime::JobError> {
        serde_json::from_str(body).map_err(|e| {
            facerec_worker_runtime::JobError::permanent("malformed_json", e.to_string())
        })
    }

    fn job_id(job: &TestJob) -> &str {
        &job.job_id
    }

    async fn handle(
        &self,
        job: TestJob,
    ) -> Result<facerec_worker_runtime::JobOutput, facerec_worker_runtime::JobError> {
        use facerec_worker_runtime::JobError;
        *self
            .executions
            .lock()
            .unwrap()
            .entry(job.job_id.clone())
            .or_default() += 1;
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
        match job.fail.as_str() {
            "transient" => Err(JobError::transient("test_transient", "told to fail")),
            "corrupt" => Err(JobError::permanent("corrupt_image", "not an image")),
            "panic" => panic!("test handler told to panic"),
            "hang" => std::future::pending().await,
            _ => Ok(facerec_worker_runtime::JobOutput {
                result: serde_json::json!({"job_id": job.job_id}),
                faces_found: 1,
            }),
        }
    }
}

/// Log line the test worker writes once per handler execution (src/bin/test_worker.rs).
pub const EXECUTION_LOG: &str = "test handler executing";

/// Job ids of the JSON log lines whose message is `message`, with how often each appears.
pub fn log_job_ids(log: &str, message: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["message"] == message {
            if let Some(id) = v["job_id"].as_str() {
                *out.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    out
}
