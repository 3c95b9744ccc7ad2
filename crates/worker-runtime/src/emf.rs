//! CloudWatch Embedded Metric Format: one JSON line per job outcome on stdout.
//!
//! Outcomes: succeeded (emitted once the result is stored), failed (with an `ErrorCode`
//! property), or already stored (a redelivered job acknowledged from its stored result,
//! `JobsAlreadyStored`, no duration or faces: nothing ran).
//!
//! The awslogs driver ships stdout to CloudWatch Logs, which extracts the metrics from
//! the `_aws` envelope — no agent, no PutMetricData calls. Tracing logs go to stderr so
//! every stdout line is a metric document.

use std::io::Write;
use std::time::{Duration, SystemTime};

use facerec_aws_support::emf::{EmfLine, EmittedMetric, Unit};

/// The `Service` dimension's value on every worker metric.
pub const SERVICE: &str = "facerec-worker";

/// Every metric [`EmfEmitter::render`] and [`EmfEmitter::render_dependency`] can emit,
/// exactly (a test renders every outcome and compares). `terraform/tests/metrics/check_metrics.py` reads this list from the
/// source: a dashboard widget or alarm may name only these. `ErrorCode` is a property of
/// failed jobs' lines (Logs Insights), not a dimension.
pub const EMITTED: &[EmittedMetric] = &[
    EmittedMetric {
        name: "JobsSucceeded",
        unit: "Count",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "JobsFailed",
        unit: "Count",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "JobsAlreadyStored",
        unit: "Count",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "JobDuration",
        unit: "Milliseconds",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "FacesFound",
        unit: "Count",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "QueueWait",
        unit: "Milliseconds",
        dimensions: &[&["Service"]],
    },
    EmittedMetric {
        name: "DependencyDown",
        unit: "Count",
        dimensions: &[&["Service", "Dependency"]],
    },
    EmittedMetric {
        name: "DependencyOutage",
        unit: "Milliseconds",
        dimensions: &[&["Service", "Dependency"]],
    },
];

/// Where metric lines go (stdout in production, a buffer in tests).
pub struct EmfEmitter {
    namespace: String,
    service: String,
    sink: Box<dyn Fn(&str) + Send + Sync>,
}

/// One job's metrics.
#[derive(Debug, Clone, Default)]
pub struct JobMetrics {
    pub succeeded: bool,
    /// A redelivery acknowledged from its stored result (then `succeeded` is false).
    pub already_stored: bool,
    pub duration: Duration,
    pub queue_wait: Option<Duration>,
    pub faces_found: u64,
    pub error_code: Option<String>,
}

impl EmfEmitter {
    pub fn stdout(namespace: impl Into<String>, service: impl Into<String>) -> Self {
        Self::with_sink(namespace, service, |line| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        })
    }

    pub fn with_sink(
        namespace: impl Into<String>,
        service: impl Into<String>,
        sink: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            service: service.into(),
            sink: Box::new(sink),
        }
    }

    /// Render one job's EMF document.
    pub fn render(&self, m: &JobMetrics) -> String {
        let ts = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut line = EmfLine::new(&self.namespace)
            .dimensions(&["Service"])
            .property("Service", self.service.as_str())
            .metric(
                "JobsSucceeded",
                Unit::Count,
                u64::from(m.succeeded && !m.already_stored),
            )
            .metric(
                "JobsFailed",
                Unit::Count,
                u64::from(!m.succeeded && !m.already_stored),
            )
            .metric(
                "JobsAlreadyStored",
                Unit::Count,
                u64::from(m.already_stored),
            );
        if !m.already_stored {
            line = line
                .metric(
                    "JobDuration",
                    Unit::Milliseconds,
                    m.duration.as_secs_f64() * 1000.0,
                )
                .metric("FacesFound", Unit::Count, m.faces_found);
        }
        if let Some(w) = m.queue_wait {
            line = line.metric("QueueWait", Unit::Milliseconds, w.as_secs_f64() * 1000.0);
        }
        if let Some(code) = &m.error_code {
            // A property, not a dimension: searchable in Logs Insights, no metric cardinality.
            line = line.property("ErrorCode", code.as_str());
        }
        line.to_line(ts)
    }

    pub fn emit(&self, m: &JobMetrics) {
        (self.sink)(&self.render(m));
    }

    /// Render a dependency's state change: `DependencyDown` 1 when it goes down, 0 when
    /// it is back (then with `DependencyOutage`, how long it was down), by `Service` and
    /// `Dependency` (`job-queue`, `s3`, `result-queue`).
    pub fn render_dependency(
        &self,
        dependency: &str,
        down: bool,
        outage: Option<Duration>,
    ) -> String {
        let ts = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut line = EmfLine::new(&self.namespace)
            .dimensions(&["Service", "Dependency"])
            .property("Service", self.service.as_str())
            .property("Dependency", dependency)
            .metric("DependencyDown", Unit::Count, u64::from(down));
        if let Some(o) = outage {
            line = line.metric(
                "DependencyOutage",
                Unit::Milliseconds,
                o.as_secs_f64() * 1000.0,
            );
        }
        line.to_line(ts)
    }

    pub fn emit_dependency(&self, dependency: &str, down: bool, outage: Option<Duration>) {
        (self.sink)(&self.render_dependency(dependency, down, outage));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every outcome rendered: the (name, unit, dimension sets) seen are exactly
    /// [`EMITTED`], so the list the dashboard check reads cannot drift from the writer.
    #[test]
    fn emitted_list_is_exactly_what_render_declares() {
        let e = EmfEmitter::with_sink("facerec-fleet", SERVICE, |_| {});
        let outcomes = [
            JobMetrics {
                succeeded: true,
                queue_wait: Some(Duration::from_secs(1)),
                ..JobMetrics::default()
            },
            JobMetrics {
                error_code: Some("invalid_job".into()),
                ..JobMetrics::default()
            },
            JobMetrics {
                already_stored: true,
                ..JobMetrics::default()
            },
        ];
        let mut seen = std::collections::BTreeSet::new();
        let lines = outcomes.iter().map(|m| e.render(m)).chain([
            e.render_dependency("s3", true, None),
            e.render_dependency("s3", false, Some(Duration::from_secs(3))),
        ]);
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let d = &v["_aws"]["CloudWatchMetrics"][0];
            let dims: Vec<Vec<String>> = serde_json::from_value(d["Dimensions"].clone()).unwrap();
            for m in d["Metrics"].as_array().unwrap() {
                seen.insert((
                    m["Name"].as_str().unwrap().to_string(),
                    m["Unit"].as_str().unwrap().to_string(),
                    dims.clone(),
                ));
            }
        }
        let listed: std::collections::BTreeSet<_> = EMITTED
            .iter()
            .map(|m| {
                (
                    m.name.to_string(),
                    m.unit.to_string(),
                    m.dimensions
                        .iter()
                        .map(|s| s.iter().map(|d| d.to_string()).collect::<Vec<_>>())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(seen, listed);
    }

    #[test]
    fn renders_valid_emf() {
        let e = EmfEmitter::with_sink("facerec-fleet", "facerec-worker", |_| {});
        let line = e.render(&JobMetrics {
            succeeded: true,
            duration: Duration::from_millis(250),
            queue_wait: Some(Duration::from_secs(2)),
            faces_found: 3,
            ..JobMetrics::default()
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "facerec-fleet");
        let names: Vec<_> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect();
        // Every declared metric must have a value at the root, or CloudWatch drops it.
        for n in &names {
            assert!(v.get(n).is_some(), "metric {n} has no value");
        }
        assert!(names.contains(&"QueueWait".to_string()));
        assert_eq!(v["JobsSucceeded"], 1);
        assert_eq!(v["FacesFound"], 3);
        assert_eq!(v["JobDuration"], 250.0);
        assert!(line.lines().count() == 1);
        assert_eq!(v["JobsAlreadyStored"], 0);

        let again = e.render(&JobMetrics {
            already_stored: true,
            ..JobMetrics::default()
        });
        let v: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(
            (
                &v["JobsSucceeded"],
                &v["JobsFailed"],
                &v["JobsAlreadyStored"]
            ),
            (&json!(0), &json!(0), &json!(1))
        );
        assert!(v.get("JobDuration").is_none(), "nothing ran: {again}");
        for m in v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(v.get(m["Name"].as_str().unwrap()).is_some());
        }
    }

    #[test]
    fn renders_dependency_changes_by_dependency() {
        let e = EmfEmitter::with_sink("facerec-fleet", "facerec-worker", |_| {});
        let down: serde_json::Value =
            serde_json::from_str(&e.render_dependency("s3", true, None)).unwrap();
        let cw = &down["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Dimensions"], json!([["Service", "Dependency"]]));
        assert_eq!(
            (&down["Dependency"], &down["DependencyDown"]),
            (&json!("s3"), &json!(1))
        );
        assert!(down.get("DependencyOutage").is_none());
        let up: serde_json::Value = serde_json::from_str(&e.render_dependency(
            "job-queue",
            false,
            Some(Duration::from_millis(1500)),
        ))
        .unwrap();
        assert_eq!(up["DependencyDown"], 0);
        assert_eq!(up["DependencyOutage"], 1500.0);
        for m in up["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            assert!(up.get(m["Name"].as_str().unwrap()).is_some());
        }
    }
}
