//! The scaler's CloudWatch metrics, as Embedded Metric Format (EMF) log lines written by
//! `facerec-aws-support`'s `EmfLine`.
//!
//! Lambda ships stdout to CloudWatch Logs, which turns any JSON line carrying an `_aws`
//! member into metrics: no PutMetricData call, no IAM permission. Spec:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//!
//! One line per poll, namespace `METRICS_NAMESPACE`, dimension `ServiceName` (names are an
//! interface: `docs/operations.md` lists them):
//! - `Visible`, `InFlight` (Count): the queue's ApproximateNumberOfMessages and
//!   ApproximateNumberOfMessagesNotVisible;
//! - `BusyTasks` (Count): tasks with scale-in protection on;
//! - `WantTasks` (Count): what load and backlog call for; `DesiredTasks` (Count): the
//!   desired count set (after the scale-down rules);
//! - `InstancesTerminated` (Count): instances drained and terminated by this poll.
//!
//! And one line per invocation: `PollErrors` (Count), the polls skipped for a failed call.

use serde_json::{Map, Value};

use facerec_aws_support::emf::{EmfLine, EmittedMetric, Listing, Unit};
pub use facerec_aws_support::emf::{MetricsSink, StdoutMetrics};

/// Every metric the handler emits, exactly: [`RecordedMetrics`] refuses any other line
/// (so every handler test checks it), and a test finds each name in the handler's
/// source. `terraform/tests/metrics/check_metrics.py` reads this list from the source: a
/// dashboard widget or alarm may name only these.
pub const EMITTED: &[EmittedMetric] = &[
    EmittedMetric {
        name: "Visible",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "InFlight",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "BusyTasks",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "WantTasks",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "DesiredTasks",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "InstancesTerminated",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
    EmittedMetric {
        name: "PollErrors",
        unit: "Count",
        dimensions: &[&["ServiceName"]],
    },
];

/// The scaler's [`Listing`]: its [`EMITTED`] metrics.
#[derive(Debug, Default)]
pub struct ScalerMetrics;

impl Listing for ScalerMetrics {
    const LISTED: Option<&'static [EmittedMetric]> = Some(EMITTED);
}

/// Keeps every line the scaler emits and refuses a metric not in [`EMITTED`]; for tests.
pub type RecordedMetrics = facerec_aws_support::emf::RecordedMetrics<ScalerMetrics>;

/// One EMF line with several Count metrics under the `ServiceName` dimension.
pub fn emf_line(
    namespace: &str,
    service_name: &str,
    metrics: &[(&str, f64)],
    properties: Map<String, Value>,
    unix_millis: i64,
) -> String {
    let line = EmfLine::new(namespace)
        .dimensions(&["ServiceName"])
        .properties(properties)
        .property("ServiceName", service_name);
    metrics
        .iter()
        .fold(line, |line, (name, value)| {
            line.metric(name, Unit::Count, *value)
        })
        .to_line(unix_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facerec_aws_support::emf::assert_each_emitted;
    use serde_json::json;

    #[test]
    fn every_listed_metric_is_emitted_by_the_handler() {
        assert_each_emitted(EMITTED, "handler.rs", include_str!("handler.rs"), |name| {
            format!("(\"{name}\", ")
        });
    }

    #[test]
    #[should_panic(expected = "is not in the component's EMITTED list")]
    fn an_unlisted_metric_is_refused() {
        RecordedMetrics::default().emit(emf_line("ns", "svc", &[("Invented", 1.0)], Map::new(), 0));
    }

    #[test]
    fn line_follows_the_emf_structure() {
        let mut props = Map::new();
        props.insert("PollAt".into(), json!(1_767_225_600u64));
        let line = emf_line(
            "ns/x",
            "facerec-service",
            &[("Visible", 40.0), ("DesiredTasks", 2.0)],
            props,
            1_767_225_600_123,
        );
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_767_225_600_123i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ns/x");
        assert_eq!(directive["Dimensions"], json!([["ServiceName"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Visible", "Unit": "Count"}, {"Name": "DesiredTasks", "Unit": "Count"}])
        );
        assert_eq!(v["ServiceName"], "facerec-service");
        assert_eq!(v["Visible"], 40.0);
        assert_eq!(v["DesiredTasks"], 2.0);
        assert_eq!(v["PollAt"], 1_767_225_600u64);
    }
}
