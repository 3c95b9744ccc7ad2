//! The Spot interruption drill: a scripted local run showing that a worker told of a Spot
//! interruption hands its unstarted jobs back within the two-minute budget, that other
//! workers finish them, and that no job is lost or run twice.
//!
//! What runs is real: moto (SQS jobs queue with a DLQ redrive, an S3 result bucket) started
//! through `tools/moto/launch.py`, and W worker *processes* wired exactly like
//! `facerec-worker` (`facerec_worker_runtime::launch::run_worker`: same settings, signals,
//! heartbeat, Spot watcher), each polling its own IMDSv2 stand-in on loopback. Only the
//! recognition is replaced, by a handler that validates the v1 job and takes a
//! deterministic 2–5 s.
//!
//! Layout (read in this order):
//!
//! * [`scenario`] — the drill itself: [`scenario::DrillOptions`] and
//!   [`scenario::run_drill`], step by step (start moto, send jobs, start workers, wait for
//!   work, announce the interruption, watch, stop the rest, collect).
//! * [`report`] — [`report::DrillReport`]: the measured numbers, the invariants
//!   ([`report::DrillReport::violations`]) and the summary table.
//! * [`drill_worker`] — the worker side (`spot-drill worker`): [`drill_worker::DrillHandler`].
//! * [`worker_process`] — spawning a worker process, its health file, signals, exit.
//! * [`worker_log`] — the workers' JSON log lines turned into [`worker_log::LogEvent`]s.
//! * [`imds`] — [`imds::ImdsStandIn`], IMDSv2 with a switchable `spot/instance-action`.
//! * [`moto`] — [`moto::MotoServer`], and [`drill_aws`] — the queue, DLQ and bucket in it.

pub mod drill_aws;
pub mod drill_worker;
pub mod imds;
pub mod moto;
pub mod report;
pub mod scenario;
pub mod worker_log;
pub mod worker_process;
