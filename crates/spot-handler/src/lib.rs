//! Spot-interruption handler of facerec-fleet: a Lambda function that drains ECS
//! container instances before EC2 or Auto Scaling takes them away.
//!
//! Delivery: EventBridge rules put the events on an SQS queue (with a DLQ); the queue
//! invokes this function with batches and `ReportBatchItemFailures`, as
//! aws-node-termination-handler's queue-processor mode does for Kubernetes.
//!
//! Layout, in the order an event flows through it:
//! - [`config`]: `HandlerConfig` from the function's environment;
//! - [`event`]: an SQS body (an EventBridge event) parsed into a typed `Notice`;
//! - [`handler`]: `SpotHandler`, the plain async function over a batch, with
//!   de-duplication, per-event actions and the partial batch response;
//! - [`fleet`]: the traits the handler acts through (`ClusterControl`, `LifecycleHooks`);
//! - [`aws`]: those traits over the AWS SDK (ECS and Auto Scaling clients);
//! - [`metrics`]: CloudWatch Embedded Metric Format lines.
//!
//! `src/bin/bootstrap.rs` wires them to `lambda_runtime` for the `provided.al2023` runtime.

pub mod aws;
pub mod config;
pub mod event;
pub mod fleet;
pub mod handler;
pub mod metrics;

pub use aws::AwsFleet;
pub use config::{ConfigError, HandlerConfig, LifecycleWait};
pub use event::{Interruption, LifecycleAction, Notice};
pub use fleet::{marks, ClusterControl, ContainerInstance, FleetError, LifecycleHooks};
pub use handler::{BatchOutcome, RecordOutcome, RecordResult, SkipReason, SpotHandler, WaitEnd};
pub use metrics::{MetricsSink, RecordedMetrics, StdoutMetrics};
