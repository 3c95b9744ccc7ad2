//! The crate's one error type: why a job failed, classified for whoever runs it.

/// Whether trying the same job again could help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The job itself is wrong (bad JSON, a corrupt image, an invalid gallery): the same
    /// bytes will fail the same way, so it is dead-lettered at once.
    Permanent,
    /// Something around the job failed (a model missing from this worker, an I/O error):
    /// another try, here or on another worker, may succeed.
    Transient,
}

/// A failed job: its kind and a stable machine-readable code (docs/jobs.md lists them),
/// with a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    pub kind: ErrorKind,
    /// e.g. `malformed_json`, `invalid_job`, `corrupt_image`.
    pub code: String,
    pub detail: String,
}

impl JobError {
    pub fn permanent(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Permanent,
            code: code.into(),
            detail: detail.into(),
        }
    }

    pub fn transient(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Transient,
            code: code.into(),
            detail: detail.into(),
        }
    }

    /// The same error with `context: ` before its detail (e.g. the gallery's URI).
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        Self {
            detail: format!("{context}: {}", self.detail),
            ..self
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for JobError {}
