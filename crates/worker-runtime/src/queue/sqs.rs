//! [`JobQueue`] over Amazon SQS with the official SDK.
//!
//! Receives ask for the receive count and sent timestamp; batch calls map per-entry
//! failures back to receipts. Dead-lettering is explicit (send to the DLQ with the reason
//! as message attributes, then delete) because the redrive policy alone can only say
//! "received too often", never "this image is corrupt".

use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName,
};
use aws_sdk_sqs::Client;

use super::{
    BatchFailure, DeadLetterReason, JobQueue, QueueError, ReceivedMessage, VisibilityChange,
    ATTR_DETAIL, ATTR_REASON, ATTR_RECEIVE_COUNT,
};

/// One SQS queue (and its dead-letter queue, if configured).
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dlq_url: Option<String>,
}

fn service_error<E: std::error::Error>(op: &str, e: E) -> QueueError {
    // The SDK's Display is terse ("service error"); the source chain says what happened.
    let mut msg = format!("{op}: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    QueueError::Service(msg)
}

fn string_attr(v: impl Into<String>) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .expect("data_type is set")
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>, dlq_url: Option<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dlq_url,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

impl JobQueue for SqsQueue {
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(wait.as_secs() as i32)
            .visibility_timeout(visibility.as_secs().max(1) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| service_error("ReceiveMessage", e))?;
        let mut messages = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(receipt), Some(message_id)) =
                (m.receipt_handle.clone(), m.message_id.clone())
            else {
                continue;
            };
            let attrs = m.attributes.unwrap_or_default();
            let receive_count = attrs
                .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let sent_at = attrs
                .get(&MessageSystemAttributeName::SentTimestamp)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
            messages.push(ReceivedMessage {
                message_id,
                receipt,
                body: m.body.unwrap_or_default(),
                receive_count,
                sent_at,
            });
        }
        Ok(messages)
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<Vec<BatchFailure>, QueueError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r)
                    .build()
                    .expect("id and receipt are set")
            })
            .collect::<Vec<_>>();
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| service_error("DeleteMessageBatch", e))?;
        Ok(batch_failures(out.failed, |i| receipts.get(i).cloned()))
    }

    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<Vec<BatchFailure>, QueueError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let entries = changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&c.receipt)
                    .visibility_timeout(c.timeout.as_secs().min(43_200) as i32)
                    .build()
                    .expect("id and receipt are set")
            })
            .collect::<Vec<_>>();
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| service_error("ChangeMessageVisibilityBatch", e))?;
        Ok(batch_failures(out.failed, |i| {
            changes.get(i).map(|c| c.receipt.clone())
        }))
    }

    async fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> Result<(), QueueError> {
        let Some(dlq) = &self.dlq_url else {
            // Without a DLQ the only safe move is to leave it to the redrive policy:
            // never delete a message we could not park somewhere.
            return Err(QueueError::Invalid(format!(
                "no DLQ_URL configured; message {} left for the queue's redrive policy ({})",
                message.message_id, reason.code
            )));
        };
        // SQS caps attribute values at 256 KiB with the body; details are short anyway.
        let detail: String = reason.detail.chars().take(1024).collect();
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(&message.body)
            .message_attributes(ATTR_REASON, string_attr(&reason.code))
            .message_attributes(ATTR_DETAIL, string_attr(detail))
            .message_attributes(
                ATTR_RECEIVE_COUNT,
                string_attr(message.receive_count.to_string()),
            )
            .send()
            .await
            .map_err(|e| service_error("SendMessage (DLQ)", e))?;
        // A crash between these two calls leaves a copy in both queues; the next delivery
        // dead-letters it again. A duplicate in the DLQ beats a lost message.
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(|e| service_error("DeleteMessage (after DLQ)", e))?;
        Ok(())
    }
}

/// SQS names a failed batch entry by the id we gave it (its index in the request).
fn batch_failures(
    failed: Vec<aws_sdk_sqs::types::BatchResultErrorEntry>,
    receipt_of: impl Fn(usize) -> Option<String>,
) -> Vec<BatchFailure> {
    failed
        .into_iter()
        .filter_map(|f| {
            let receipt = receipt_of(f.id.parse().ok()?)?;
            Some(BatchFailure {
                receipt,
                message: format!("{}: {}", f.code, f.message.unwrap_or_default()),
            })
        })
        .collect()
}
