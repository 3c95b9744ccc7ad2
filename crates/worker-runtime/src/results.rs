//! Where results go: an S3 prefix, a result queue, the embedded queue's file — any
//! combination, chosen by configuration.
//!
//! Every sink is keyed by job id so that a job run twice (redelivery after a crash) still
//! leaves one result where the sink can tell: S3 objects are `{prefix}/{job_id}.json` (a
//! second put overwrites the same key), the embedded store ignores a second insert, and a
//! FIFO result queue deduplicates on the job id (within SQS's 5-minute window). A standard
//! result queue is at-least-once; its messages carry the job id (`facerec.job-id`
//! attribute) for consumers to deduplicate.
//!
//! **Order matters.** A redelivered job is acknowledged without rerunning when
//! [`ResultSinks::exists`] finds its result, and that check can only consult one keyed
//! sink (the embedded store, else S3). So that sink is written *last*: "found there" then
//! means every sink has the result. Write order: result queue → S3 → embedded store.
//! [`StoreProgress`] remembers which sinks a batch already reached, so a retry after a
//! partial failure does not send the result queue a second copy.

use crate::dependency::Dependency;
use crate::queue::embedded::EmbeddedQueue;

/// One finished job's result document.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub job_id: String,
    pub body: String,
}

/// A failed store. `permanent` when retrying cannot help until someone fixes the
/// configuration (access denied, no such bucket or queue): the runtime still retries —
/// the results are held, never dropped — but reports itself unhealthy at once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storing results failed: {message}")]
pub struct ResultError {
    pub message: String,
    pub permanent: bool,
    /// The remote dependency that failed (`None`: the embedded store, a local file).
    /// A transient failure of a dependency opens its breaker ([`crate::dependency`]).
    pub dependency: Option<Dependency>,
}

impl ResultError {
    fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            dependency: None,
        }
    }
}

/// Error codes that no retry fixes: IAM, missing bucket/queue, bad address.
pub fn is_permanent_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "AllAccessDisabled"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "NoSuchBucket"
            | "InvalidBucketName"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist"
            | "InvalidAddress"
            | "KMS.AccessDeniedException"
            | "KmsAccessDenied"
            | "KMS.DisabledException"
            | "KmsDisabled"
    )
}

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Prefix {
    pub bucket: String,
    pub prefix: String,
}

impl S3Prefix {
    /// Parse `s3://bucket[/prefix]`.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{uri:?} is not an s3:// URI"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{uri:?} has no bucket"));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }

    pub fn key_for(&self, job_id: &str) -> String {
        if self.prefix.is_empty() {
            format!("{job_id}.json")
        } else {
            format!("{}/{job_id}.json", self.prefix)
        }
    }
}

/// The configured result destinations (at least one).
#[derive(Clone, Default)]
pub struct ResultSinks {
    s3: Option<remote::S3Sink>,
    queue: Option<remote::QueueSink>,
    embedded: Option<EmbeddedQueue>,
}

/// Which sinks one batch has reached so far (they are written in a fixed order).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreProgress {
    done: usize,
}

#[derive(Clone, Copy)]
enum Sink {
    Queue,
    S3,
    Embedded,
}

// The S3 and result-queue sinks call AWS through the SDK (feature `aws`). Without it
// (the CLI's local path) their types have no values, so only the embedded store exists.
#[cfg(feature = "aws")]
mod remote;
#[cfg(not(feature = "aws"))]
mod remote {
    use super::{ResultError, StoredResult};

    #[derive(Clone)]
    pub enum S3Sink {}
    #[derive(Clone)]
    pub enum QueueSink {}

    impl S3Sink {
        pub async fn exists(&self, _job_id: &str) -> Result<bool, ResultError> {
            match *self {}
        }
        pub async fn store(&self, _results: &[StoredResult]) -> Result<(), ResultError> {
            match *self {}
        }
    }

    impl QueueSink {
        pub async fn store(&self, _results: &[StoredResult]) -> Result<(), ResultError> {
            match *self {}
        }
    }
}

impl ResultSinks {
    pub fn with_embedded(mut self, store: EmbeddedQueue) -> Self {
        self.embedded = Some(store);
        self
    }

    /// The remote dependencies these sinks write to (for the breakers: a successful store
    /// means each is up).
    pub fn dependencies(&self) -> Vec<Dependency> {
        let mut v = Vec::new();
        if self.queue.is_some() {
            v.push(Dependency::ResultQueue);
        }
        if self.s3.is_some() {
            v.push(Dependency::S3);
        }
        v
    }

    /// The dependency [`Self::exists`] asks, if remote.
    pub fn exists_dependency(&self) -> Option<Dependency> {
        (self.embedded.is_none() && self.s3.is_some()).then_some(Dependency::S3)
    }

    pub fn is_empty(&self) -> bool {
        self.s3.is_none() && self.queue.is_none() && self.embedded.is_none()
    }

    /// The sinks in write order; the one [`Self::exists`] consults comes last.
    fn order(&self) -> Vec<Sink> {
        let mut v = Vec::with_capacity(3);
        if self.queue.is_some() {
            v.push(Sink::Queue);
        }
        if self.s3.is_some() {
            v.push(Sink::S3);
        }
        if self.embedded.is_some() {
            v.push(Sink::Embedded);
        }
        v
    }

    /// Whether a result for this job is already stored — in every sink, because the sink
    /// consulted here is the last one written — so a redelivered job can be acknowledged
    /// without redoing it. Only durable keyed stores can answer; a result queue cannot,
    /// so with only a queue this is always `false`.
    pub async fn exists(&self, job_id: &str) -> Result<bool, ResultError> {
        if let Some(store) = &self.embedded {
            return store
                .has_result(job_id)
                .await
                .map_err(|e| ResultError::transient(e.to_string()));
        }
        if let Some(s3) = &self.s3 {
            return s3.exists(job_id).await;
        }
        Ok(false)
    }

    /// Store a batch of results in every configured sink, in write order, starting after
    /// the sinks `progress` says this batch already reached. On error the caller retries
    /// with the same `progress`; every sink is idempotent by job id, so a sink written
    /// partly (some chunks) is simply written again.
    pub async fn store(
        &self,
        results: &[StoredResult],
        progress: &mut StoreProgress,
    ) -> Result<(), ResultError> {
        let order = self.order();
        while let Some(&sink) = order.get(progress.done) {
            match (sink, &self.queue, &self.s3) {
                (Sink::Queue, Some(queue), _) => queue.store(results).await?,
                (Sink::S3, _, Some(s3)) => s3.store(results).await?,
                (Sink::Embedded, _, _) => self.store_embedded(results).await?,
                _ => {}
            }
            progress.done += 1;
        }
        Ok(())
    }

    async fn store_embedded(&self, results: &[StoredResult]) -> Result<(), ResultError> {
        let Some(store) = &self.embedded else {
            return Ok(());
        };
        for r in results {
            store
                .store_result(&r.job_id, &r.body)
                .await
                .map_err(|e| ResultError::transient(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_prefix_parses_bucket_and_prefix() {
        let p = S3Prefix::parse("s3://bucket/a/b/").unwrap();
        assert_eq!(p.bucket, "bucket");
        assert_eq!(p.key_for("j1"), "a/b/j1.json");
        assert_eq!(S3Prefix::parse("s3://b").unwrap().key_for("j"), "j.json");
        assert!(S3Prefix::parse("http://b/x").is_err());
        assert!(S3Prefix::parse("s3:///x").is_err());
    }
}
