//! Sending: `SendMessageBatch` with up to 10 jobs per call, and a retry of the entries
//! SQS reports as failed without the sender being at fault (throttling, internal
//! errors). Whole-call transient errors are already retried by the SDK's standard retry
//! policy; what is left after that, and any entry failed through our fault, ends the run.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::error::LoadError;

/// SQS's limit on entries per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;

/// One job to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub job_id: String,
    pub body: String,
}

/// An entry SQS did not accept, as reported in `SendMessageBatchResult.Failed`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryFailure {
    /// Index into the entries of that call.
    pub index: usize,
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

/// Why a batch could not be sent in the end.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchFailure {
    pub attempts: u32,
    pub detail: String,
}

/// Retries policy for failed entries: `attempts` calls in all, waiting `backoff`,
/// then twice as long each time.
#[derive(Debug, Clone, Copy)]
pub struct EntryRetry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for EntryRetry {
    fn default() -> Self {
        EntryRetry {
            attempts: 6,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Sends `entries` with `call` (one `SendMessageBatch`), re-sending only the entries
/// that failed through no fault of ours. Generic over the call so the retry rule is
/// tested on failures SQS emulators never produce.
pub async fn send_with_entry_retry<F, Fut>(
    mut entries: Vec<Outgoing>,
    retry: EntryRetry,
    mut call: F,
) -> Result<(), BatchFailure>
where
    F: FnMut(Vec<Outgoing>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryFailure>, String>>,
{
    let mut wait = retry.backoff;
    for attempt in 1..=retry.attempts.max(1) {
        let failures = call(entries.clone()).await.map_err(|detail| BatchFailure {
            attempts: attempt,
            detail,
        })?;
        if failures.is_empty() {
            return Ok(());
        }
        if let Some(f) = failures.iter().find(|f| f.sender_fault) {
            let job = entries.get(f.index).map_or("?", |e| e.job_id.as_str());
            return Err(BatchFailure {
                attempts: attempt,
                detail: format!("job {job} rejected: {}: {}", f.code, f.message),
            });
        }
        if attempt == retry.attempts.max(1) {
            let f = &failures[0];
            return Err(BatchFailure {
                attempts: attempt,
                detail: format!(
                    "{} entries still failing, e.g. {}: {}",
                    failures.len(),
                    f.code,
                    f.message
                ),
            });
        }
        let mut keep: Vec<usize> = failures.iter().map(|f| f.index).collect();
        keep.sort_unstable();
        keep.dedup();
        entries = keep
            .into_iter()
            .filter_map(|i| entries.get(i).cloned())
            .collect();
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}

/// Sends batches of jobs to one queue.
#[derive(Debug, Clone)]
pub struct BatchSender {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    /// FIFO queues need a group and a deduplication id per message.
    fifo: bool,
    retry: EntryRetry,
}

impl BatchSender {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        let fifo = queue_url.ends_with(".fifo");
        BatchSender {
            client,
            queue_url,
            fifo,
            retry: EntryRetry::default(),
        }
    }

    /// Sends up to [`MAX_BATCH`] jobs; `Ok` once SQS accepted every one.
    pub async fn send(&self, jobs: Vec<Outgoing>) -> Result<(), LoadError> {
        debug_assert!(jobs.len() <= MAX_BATCH);
        send_with_entry_retry(jobs, self.retry, |batch| self.call(batch))
            .await
            .map_err(|f| LoadError::Send {
                queue: self.queue_url.clone(),
                attempts: f.attempts,
                detail: f.detail,
            })
    }

    async fn call(&self, batch: Vec<Outgoing>) -> Result<Vec<EntryFailure>, String> {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let mut e = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&job.body);
                if self.fifo {
                    // One group per job: FIFO order is irrelevant to independent jobs,
                    // and a single group would let only one batch be in flight.
                    e = e
                        .message_group_id(&job.job_id)
                        .message_deduplication_id(&job.job_id);
                }
                e.build().map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(describe)?;
        Ok(out
            .failed
            .into_iter()
            .map(|f| EntryFailure {
                index: f.id.parse().unwrap_or(usize::MAX),
                sender_fault: f.sender_fault,
                code: f.code,
                message: f.message.unwrap_or_default(),
            })
            .collect())
    }
}

/// One line for an SDK error: `code: message` from the service, or the SDK's own
/// account of a dispatch failure or timeout (the raw response adds nothing readable).
pub fn describe<E, R>(err: SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(err).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn jobs(n: usize) -> Vec<Outgoing> {
        (0..n)
            .map(|i| Outgoing {
                job_id: format!("j{i}"),
                body: format!("{{\"n\":{i}}}"),
            })
            .collect()
    }

    fn fast(attempts: u32) -> EntryRetry {
        EntryRetry {
            attempts,
            backoff: Duration::from_millis(1),
        }
    }

    fn transient(index: usize) -> EntryFailure {
        EntryFailure {
            index,
            sender_fault: false,
            code: "InternalError".into(),
            message: "try again".into(),
        }
    }

    /// Each call fails the entries whose job ids are listed for that call number.
    async fn scripted(
        script: Vec<Vec<&'static str>>,
        retry: EntryRetry,
    ) -> (Result<(), BatchFailure>, Vec<Vec<String>>) {
        let calls = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let seen = calls.clone();
        let result = send_with_entry_retry(jobs(4), retry, move |batch| {
            let seen = seen.clone();
            let script = script.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                let fail = script.get(seen.len()).cloned().unwrap_or_default();
                seen.push(batch.iter().map(|j| j.job_id.clone()).collect());
                Ok(batch
                    .iter()
                    .enumerate()
                    .filter(|(_, j)| fail.contains(&j.job_id.as_str()))
                    .map(|(i, _)| transient(i))
                    .collect())
            }
        })
        .await;
        let calls = calls.lock().unwrap().clone();
        (result, calls)
    }

    #[tokio::test]
    async fn resends_only_failed_entries() {
        let (result, calls) = scripted(vec![vec!["j1", "j3"], vec!["j3"]], fast(6)).await;
        assert_eq!(result, Ok(()));
        assert_eq!(
            calls,
            vec![vec!["j0", "j1", "j2", "j3"], vec!["j1", "j3"], vec!["j3"]]
        );
    }

    #[tokio::test]
    async fn gives_up_after_the_last_attempt() {
        let (result, calls) = scripted(vec![vec!["j2"]; 10], fast(3)).await;
        let err = result.unwrap_err();
        assert_eq!(err.attempts, 3);
        assert!(err.detail.contains("InternalError"), "{}", err.detail);
        assert_eq!(calls.len(), 3);
    }

    #[tokio::test]
    async fn sender_fault_is_not_retried() {
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        let result = send_with_entry_retry(jobs(3), fast(5), move |_| {
            *c.lock().unwrap() += 1;
            async {
                Ok(vec![EntryFailure {
                    index: 1,
                    sender_fault: true,
                    code: "InvalidMessageContents".into(),
                    message: "bad".into(),
                }])
            }
        })
        .await;
        let err = result.unwrap_err();
        assert!(err.detail.contains("job j1 rejected"), "{}", err.detail);
        assert_eq!(*calls.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn call_errors_end_the_batch() {
        let result = send_with_entry_retry(jobs(2), fast(5), |_| async {
            Err::<Vec<EntryFailure>, _>("NonExistentQueue".to_string())
        })
        .await;
        assert_eq!(
            result,
            Err(BatchFailure {
                attempts: 1,
                detail: "NonExistentQueue".into()
            })
        );
    }
}
