//! The result sinks that call AWS: an S3 prefix and a result queue (feature `aws`).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use facerec_aws_support::chain;

use super::{is_permanent_code, ResultError, ResultSinks, S3Prefix, StoredResult};
use crate::dependency::Dependency;

/// Results as `{prefix}/{job_id}.json` objects.
#[derive(Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    prefix: S3Prefix,
}

/// Results as messages on a result queue.
#[derive(Clone)]
pub struct QueueSink {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl ResultSinks {
    pub fn with_s3(mut self, client: aws_sdk_s3::Client, prefix: S3Prefix) -> Self {
        self.s3 = Some(S3Sink { client, prefix });
        self
    }

    pub fn with_queue(mut self, client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        self.queue = Some(QueueSink {
            client,
            url: url.into(),
        });
        self
    }
}

/// The SDK error's code (for classification) and its full message chain.
fn sdk_failure<E, R>(
    dependency: Dependency,
    op: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> ResultError
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string);
    let message = format!("{op}: {}", chain(&e));
    ResultError {
        permanent: code.as_deref().is_some_and(is_permanent_code),
        message,
        dependency: Some(dependency),
    }
}

impl S3Sink {
    pub async fn exists(&self, job_id: &str) -> Result<bool, ResultError> {
        let Self { client, prefix } = self;
        match client
            .head_object()
            .bucket(&prefix.bucket)
            .key(prefix.key_for(job_id))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                    Ok(false)
                } else {
                    Err(sdk_failure(Dependency::S3, "HeadObject", e))
                }
            }
        }
    }

    pub async fn store(&self, results: &[StoredResult]) -> Result<(), ResultError> {
        let Self { client, prefix } = self;
        for r in results {
            client
                .put_object()
                .bucket(&prefix.bucket)
                .key(prefix.key_for(&r.job_id))
                .content_type("application/json")
                .body(ByteStream::from(r.body.clone().into_bytes()))
                .send()
                .await
                .map_err(|e| sdk_failure(Dependency::S3, "PutObject", e))?;
        }
        Ok(())
    }
}

impl QueueSink {
    pub async fn store(&self, results: &[StoredResult]) -> Result<(), ResultError> {
        let Self { client, url } = self;
        let fifo = url.ends_with(".fifo");
        for chunk in results.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut e = SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&r.body)
                        .message_attributes(
                            "facerec.job-id",
                            MessageAttributeValue::builder()
                                .data_type("String")
                                .string_value(&r.job_id)
                                .build()
                                .expect("data_type is set"),
                        );
                    if fifo {
                        e = e
                            .message_group_id(&r.job_id)
                            .message_deduplication_id(dedup_id(&r.job_id));
                    }
                    e.build().expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let out = client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_failure(Dependency::ResultQueue, "SendMessageBatch", e))?;
            if let Some(f) = out.failed.first() {
                return Err(ResultError {
                    message: format!(
                        "SendMessageBatch entry failed: {} {}",
                        f.code,
                        f.message.clone().unwrap_or_default()
                    ),
                    permanent: f.sender_fault && is_permanent_code(&f.code),
                    dependency: Some(Dependency::ResultQueue),
                });
            }
        }
        Ok(())
    }
}

/// FIFO deduplication ids are at most 128 characters of `[A-Za-z0-9!-/:-@[-`{-~]`; job
/// ids are validated to that alphabet (docs/jobs.md), so only the length needs care.
fn dedup_id(job_id: &str) -> String {
    job_id.chars().take(128).collect()
}
