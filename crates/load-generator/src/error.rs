//! The one error type of the load generator. Input mistakes are caught before anything
//! is sent and say which flag is wrong; queue failures name the call and the queue.

use std::path::PathBuf;

use facerec_fleet_sim::params::ParamsError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("unknown trace {name:?}; known traces: {known}")]
    UnknownTrace { name: String, known: String },
    #[error("--{flag} must be a finite number {rule}, got {value}")]
    BadNumber {
        flag: &'static str,
        rule: &'static str,
        value: f64,
    },
    #[error("--{flag} {value:?}: {reason}")]
    BadUrl {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--{flag} {value:?}: {reason}")]
    BadObjectUri {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--run-id {value:?}: {reason}")]
    BadRunId { value: String, reason: String },
    #[error("arrivals file {}: {reason}", path.display())]
    BadArrivals { path: PathBuf, reason: String },
    #[error("no jobs to send: {0}")]
    NothingToSend(String),
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("no AWS region: set AWS_REGION (or a profile's region) or pass --region")]
    NoRegion,
    #[error("cannot write {}: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the attributes of queue {queue}: {detail}")]
    QueueUnreadable { queue: String, detail: String },
    #[error("SendMessageBatch to {queue} failed after {attempts} attempt(s): {detail}")]
    Send {
        queue: String,
        attempts: u32,
        detail: String,
    },
}

impl LoadError {
    /// True for mistakes in the command line or its input files (exit status 2),
    /// false for failures while talking to the queue or writing output (status 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LoadError::UnknownTrace { .. }
                | LoadError::BadNumber { .. }
                | LoadError::BadUrl { .. }
                | LoadError::BadObjectUri { .. }
                | LoadError::BadRunId { .. }
                | LoadError::BadArrivals { .. }
                | LoadError::NothingToSend(_)
                | LoadError::Params(_)
                | LoadError::NoRegion
        )
    }
}
