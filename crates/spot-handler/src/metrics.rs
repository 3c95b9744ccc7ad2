//! The handler's CloudWatch metrics, as Embedded Metric Format (EMF) log lines written by
//! `facerec-aws-support`'s [`EmfLine`].
//!
//! Lambda ships stdout to CloudWatch Logs, which turns any JSON line carrying an `_aws`
//! member into metrics: no PutMetricData call, no IAM permission, no latency on the
//! hot path. Spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//!
//! Metrics (namespace from `METRICS_NAMESPACE`; names and dimensions are an interface:
//! `docs/operations.md` lists them and the Terraform alarms use them):
//! - `Interruptions` (Count) by `EventType` × `AvailabilityZone`, and by `EventType`:
//!   once per container instance of our cluster, under the first notice that drained it
//!   (a recommendation recorded without draining counts once too, and does not stop a
//!   later interruption from counting); de-duplicated through the instance's `facerec.*`
//!   attributes ([`crate::fleet::marks`]);
//! - `DrainLatency` (Milliseconds) by `EventType`: from the event's time to the instance
//!   being DRAINING, with the same once-per-instance rule (property `DrainedBy`);
//! - `TaskStopLatency` (Milliseconds) by `EventType`: from the event's time to the last
//!   task stopping (termination lifecycle only, when our CONTINUE is accepted);
//! - `EventsSkipped` (Count) by `Reason` ([`crate::SkipReason::label`]);
//! - `HandlerErrors` (Count) by `Transient` (`true`: the record is redelivered; `false`:
//!   a permanent error, not retried, the one to alarm on).

pub use facerec_aws_support::emf::{EmfLine, MetricsSink, RecordedMetrics, StdoutMetrics, Unit};
