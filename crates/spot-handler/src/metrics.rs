//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
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

/// Keeps every emitted line; for tests and for the local drill.
#[derive(Debug, Default)]
pub struct RecordedMetrics {
    lines: Mutex<Vec<String>>,
}

impl RecordedMetrics {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("metrics lock").clone()
    }

    /// The parsed records whose metric `name` is present.
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

/// The unit CloudWatch records a metric value in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF record: a metric value, its dimension sets, and extra searchable properties.
#[derive(Clone, Debug)]
pub struct EmfRecord {
    namespace: String,
    metric: &'static str,
    unit: Unit,
    value: f64,
    dimension_sets: Vec<Vec<&'static str>>,
    fields: Map<String, Value>,
}

impl EmfRecord {
    pub fn new(namespace: &str, metric: &'static str, unit: Unit, value: f64) -> Self {
        Self {
            namespace: namespace.to_string(),
            metric,
            unit,
            value,
            dimension_sets: Vec::new(),
            fields: Map::new(),
        }
    }

    /// Adds a dimension set; every name in it must also be set with [`Self::field`].
    pub fn dimensions(mut self, names: &[&'static str]) -> Self {
        self.dimension_sets.push(names.to_vec());
        self
    }

    /// A top-level member: a dimension value or a property (instance id, event id…).
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// The JSON line, timestamped `now_ms` (milliseconds since the Unix epoch).
    pub fn to_line(&self, now_ms: i64) -> String {
        let mut root = self.fields.clone();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": self.dimension_sets,
                    "Metrics": [{"Name": self.metric, "Unit": self.unit.as_str()}],
                }],
            }),
        );
        root.insert(self.metric.into(), json!(self.value));
        Value::Object(root).to_string()
    }

    pub fn emit(&self, sink: &dyn MetricsSink) {
        sink.emit(self.to_line(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_follows_the_emf_structure() {
        let line = EmfRecord::new("ns/x", "Interruptions", Unit::Count, 1.0)
            .dimensions(&["EventType", "AvailabilityZone"])
            .dimensions(&["EventType"])
            .field("EventType", "spot-interruption")
            .field("AvailabilityZone", "us-east-1a")
            .field("InstanceId", "i-1")
            .to_line(1_700_000_000_123);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_123i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ns/x");
        assert_eq!(
            directive["Dimensions"],
            json!([["EventType", "AvailabilityZone"], ["EventType"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Interruptions", "Unit": "Count"}])
        );
        assert_eq!(v["Interruptions"], 1.0);
        assert_eq!(v["AvailabilityZone"], "us-east-1a");
        assert_eq!(v["InstanceId"], "i-1");
        // Every dimension named must be a top-level member, or CloudWatch drops the record.
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                assert!(v.get(name.as_str().unwrap()).is_some(), "{name} missing");
            }
        }
    }
}
