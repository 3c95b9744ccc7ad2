//! [`JobQueue`] over Amazon SQS with the official SDK.
//!
//! Receives ask for the receive count, sent timestamp, FIFO group and the producer's
//! message attributes; batch calls map per-entry failures back to receipts.
//! Dead-lettering is explicit (send to the DLQ with the reason as message attributes,
//! then delete) because the redrive policy alone can only say "received too often", never
//! "this image is corrupt". The copy keeps the producer's attributes (as many as fit
//! beside the three reason attributes under SQS's limit of 10) and, for a FIFO DLQ, the
//! message group, deduplicated on the original message id.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName,
};
use aws_sdk_sqs::Client;

use super::{
    BatchFailure, DeadLetterReason, JobQueue, MessageAttribute, QueueError, ReceivedMessage,
    VisibilityChange, ATTR_DETAIL, ATTR_REASON, ATTR_RECEIVE_COUNT, MAX_MESSAGE_ATTRIBUTES,
};

/// One SQS queue (and its dead-letter queue, if configured).
#[derive(Clone, Debug)]
pub struct SqsQueue {
    /// The long-poll receive's client.
    client: Client,
    /// Deletes, visibility changes and dead-lettering: short timeouts (crate::aws).
    calls: Client,
    queue_url: String,
    dlq_url: Option<String>,
}

fn service_error<E: std::error::Error>(op: &str, e: E) -> QueueError {
    // The SDK's Display is terse ("service error"); the source chain says what happened.
    QueueError::Service(format!("{op}: {}", facerec_aws_support::chain(&e)))
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
            calls: client.clone(),
            client,
            queue_url: queue_url.into(),
            dlq_url,
        }
    }

    /// Use `calls` (short timeouts, [`crate::aws::sqs_call_client`]) for everything but
    /// the long-poll receive, so a dead connection is seen in seconds.
    pub fn with_call_client(mut self, calls: Client) -> Self {
        self.calls = calls;
        self
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
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_attribute_names("All")
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
            let group_id = attrs
                .get(&MessageSystemAttributeName::MessageGroupId)
                .cloned();
            let attributes = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        MessageAttribute {
                            data_type: v.data_type,
                            string_value: v.string_value,
                            binary_value: v.binary_value.map(|b| b.into_inner()),
                        },
                    )
                })
                .collect();
            messages.push(ReceivedMessage {
                message_id,
                receipt,
                body: m.body.unwrap_or_default(),
                receive_count,
                sent_at,
                attributes,
                group_id,
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
            .calls
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
            .calls
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
            // never delete a message we could not park somewhere. (The worker refuses to
            // start without DLQ_URL; only library users can get here.)
            return Err(QueueError::Invalid(format!(
                "no DLQ_URL configured; message {} left for the queue's redrive policy ({})",
                message.message_id, reason.code
            )));
        };
        // SQS caps attribute values at 256 KiB with the body; details are short anyway.
        let detail: String = reason.detail.chars().take(1024).collect();
        let (attributes, dropped) = dead_letter_attributes(message, &reason.code, &detail);
        if !dropped.is_empty() {
            tracing::warn!(message_id = %message.message_id, ?dropped, "message attributes not copied to the DLQ (SQS allows 10)");
        }
        let mut send = self
            .calls
            .send_message()
            .queue_url(dlq)
            .message_body(&message.body)
            .set_message_attributes(Some(attributes));
        if dlq.ends_with(".fifo") {
            // A FIFO queue needs a group; dedup on the original id makes a retried move
            // (crash between send and delete) land once.
            send = send
                .message_group_id(
                    message
                        .group_id
                        .clone()
                        .unwrap_or_else(|| message.message_id.clone()),
                )
                .message_deduplication_id(message.message_id.chars().take(128).collect::<String>());
        }
        send.send()
            .await
            .map_err(|e| service_error("SendMessage (DLQ)", e))?;
        // A crash between these two calls leaves a copy in both queues; the next delivery
        // dead-letters it again. A duplicate in the DLQ beats a lost message.
        self.calls
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(|e| service_error("DeleteMessage (after DLQ)", e))?;
        Ok(())
    }
}

/// The DLQ copy's attributes: the three reason attributes, then the producer's (an
/// earlier move's `facerec.*` reasons are replaced) in name order while they fit under
/// SQS's limit. Returns the attributes and the names that did not fit.
fn dead_letter_attributes(
    message: &ReceivedMessage,
    code: &str,
    detail: &str,
) -> (
    std::collections::HashMap<String, MessageAttributeValue>,
    Vec<String>,
) {
    let mut out = std::collections::HashMap::new();
    out.insert(ATTR_REASON.to_string(), string_attr(code));
    out.insert(ATTR_DETAIL.to_string(), string_attr(detail));
    out.insert(
        ATTR_RECEIVE_COUNT.to_string(),
        string_attr(message.receive_count.to_string()),
    );
    let mut dropped = Vec::new();
    let originals: BTreeMap<&String, &MessageAttribute> = message.attributes.iter().collect();
    for (name, a) in originals {
        if out.contains_key(name.as_str()) {
            continue;
        }
        if out.len() >= MAX_MESSAGE_ATTRIBUTES {
            dropped.push(name.clone());
            continue;
        }
        let mut v = MessageAttributeValue::builder().data_type(&a.data_type);
        if let Some(s) = &a.string_value {
            v = v.string_value(s);
        }
        if let Some(b) = &a.binary_value {
            v = v.binary_value(aws_sdk_sqs::primitives::Blob::new(b.clone()));
        }
        match v.build() {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(_) => dropped.push(name.clone()),
        }
    }
    (out, dropped)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(attrs: &[(&str, &str)]) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m-1".into(),
            receipt: "r-1".into(),
            body: "{}".into(),
            receive_count: 2,
            sent_at: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), MessageAttribute::string(*v)))
                .collect(),
            group_id: None,
        }
    }

    #[test]
    fn dead_letter_copies_producer_attributes_within_the_sqs_limit() {
        // An earlier move's reason is replaced; the producer's attributes follow.
        let m = message(&[("trace-id", "t-1"), (ATTR_REASON, "old_reason")]);
        let (attrs, dropped) = dead_letter_attributes(&m, "corrupt_image", "bad bytes");
        assert!(dropped.is_empty());
        assert_eq!(attrs.len(), 4);
        assert_eq!(attrs[ATTR_REASON].string_value(), Some("corrupt_image"));
        assert_eq!(attrs[ATTR_RECEIVE_COUNT].string_value(), Some("2"));
        assert_eq!(attrs["trace-id"].string_value(), Some("t-1"));

        // Ten of the producer's: seven fit beside the three reasons, in name order.
        let many: Vec<(String, String)> =
            (0..10).map(|i| (format!("a{i}"), i.to_string())).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (attrs, dropped) = dead_letter_attributes(&message(&refs), "x", "y");
        assert_eq!(attrs.len(), MAX_MESSAGE_ATTRIBUTES);
        assert_eq!(dropped, vec!["a7", "a8", "a9"]);
        assert!(attrs.contains_key("a0") && attrs.contains_key(ATTR_DETAIL));
    }
}
