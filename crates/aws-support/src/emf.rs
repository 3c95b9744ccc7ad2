//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
//!
//! CloudWatch Logs turns any JSON log line carrying an `_aws` member into metrics: no
//! PutMetricData call, no IAM permission, no latency on the hot path. Lambda ships a
//! function's stdout to CloudWatch Logs, the awslogs driver a container's. Spec:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//!
//! One [`EmfLine`] is one JSON object on one line: its properties (dimension values and
//! searchable fields) at the top level, the `_aws` directive (timestamp, namespace,
//! dimension sets, metric names and units), and each metric's value at the top level.
//! Which metrics, dimensions and properties a component writes is its own interface
//! (`docs/operations.md`, `docs/jobs.md` and the Terraform alarms name them).

use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

/// The unit CloudWatch records a metric value in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF line: metrics with their units and values, dimension sets, properties.
#[derive(Clone, Debug)]
pub struct EmfLine {
    namespace: String,
    dimension_sets: Vec<Vec<String>>,
    metrics: Vec<(String, Unit, Value)>,
    properties: Map<String, Value>,
}

impl EmfLine {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            dimension_sets: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// A metric and its value (a number: an integer stays an integer in the line).
    pub fn metric(mut self, name: &str, unit: Unit, value: impl Into<Value>) -> Self {
        self.metrics.push((name.to_string(), unit, value.into()));
        self
    }

    /// Adds a dimension set; every name in it must also be set with [`Self::property`],
    /// or CloudWatch drops the record.
    pub fn dimensions(mut self, names: &[&str]) -> Self {
        self.dimension_sets
            .push(names.iter().map(|n| n.to_string()).collect());
        self
    }

    /// A top-level member: a dimension value or a property (instance id, event id…). A
    /// metric of the same name takes its place.
    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_string(), value.into());
        self
    }

    /// Several properties at once (see [`Self::property`]).
    pub fn properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties.extend(properties);
        self
    }

    /// The JSON line, timestamped `unix_millis` (milliseconds since the Unix epoch).
    pub fn to_line(&self, unix_millis: i64) -> String {
        let mut root = self.properties.clone();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": unix_millis,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": self.dimension_sets,
                    "Metrics": self
                        .metrics
                        .iter()
                        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
                        .collect::<Vec<_>>(),
                }],
            }),
        );
        for (name, _, value) in &self.metrics {
            root.insert(name.clone(), value.clone());
        }
        Value::Object(root).to_string()
    }

    /// Writes the line, timestamped now, to `sink`.
    pub fn emit(&self, sink: &dyn MetricsSink) {
        sink.emit(self.to_line(unix_millis_now()));
    }
}

/// Milliseconds since the Unix epoch, now (0 if the clock is before it).
pub fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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

/// One metric a component emits: its name, unit and dimension sets. Each component
/// keeps the exact list of its own (`pub const EMITTED`), and
/// `terraform/tests/metrics/check_metrics.py` reads those lists from the source: a
/// dashboard widget or an alarm may name only a listed metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmittedMetric {
    pub name: &'static str,
    pub unit: &'static str,
    pub dimensions: &'static [&'static [&'static str]],
}

/// The metrics a [`RecordedMetrics`] accepts: a component's `EMITTED` list, or any.
pub trait Listing: Send + Sync + 'static {
    /// `None`: every line is accepted.
    const LISTED: Option<&'static [EmittedMetric]>;
}

/// Accepts every line (tests of the writer itself, the local drill).
#[derive(Debug, Default)]
pub struct AnyMetric;

impl Listing for AnyMetric {
    const LISTED: Option<&'static [EmittedMetric]> = None;
}

/// Panics unless every metric `line` declares is in `listed` with the same unit and
/// dimension sets.
pub fn assert_listed(listed: &[EmittedMetric], line: &str) {
    let v: Value = serde_json::from_str(line).expect("an EMF line is JSON");
    for d in v["_aws"]["CloudWatchMetrics"]
        .as_array()
        .expect("a directive")
    {
        let dims: Vec<Vec<String>> =
            serde_json::from_value(d["Dimensions"].clone()).expect("dimension sets");
        for m in d["Metrics"].as_array().expect("metrics") {
            let (name, unit) = (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap());
            assert!(
                listed.iter().any(|e| e.name == name
                    && e.unit == unit
                    && e.dimensions.len() == dims.len()
                    && e.dimensions.iter().zip(&dims).all(|(a, b)| a == b)),
                "{name} ({unit}, {dims:?}) is not in the component's EMITTED list: add it there (and see terraform/tests/metrics)"
            );
        }
    }
}

/// Panics unless `source`, the text of the component's file `file` (`include_str!`),
/// emits every metric of `listed`, as `call(name)` spells the emitting call: a listed
/// metric nothing emits would let a widget or an alarm watch a metric that never comes.
pub fn assert_each_emitted(
    listed: &[EmittedMetric],
    file: &str,
    source: &str,
    call: impl Fn(&str) -> String,
) {
    for m in listed {
        assert!(
            source.contains(&call(m.name)),
            "{} is listed but {file} never emits it",
            m.name
        );
    }
}

/// Keeps every emitted line; for tests and for the local drill. With a component's
/// [`Listing`] it refuses (panics on) any metric not in that component's list, so every
/// test that records metrics also checks the list the dashboard is held to.
#[derive(Debug)]
pub struct RecordedMetrics<L: Listing = AnyMetric> {
    lines: Mutex<Vec<String>>,
    listing: PhantomData<L>,
}

impl<L: Listing> Default for RecordedMetrics<L> {
    fn default() -> Self {
        Self {
            lines: Mutex::default(),
            listing: PhantomData,
        }
    }
}

impl<L: Listing> RecordedMetrics<L> {
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

impl<L: Listing> MetricsSink for RecordedMetrics<L> {
    fn emit(&self, line: String) {
        if let Some(listed) = L::LISTED {
            assert_listed(listed, &line);
        }
        self.lines.lock().expect("metrics lock").push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Spot handler's shape: one metric, two dimension sets, extra properties.
    #[test]
    fn line_follows_the_emf_structure() {
        let line = EmfLine::new("ns/x")
            .metric("Interruptions", Unit::Count, 1.0)
            .dimensions(&["EventType", "AvailabilityZone"])
            .dimensions(&["EventType"])
            .property("EventType", "spot-interruption")
            .property("AvailabilityZone", "us-east-1a")
            .property("InstanceId", "i-1")
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

    /// The bytes each component wrote before the three writers became this one (keys in
    /// order, floats as floats, integers as integers): dashboards and alarms read them.
    #[test]
    fn lines_are_the_components_former_bytes() {
        // Spot handler (crates/spot-handler, its former EmfRecord).
        assert_eq!(
            EmfLine::new("ns/x")
                .metric("DrainLatency", Unit::Milliseconds, 1500.0)
                .dimensions(&["EventType"])
                .property("EventType", "spot-interruption")
                .property("InstanceId", "i-1")
                .to_line(1_700_000_000_123),
            r#"{"DrainLatency":1500.0,"EventType":"spot-interruption","InstanceId":"i-1","_aws":{"CloudWatchMetrics":[{"Dimensions":[["EventType"]],"Metrics":[{"Name":"DrainLatency","Unit":"Milliseconds"}],"Namespace":"ns/x"}],"Timestamp":1700000000123}}"#
        );
        // Backlog scaler (crates/backlog-scaler, emf_line).
        let mut props = Map::new();
        props.insert("PollAt".into(), json!(1_767_225_600u64));
        assert_eq!(
            EmfLine::new("ns/x")
                .dimensions(&["ServiceName"])
                .properties(props)
                .property("ServiceName", "facerec-service")
                .metric("Visible", Unit::Count, 40.0)
                .metric("DesiredTasks", Unit::Count, 2.0)
                .to_line(1_767_225_600_123),
            r#"{"DesiredTasks":2.0,"PollAt":1767225600,"ServiceName":"facerec-service","Visible":40.0,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["ServiceName"]],"Metrics":[{"Name":"Visible","Unit":"Count"},{"Name":"DesiredTasks","Unit":"Count"}],"Namespace":"ns/x"}],"Timestamp":1767225600123}}"#
        );
        // Worker (crates/worker-runtime, EmfEmitter): integer counts, float durations.
        assert_eq!(
            EmfLine::new("facerec-fleet")
                .dimensions(&["Service"])
                .property("Service", "facerec-worker")
                .metric("JobsSucceeded", Unit::Count, 1u64)
                .metric("JobsFailed", Unit::Count, 0u64)
                .metric("JobDuration", Unit::Milliseconds, 250.0)
                .property("ErrorCode", "none")
                .to_line(1_700_000_000_000),
            r#"{"ErrorCode":"none","JobDuration":250.0,"JobsFailed":0,"JobsSucceeded":1,"Service":"facerec-worker","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Service"]],"Metrics":[{"Name":"JobsSucceeded","Unit":"Count"},{"Name":"JobsFailed","Unit":"Count"},{"Name":"JobDuration","Unit":"Milliseconds"}],"Namespace":"facerec-fleet"}],"Timestamp":1700000000000}}"#
        );
    }

    #[test]
    fn recorded_metrics_keep_lines_and_find_records() {
        let sink: RecordedMetrics = RecordedMetrics::default();
        EmfLine::new("ns").metric("A", Unit::Count, 1.0).emit(&sink);
        sink.emit("not json".into());
        assert_eq!(sink.lines().len(), 2);
        assert_eq!(sink.records_with("A").len(), 1);
        assert!(sink.records_with("B").is_empty());
    }

    struct OnlyA;
    impl Listing for OnlyA {
        const LISTED: Option<&'static [EmittedMetric]> = Some(&[EmittedMetric {
            name: "A",
            unit: "Count",
            dimensions: &[&["Service"]],
        }]);
    }

    #[test]
    fn a_listing_accepts_its_metrics() {
        let sink = RecordedMetrics::<OnlyA>::default();
        EmfLine::new("ns")
            .dimensions(&["Service"])
            .property("Service", "s")
            .metric("A", Unit::Count, 1)
            .emit(&sink);
        assert_eq!(sink.lines().len(), 1);
    }

    #[test]
    #[should_panic(expected = "B (Count, [[\"Service\"]]) is not in the component's EMITTED list")]
    fn a_listing_refuses_an_unlisted_name() {
        EmfLine::new("ns")
            .dimensions(&["Service"])
            .property("Service", "s")
            .metric("B", Unit::Count, 1)
            .emit(&RecordedMetrics::<OnlyA>::default());
    }

    #[test]
    #[should_panic(expected = "is not in the component's EMITTED list")]
    fn a_listing_refuses_other_dimensions() {
        EmfLine::new("ns")
            .dimensions(&["Other"])
            .property("Other", "s")
            .metric("A", Unit::Count, 1)
            .emit(&RecordedMetrics::<OnlyA>::default());
    }
}
