//! The job handler contract: what the runtime asks of whatever does the actual work.
//!
//! The runtime owns everything queue-shaped (receiving, heartbeats, acks, retries,
//! dead-lettering, shutdown); a handler only parses a message body and turns a job into a
//! result. Its errors say whether a retry could help ([`JobError::transient`]) or not
//! ([`JobError::permanent`], straight to the DLQ with the reason code).

use std::future::Future;

/// A job failure, classified for the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub kind: ErrorKind,
    /// Stable machine-readable code, e.g. `malformed_json`, `corrupt_image`.
    pub code: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Might succeed later (network, throttling, S3 5xx): retry after a visibility backoff.
    Transient,
    /// Will never succeed (bad input): dead-letter at once with the reason.
    Permanent,
    /// A dependency is down (unreachable, timing out, 5xx, throttling): not the job's
    /// fault. The runtime holds the job (invisible) until the dependency is back and
    /// reruns it; this never counts toward the job's failure limit.
    Unavailable(crate::dependency::Dependency),
}

impl JobError {
    pub fn transient(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Transient,
            code: code.into(),
            detail: detail.into(),
        }
    }

    /// `dependency` is down; see [`ErrorKind::Unavailable`].
    pub fn unavailable(
        dependency: crate::dependency::Dependency,
        code: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorKind::Unavailable(dependency),
            code: code.into(),
            detail: detail.into(),
        }
    }

    pub fn permanent(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Permanent,
            code: code.into(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}: {}", self.kind, self.code, self.detail)
    }
}

impl std::error::Error for JobError {}

/// What a successful job produced.
#[derive(Debug, Clone)]
pub struct JobOutput {
    /// The result document, stored under the job id (see docs/jobs.md).
    pub result: serde_json::Value,
    /// Faces found, for the `FacesFound` metric.
    pub faces_found: u64,
}

/// The work itself. One handler instance is shared by all concurrent jobs.
pub trait JobHandler: Send + Sync + 'static {
    type Job: Send + 'static;

    /// Parse and validate a message body. An error here is permanent by nature
    /// (the same bytes will never parse) and dead-letters the message at once.
    fn parse(&self, body: &str) -> Result<Self::Job, JobError>;

    /// The job's id: results are keyed by it, which makes redelivery idempotent.
    fn job_id(job: &Self::Job) -> &str;

    /// Do the job. CPU-heavy handlers should run their work on a blocking thread.
    fn handle(&self, job: Self::Job) -> impl Future<Output = Result<JobOutput, JobError>> + Send;
}
