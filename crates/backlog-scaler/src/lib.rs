//! Backlog scaler of facerec-fleet: a Lambda function, invoked every minute, that polls
//! the jobs queue and the workers' task scale-in protection every `POLL_SECONDS` and sets
//! the ECS service's desired count and the Auto Scaling group's capacity itself
//! (`scaling_mode = "backlog_scaler"`, the default; capacity-provider managed scaling is
//! off). The rule is `facerec-backlog-policy`'s, the code the fleet simulator judges.
//!
//! Layout, in the order an invocation flows through it:
//! - [`config`]: [`ScalerConfig`] from the function's environment;
//! - [`handler`]: [`BacklogScaler::invoke`], the plain async function: state in, polls,
//!   actions, state out;
//! - [`fleet`]: the traits it acts through ([`FleetApi`], [`StateStore`]);
//! - [`instances`]: the group's instances with their container instances, counted with
//!   `facerec_backlog_policy::capacity`;
//! - [`state`]: what the SSM parameter holds (the rule's state, instance sightings);
//! - [`aws`]: those traits over the AWS SDK (SQS, ECS, Auto Scaling, SSM clients);
//! - [`clock`]: monotonic and wall time ([`TokioClock`]), pausable in tests;
//! - [`metrics`]: CloudWatch Embedded Metric Format lines.
//!
//! `src/bin/bootstrap.rs` wires them to `lambda_runtime` for the `provided.al2023` runtime.

pub mod aws;
pub mod clock;
pub mod config;
pub mod fleet;
pub mod handler;
pub mod instances;
pub mod metrics;
pub mod state;

pub use aws::{AwsFleet, SsmStateStore};
pub use clock::{Clock, TokioClock};
pub use config::{ConfigError, ScalerConfig};
pub use fleet::{
    AwsError, ContainerInstance, Deployment, FleetApi, GroupInstance, GroupState, QueueDepth,
    ServiceCounts, StateStore,
};
pub use handler::{BacklogScaler, InvocationReport, PollReport, ScalerError};
pub use metrics::{MetricsSink, RecordedMetrics, StdoutMetrics};
pub use state::{state_json, ScalerState, Sightings, STATE_LIMIT_BYTES};
