//! The facerec worker runtime: turns queue messages into results and survives every way a
//! Spot fleet can end a process. It knows nothing of face recognition or of the job
//! contract (that is `facerec-job`): the work is a [`JobHandler`] over opaque message
//! bodies, so the `facerec-worker` binary and the tests plug in different ones.
//!
//! Layout (read in this order):
//!
//! * [`queue`] — the [`JobQueue`] trait and its two implementations: SQS
//!   ([`queue::sqs::SqsQueue`]) and the embedded SQLite queue
//!   ([`queue::embedded::EmbeddedQueue`]) with the same semantics.
//! * [`handler`] — the [`JobHandler`] trait and the transient/permanent/unavailable error
//!   split.
//! * [`dependency`] — a circuit breaker per dependency (job queue, S3, result queue): a
//!   dependency that is down stops receiving and holds jobs, never costing them a try.
//! * [`runtime`] — the consume loop: bounded parallelism, the [`runtime::VisibilityHeartbeat`],
//!   batched result writes and deletes, retry by visibility backoff, dead-lettering, and the
//!   deadline-bound shutdown.
//! * [`results`] — result destinations (S3 prefix, result queue, embedded file), idempotent
//!   by job id.
//! * Around the loop, each optional: [`memory_gate`] (cgroup back-pressure),
//!   [`cpu_quota`] (default parallelism from the cgroup's CPU quota),
//!   [`task_protection`] (ECS scale-in protection), [`spot_notice`] (IMDSv2 interruption
//!   watcher), [`shutdown`] (signals), [`emf`] (CloudWatch metrics), [`health`] (liveness file).
//! * [`settings`] — every setting as a flag and an environment variable, checked, and
//!   turned into the runtime's configuration.
//! * [`error`] — the crate's one error type, [`Error`]: why a worker could not start.
//! * [`launch`] — the wiring shared by the binary and the test worker.
//! * `src/bin/test_worker.rs` — `facerec-test-worker`, the production wiring with a
//!   controllable test handler, for the process-level tests and benchmarks.
//! * Plumbing: [`allocator`] (one glibc malloc arena per core), [`aws`] (SDK clients
//!   from the environment), [`backoff`],
//!   [`link_local_http`] (the tiny client for the ECS agent and IMDS).
//!
//! Feature `aws` (default): SQS, the S3 and result-queue sinks, [`aws`] and [`launch`].
//! Without it the runtime is the embedded queue alone and builds no AWS SDK; that is how
//! `facerec run` and `make demo` build it.

pub mod allocator;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backoff;
pub mod cpu_quota;
pub mod dependency;
pub mod emf;
pub mod error;
pub mod handler;
pub mod health;
#[cfg(feature = "aws")]
pub mod launch;
pub mod link_local_http;
pub mod memory_gate;
pub mod queue;
pub mod results;
pub mod runtime;
pub mod settings;
pub mod shutdown;
pub mod spot_notice;
pub mod task_protection;

pub use error::{BoxError, Error, Result};
pub use handler::{ErrorKind, JobError, JobHandler, JobOutput};
pub use queue::JobQueue;
pub use runtime::{RunSummary, Runtime, RuntimeConfig, RuntimeStats};
