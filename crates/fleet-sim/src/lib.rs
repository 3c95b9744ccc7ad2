//! Fleet simulator for facerec-fleet's autoscaling (issue 7).
//!
//! A discrete-time model (one-second steps) of the whole scaling loop — jobs arriving
//! on SQS, CloudWatch datapoints and their delay, Application Auto Scaling policies,
//! the ECS service and capacity provider, Spot instances booting, pulling the image,
//! processing batches, and being interrupted — used to compare scaling policies on the
//! same traces before anyone pays for them. Its parameters come from
//! `terraform/scaling.json`, the file Terraform reads too, so it judges the deployed
//! configuration.
//!
//! Layout, in the order data flows:
//! - [`params`]: the scaling parameters (from `terraform/scaling.json` + override) and
//!   the environment assumptions (boot time, metric delay, job-time spread).
//! - [`trace`]: the arrival traces (steady, bursty, diurnal, lone, spike, Spot storm).
//! - [`cloudwatch`]: one-minute datapoints with publication delay, and alarms.
//! - [`policy`]: the policies compared (plan as written, plan fixed, ours-v0 = the first
//!   draft, ours = what `terraform/modules/scaling` deploys, KEDA-like, oracle) as
//!   controllers of the desired task count; [`policy::deployed`] is the Terraform's
//!   metric math that `tests/terraform_drift.rs` holds the two to.
//! - [`oracle`]: the oracle's instance schedule, from every arrival known in advance.
//! - [`backlog_scaler`]: the deployed backlog scaler Lambda as the simulator runs it
//!   (the Lambda's own policy code at its polls), and its monthly cost.
//! - [`backstop`]: the scaler's backstop, two alarms and two scale-out-only step policies
//!   that act only while the scaler is silent.
//! - [`candidates`]: designs beyond scaling.json that are not deployed (the alarms mode
//!   plus fast paths), with the AWS rules they rely on.
//! - [`fleet`]: the world — queue, tasks, instances, capacity provider, Spot — and
//!   [`fleet::simulate`], which runs one policy on one trace, one named step after
//!   another (`fleet/simulation.rs`).
//! - [`outages`]: the scaler silent (10 min, for good, frozen at one task), with and
//!   without the backstop.
//! - [`report`]: per-trace numbers and the goal check against the oracle.
//! - [`cost`]: dollars per 1,000 photos from instance-hours and the measured speed.
//! - [`tuning`]: ours over several seeds, and the search for better `scaling.json` values.
//! - [`scaling_doc`]: writes `docs/scaling.md` and its plots (PNG and SVG of backlog,
//!   tasks and instances), its sections on the scaler and the candidates.
//! - [`world`]: the idealised and the realistic world (distributions, stale counts,
//!   missed invocations, no-capacity windows), with their sources.
//! - [`cli`]: the command line (`fleet-sim …`, later `facerec simulate …`): [`run`].

pub mod backlog_scaler;
pub mod backstop;
pub mod candidates;
pub mod cli;
pub mod cloudwatch;
pub mod cost;
pub mod feasibility;
pub mod fleet;
pub mod held;
pub mod oracle;
pub mod outages;
pub mod params;
pub mod policy;
pub mod report;
pub mod scaling_doc;
pub mod trace;
pub mod trace_file;
pub mod tuning;
pub mod world;

pub use cli::run;
