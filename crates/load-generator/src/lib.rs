//! `facerec load`: replays a trace of jobs against an SQS queue — moto here, the real
//! queue for a user — and records the queue's depth over time, so "test the scaling
//! behaviour with controlled load tests" is one command (issue 7). The traces are the
//! fleet simulator's, so a load test and the simulated report can be compared.
//!
//! Layout, in the order a run uses it:
//! - [`cli`]: the command line and [`run`], the entry point of both `facerec-load` and
//!   `facerec load`; checks every input before touching the network.
//! - [`arrivals`]: arrival offsets from a named simulator trace or a CSV/JSON file, and
//!   the real-time [`arrivals::Schedule`] (`--speedup`, `--limit`, `--skip-leading-idle`).
//! - [`job`]: contract v1 bodies with `<run-id>:<seq>` ids, checked by the worker's own
//!   parser before they are sent.
//! - [`sender`]: `SendMessageBatch` of up to 10, re-sending entries that failed through
//!   no fault of ours.
//! - [`sampler`]: `GetQueueAttributes` every `--sample-seconds` into a CSV.
//! - [`load`]: one run — pacing, concurrent batches, the sampler — and its
//!   [`load::LoadSummary`].
//! - [`error`]: [`LoadError`], naming the bad flag or the failed call.

pub mod arrivals;
pub mod cli;
pub mod error;
pub mod job;
pub mod load;
pub mod sampler;
pub mod sender;

pub use cli::run;
pub use error::LoadError;
