//! AWS plumbing shared by the fleet's components (the worker, the two Lambdas, the CLI's
//! fleet commands, the load generator), so each is written once.
//!
//! Modules, in reading order:
//! - [`error`]: an error and its sources on one line (the SDK's own `Display` is terse);
//! - [`sdk`] (feature `sdk`): SDK configuration named for its component (`app/<name>` in
//!   the user agent) and attempt timeouts;
//! - [`emf`]: CloudWatch Embedded Metric Format lines and where they go;
//! - [`lambda`] (feature `lambda`): the Lambdas' start-up (JSON logs, configuration,
//!   SDK configuration);
//! - [`ecs`] (feature `ecs`): listing and describing a cluster's container instances;
//! - [`sqs`] (feature `sqs`): a queue's depth, its three approximate counts.
//!
//! The base crate needs only `serde_json`; the SDK configuration is behind `sdk` (so the
//! CLI's local path links no AWS SDK), and what only the Lambdas need is behind features.

pub mod emf;
pub mod error;
#[cfg(feature = "sdk")]
pub mod sdk;

#[cfg(feature = "ecs")]
pub mod ecs;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use emf::{EmfLine, MetricsSink, RecordedMetrics, StdoutMetrics, Unit};

/// The one environment variable that filters every component's logs (the worker and
/// both Lambdas): a `tracing` filter such as `info` or `facerec_worker_runtime=debug`.
pub const LOG_FILTER_VAR: &str = "FACEREC_LOG";

/// The one CloudWatch namespace of every component's EMF metrics (the worker and both
/// Lambdas; their metric names and dimensions tell them apart). Terraform sets the same
/// (terraform/main.tf, `local.metrics_namespace`); this is the default when it is unset.
pub const METRICS_NAMESPACE: &str = "facerec-fleet";
pub use error::chain;
