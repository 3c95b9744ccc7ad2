//! The crate's one error type: why a worker could not start. Once running, the runtime
//! does not fail: a job's failure is a [`crate::JobError`] (retried or dead-lettered),
//! a dependency's outage holds the jobs ([`crate::dependency`]), and the run ends with a
//! [`crate::RunSummary`].
//!
//! Each variant keeps its source's own one-line message (the worker prints it and exits 2).

use crate::settings::SettingsError;

/// Any error, boxed: what a job handler's factory may fail with (model files, a client).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`crate::launch::run_worker`] (or another start-up step) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing, out of range or contradicts another.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// SIGTERM/SIGINT handlers could not be installed.
    #[error(transparent)]
    Signals(#[from] std::io::Error),
    /// The job handler could not be made.
    #[error(transparent)]
    Handler(BoxError),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
