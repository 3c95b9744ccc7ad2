//! The drill's AWS side, in moto: the jobs queue with its dead-letter queue (redrive one
//! delivery above the worker's own limit, as docs/jobs.md recommends) and the result bucket.

use std::collections::BTreeMap;

use anyhow::{ensure, Context};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};

pub const QUEUE_NAME: &str = "facerec-jobs";
pub const DLQ_NAME: &str = "facerec-jobs-dlq";
pub const BUCKET: &str = "facerec-results";
pub const RESULT_PREFIX: &str = "results";
/// The worker's `FACEREC_MAX_RECEIVE_COUNT` default; the redrive policy allows one more.
pub const WORKER_MAX_RECEIVE_COUNT: u32 = 5;

pub use facerec_aws_support::sqs::QueueDepth;

pub struct DrillAws {
    pub endpoint: String,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub queue_url: String,
    pub dlq_url: String,
}

/// The SDK environment every drill process gets: loopback endpoint, fake credentials,
/// and no instance metadata lookups for credentials or region.
pub use facerec_moto_server::aws_env;

impl DrillAws {
    /// Create the queue, DLQ and bucket in the moto at `endpoint`.
    pub async fn create(endpoint: &str, visibility_timeout_s: u64) -> anyhow::Result<DrillAws> {
        let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "drill",
            ))
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&cfg);
        let s3 = facerec_worker_runtime::aws::s3_client(&cfg);

        let dlq_url = sqs
            .create_queue()
            .queue_name(DLQ_NAME)
            .send()
            .await
            .context("create DLQ")?
            .queue_url
            .context("DLQ has no URL")?;
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context("DLQ attributes")?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("DLQ has no ARN")?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": (WORKER_MAX_RECEIVE_COUNT + 1).to_string(),
        });
        let queue_url = sqs
            .create_queue()
            .queue_name(QUEUE_NAME)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout_s.to_string(),
            )
            .send()
            .await
            .context("create jobs queue")?
            .queue_url
            .context("jobs queue has no URL")?;
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .context("create result bucket")?;
        Ok(DrillAws {
            endpoint: endpoint.to_string(),
            sqs,
            s3,
            queue_url,
            dlq_url,
        })
    }

    /// Environment for a worker consuming this queue (plus [`aws_env`]).
    pub fn worker_env(&self) -> Vec<(String, String)> {
        let mut env = aws_env(&self.endpoint);
        env.push(("QUEUE_URL".into(), self.queue_url.clone()));
        env.push(("DLQ_URL".into(), self.dlq_url.clone()));
        env.push((
            "RESULT_PREFIX".into(),
            format!("s3://{BUCKET}/{RESULT_PREFIX}"),
        ));
        env
    }

    pub async fn send_jobs(&self, bodies: &[String]) -> anyhow::Result<()> {
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(b)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("send jobs")?;
            ensure!(out.failed.is_empty(), "send failed: {:?}", out.failed);
        }
        Ok(())
    }

    pub async fn counts(&self, queue_url: &str) -> anyhow::Result<QueueDepth> {
        facerec_aws_support::sqs::queue_depth(&self.sqs, queue_url)
            .await
            .map_err(|e| anyhow::anyhow!("GetQueueAttributes {queue_url}: {}", e.detail()))
    }

    /// Keys under the result prefix, as job ids (`results/{id}.json` → `id`); cheap.
    pub async fn result_ids(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(format!("{RESULT_PREFIX}/"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for o in page.context("list results")?.contents.unwrap_or_default() {
                let key = o.key.unwrap_or_default();
                let id = key
                    .strip_prefix(&format!("{RESULT_PREFIX}/"))
                    .and_then(|k| k.strip_suffix(".json"))
                    .unwrap_or(&key);
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    /// Every stored result document, by the job id in its key.
    pub async fn result_documents(&self) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
        let mut out = BTreeMap::new();
        for id in self.result_ids().await? {
            let key = format!("{RESULT_PREFIX}/{id}.json");
            let body = self
                .s3
                .get_object()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await
                .with_context(|| format!("get {key}"))?
                .body
                .collect()
                .await
                .with_context(|| format!("read {key}"))?
                .into_bytes();
            let doc: serde_json::Value =
                serde_json::from_slice(&body).with_context(|| format!("{key} is not JSON"))?;
            out.insert(id, doc);
        }
        Ok(out)
    }
}
