//! The worker runtime's test bed (feature `worker-runtime`): where a behavioural test
//! runs ([`Backend`]: SQS and S3 on moto, or the embedded queue), test jobs and the
//! in-process test handler. Used by facerec-worker-runtime's tests and benchmarks and by
//! facerec-worker's tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use facerec_worker_runtime::queue::embedded::EmbeddedQueue;
use facerec_worker_runtime::queue::sqs::SqsQueue;
use facerec_worker_runtime::queue::{JobQueue, ATTR_DETAIL, ATTR_REASON, ATTR_RECEIVE_COUNT};
use facerec_worker_runtime::results::{ResultSinks, S3Prefix};

use crate::{aws_env, sdk_config, Moto};

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
                for key in result_keys(s3, bucket).await {
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
                for key in result_keys(s3, bucket).await {
                    let id = key.trim_start_matches("results/").trim_end_matches(".json");
                    out.insert(id.to_string(), ());
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
        crate::create_queue(sqs, name).await
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

/// The keys of the result documents in `bucket` (under `results/`), every page of them.
async fn result_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("results/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents.unwrap_or_default() {
            keys.push(o.key.unwrap());
        }
    }
    keys
}

pub fn job(id: &str, sleep_ms: u64) -> String {
    serde_json::json!({"job_id": id, "sleep_ms": sleep_ms}).to_string()
}

pub fn failing_job(id: &str, fail: &str) -> String {
    serde_json::json!({"job_id": id, "sleep_ms": 0, "fail": fail}).to_string()
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
