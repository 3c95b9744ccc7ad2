//! The handler's CloudWatch metrics, as Embedded Metric Format (EMF) log lines written by
//! `facerec-aws-support`'s [`EmfLine`].
//!
//! Lambda ships stdout to CloudWatch Logs, which turns any JSON line carrying an `_aws`
//! member into metrics: no PutMetricData call, no IAM permission, no latency on the
//! hot path. Spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//!
//! Metrics (namespace from `METRICS_NAMESPACE`; names and dimensions are an interface:
//! `docs/spot.md` lists them and the Terraform alarms use them):
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

pub use facerec_aws_support::emf::{EmfLine, MetricsSink, StdoutMetrics, Unit};
use facerec_aws_support::emf::{EmittedMetric, Listing};

/// Every metric the handler emits, exactly: [`RecordedMetrics`] refuses any other
/// record (so every handler test checks it), and a test finds each name in the
/// handler's source. `terraform/tests/metrics/check_metrics.py` reads this list from the
/// source: a dashboard widget or alarm may name only these.
pub const EMITTED: &[EmittedMetric] = &[
    EmittedMetric {
        name: "Interruptions",
        unit: "Count",
        dimensions: &[&["EventType", "AvailabilityZone"], &["EventType"]],
    },
    EmittedMetric {
        name: "DrainLatency",
        unit: "Milliseconds",
        dimensions: &[&["EventType"]],
    },
    EmittedMetric {
        name: "TaskStopLatency",
        unit: "Milliseconds",
        dimensions: &[&["EventType"]],
    },
    EmittedMetric {
        name: "EventsSkipped",
        unit: "Count",
        dimensions: &[&["Reason"]],
    },
    EmittedMetric {
        name: "HandlerErrors",
        unit: "Count",
        dimensions: &[&["Transient"]],
    },
];

/// The Spot handler's [`Listing`]: its [`EMITTED`] metrics.
#[derive(Debug, Default)]
pub struct SpotHandlerMetrics;

impl Listing for SpotHandlerMetrics {
    const LISTED: Option<&'static [EmittedMetric]> = Some(EMITTED);
}

/// Keeps every line the handler emits and refuses a metric not in [`EMITTED`]; for tests
/// and the local drill.
pub type RecordedMetrics = facerec_aws_support::emf::RecordedMetrics<SpotHandlerMetrics>;

#[cfg(test)]
mod tests {
    use super::*;
    use facerec_aws_support::emf::assert_each_emitted;

    #[test]
    fn every_listed_metric_is_emitted_by_the_handler() {
        assert_each_emitted(EMITTED, "handler.rs", include_str!("handler.rs"), |name| {
            format!(".metric(\"{name}\", ")
        });
    }

    #[test]
    #[should_panic(expected = "is not in the component's EMITTED list")]
    fn an_unlisted_metric_is_refused() {
        EmfLine::new("ns")
            .metric("Interruptions", Unit::Count, 1.0)
            .dimensions(&["Cluster"])
            .property("Cluster", "c")
            .emit(&RecordedMetrics::default());
    }
}
