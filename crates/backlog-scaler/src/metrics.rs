//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
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

use std::sync::Mutex;

use serde_json::{json, Map, Value};

/// Where EMF lines go: stdout in Lambda, a buffer in tests.
pub trait MetricsSink: Send + Sync {
    fn emit(&self, line: String);
}

/// Writes each line to stdout, where the Lambda log agent picks it up.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdoutMetrics;

impl MetricsSink for StdoutMetrics {
    fn emit(&self, line: String) {
        println!("{line}");
    }
}

/// Keeps every emitted line; for tests.
#[derive(Debug, Default)]
pub struct RecordedMetrics {
    lines: Mutex<Vec<String>>,
}

impl RecordedMetrics {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("metrics lock").clone()
    }

    /// The parsed records that carry metric `name`.
    pub fn records_with(&self, name: &str) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get(name).is_some())
            .collect()
    }
}

impl MetricsSink for RecordedMetrics {
    fn emit(&self, line: String) {
        self.lines.lock().expect("metrics lock").push(line);
    }
}

/// One EMF line with several Count metrics under the `ServiceName` dimension.
pub fn emf_line(
    namespace: &str,
    service_name: &str,
    metrics: &[(&str, f64)],
    properties: Map<String, Value>,
    unix_millis: i64,
) -> String {
    let mut root = properties;
    root.insert("ServiceName".into(), json!(service_name));
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": unix_millis,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["ServiceName"]],
                "Metrics": metrics
                    .iter()
                    .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in metrics {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
