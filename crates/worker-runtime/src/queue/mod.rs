//! One queue interface ([`JobQueue`]) and its two implementations.
//!
//! * [`sqs::SqsQueue`] — Amazon SQS through the official SDK (production).
//! * [`embedded::EmbeddedQueue`] — a durable queue in one SQLite file for one-machine runs,
//!   with the same semantics: visibility timeout, receive count, dead-letter after
//!   `max_receive_count`.
//!
//! The runtime only ever talks to the trait, so every behavioural test runs against both.

pub mod embedded;
#[cfg(feature = "aws")]
pub mod sqs;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// One message handed out by [`JobQueue::receive`], invisible to others until its
/// visibility expires, it is deleted, or its visibility is changed.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Opaque handle for delete/visibility calls; only valid for this delivery.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been delivered, this delivery included (1 = first).
    pub receive_count: u32,
    /// When the producer sent it, if the queue reports it (for the queue-wait metric).
    pub sent_at: Option<SystemTime>,
    /// The producer's message attributes, carried over when the message is dead-lettered.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO queues: the message group (a dead-lettered copy keeps it).
    pub group_id: Option<String>,
}

/// One message attribute (SQS's model; the embedded queue only has strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, or a custom `String.x` / `Number.x` / `Binary.x`.
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttribute {
    pub fn string(v: impl Into<String>) -> Self {
        Self {
            data_type: "String".into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }
}

/// Why a message goes to the dead-letter queue; stored as message attributes
/// `facerec.error.reason` (a stable code) and `facerec.error.detail` (free text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterReason {
    pub code: String,
    pub detail: String,
}

/// Attribute names carried by dead-lettered messages, identical on both queues.
pub const ATTR_REASON: &str = "facerec.error.reason";
pub const ATTR_DETAIL: &str = "facerec.error.detail";
pub const ATTR_RECEIVE_COUNT: &str = "facerec.receive-count";
/// SQS allows at most this many message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// A visibility change for one delivery.
#[derive(Debug, Clone)]
pub struct VisibilityChange {
    pub receipt: String,
    pub timeout: Duration,
}

/// Queue failures. All are treated as transient by the runtime (retry with backoff):
/// a queue that cannot be reached must never lose or drop a message.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue service unreachable or failing: {0}")]
    Service(String),
    #[error("embedded queue storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("invalid queue request: {0}")]
    Invalid(String),
}

/// Per-entry failures of a batch call (the rest of the batch succeeded).
#[derive(Debug, Clone)]
pub struct BatchFailure {
    pub receipt: String,
    pub message: String,
}

/// The queue operations the runtime needs. Batch methods take at most 10 entries
/// (the SQS limit); the runtime chunks.
pub trait JobQueue: Send + Sync + 'static {
    /// Long-poll for up to `max` messages, waiting at most `wait`, hiding each for `visibility`.
    fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<ReceivedMessage>, QueueError>> + Send;

    /// Delete finished messages. Returns the entries that failed.
    fn delete_batch(
        &self,
        receipts: &[String],
    ) -> impl Future<Output = Result<Vec<BatchFailure>, QueueError>> + Send;

    /// Extend (heartbeat), shorten (backoff) or end (release, timeout 0) visibility.
    fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> impl Future<Output = Result<Vec<BatchFailure>, QueueError>> + Send;

    /// Move a message to the dead-letter queue with its reason, then delete it from this queue.
    fn dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &DeadLetterReason,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Milliseconds since the Unix epoch (both queues keep wall-clock timestamps).
pub(crate) fn epoch_millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
