//! The scaler's configuration, read from the Lambda function's environment.
//!
//! Every variable has the name `terraform/modules/backlog_scaler` sets; the scaling values
//! come from `terraform/scaling.json` (the simulator reads the same file), see
//! `docs/operations.md`. Parsing goes through [`ScalerConfig::from_lookup`] so tests never
//! touch the process environment. A missing or invalid value fails the cold start with
//! a message naming the variable.

use std::time::Duration;

use facerec_backlog_policy::{LoadEstimate, PolicyConfig};

/// The default CloudWatch namespace of the scaler's metrics: the fleet's one namespace.
pub use facerec_aws_support::METRICS_NAMESPACE as DEFAULT_METRICS_NAMESPACE;

/// An SSM standard parameter holds at most 4096 characters. A sample takes at most ~35
/// (`[1767225600,9999999,999,999],`), so 110 samples leave room for the rest.
pub const MAX_REMEMBERED_POLLS: u64 = 110;

/// Most tasks: terraform/variables.tf's validation of max_tasks (and what keeps a sample's
/// busy and want counts at four digits in the SSM parameter).
pub const MAX_TASKS_LIMIT: u32 = 1000;

/// Every variable the function reads, required ones first.
pub const VARIABLES: [&str; 17] = [
    "QUEUE_URL",
    "CLUSTER_NAME",
    "SERVICE_NAME",
    "AUTOSCALING_GROUP_NAME",
    "STATE_PARAMETER",
    "JOB_SECONDS",
    "ACCEPTABLE_LATENCY_SECONDS",
    "TARGET_UTILIZATION",
    "MIN_TASKS",
    "MAX_TASKS",
    "COLD_START_SECONDS",
    "POLL_SECONDS",
    "RUN_SECONDS",
    "LOAD_WINDOW_SECONDS",
    "SCALE_DOWN_WINDOW_SECONDS",
    "ACTIVITY_WINDOW_SECONDS",
    "METRICS_NAMESPACE",
];

/// The variables without a default: the first ten of [`VARIABLES`].
pub const REQUIRED: [&str; 10] = *VARIABLES.first_chunk().unwrap();

/// Everything the scaler needs besides the AWS clients.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalerConfig {
    /// The jobs queue (`QUEUE_URL`).
    pub queue_url: String,
    /// The ECS cluster (`CLUSTER_NAME`) and the worker service in it (`SERVICE_NAME`).
    pub cluster_name: String,
    pub service_name: String,
    /// The workers' Auto Scaling group (`AUTOSCALING_GROUP_NAME`).
    pub autoscaling_group_name: String,
    /// The SSM parameter holding the rule's state between invocations (`STATE_PARAMETER`).
    pub state_parameter: String,
    /// Seconds between polls within one invocation (`POLL_SECONDS`, default 10).
    pub poll_interval: Duration,
    /// The last poll is at most this far into the invocation (`RUN_SECONDS`, default 50):
    /// polls at 0, P, 2P … ≤ RUN_SECONDS.
    pub run_for: Duration,
    /// The rule's parameters (`JOB_SECONDS`, `ACCEPTABLE_LATENCY_SECONDS`,
    /// `COLD_START_SECONDS` (165), `TARGET_UTILIZATION`, `MIN_TASKS`, `MAX_TASKS`,
    /// `LOAD_WINDOW_SECONDS` (60), `SCALE_DOWN_WINDOW_SECONDS` (60),
    /// `ACTIVITY_WINDOW_SECONDS` (900)).
    pub policy: PolicyConfig,
    /// CloudWatch namespace of the EMF metrics (`METRICS_NAMESPACE`).
    pub metrics_namespace: String,
}

/// A configuration value that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is not {expected}")]
    NotANumber {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("environment variable {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl ScalerConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The polls of one invocation, as offsets from its start: 0, P, 2P … ≤ run_for.
    pub fn poll_offsets(&self) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut offset = Duration::ZERO;
        while offset <= self.run_for {
            out.push(offset);
            offset += self.poll_interval;
        }
        out
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| value(name).ok_or(ConfigError::Missing(name));
        let float = |name: &'static str, v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or(ConfigError::NotANumber {
                    name,
                    value: v,
                    expected: "a number",
                })
        };
        let whole = |name: &'static str, v: String| {
            v.parse::<u64>().map_err(|_| ConfigError::NotANumber {
                name,
                value: v,
                expected: "a whole number",
            })
        };
        let whole_or = |name: &'static str, default: u64| match value(name) {
            None => Ok(default),
            Some(v) => whole(name, v),
        };
        let count = |name: &'static str| -> Result<u32, ConfigError> {
            let n = whole(name, required(name)?)?;
            u32::try_from(n).map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{n} is too large"),
            })
        };

        let queue_url = required("QUEUE_URL")?;
        let cluster_name = required("CLUSTER_NAME")?;
        let service_name = required("SERVICE_NAME")?;
        let autoscaling_group_name = required("AUTOSCALING_GROUP_NAME")?;
        let state_parameter = required("STATE_PARAMETER")?;
        let policy = PolicyConfig {
            job_seconds: float("JOB_SECONDS", required("JOB_SECONDS")?)?,
            acceptable_latency_seconds: float(
                "ACCEPTABLE_LATENCY_SECONDS",
                required("ACCEPTABLE_LATENCY_SECONDS")?,
            )?,
            cold_start_seconds: whole_or("COLD_START_SECONDS", 165)?,
            target_utilization: float("TARGET_UTILIZATION", required("TARGET_UTILIZATION")?)?,
            min_tasks: count("MIN_TASKS")?,
            max_tasks: count("MAX_TASKS")?,
            load_window_seconds: whole_or("LOAD_WINDOW_SECONDS", 60)?,
            scale_down_window_seconds: whole_or("SCALE_DOWN_WINDOW_SECONDS", 60)?,
            activity_window_seconds: whole_or("ACTIVITY_WINDOW_SECONDS", 900)?,
            load_estimate: LoadEstimate::BusyMean,
        };
        if policy.max_tasks > MAX_TASKS_LIMIT {
            return Err(ConfigError::Invalid {
                name: "MAX_TASKS",
                reason: format!("{} is above {MAX_TASKS_LIMIT}", policy.max_tasks),
            });
        }
        policy.validate().map_err(|e| ConfigError::Invalid {
            name: variable_of(e.field),
            reason: e.reason.to_string(),
        })?;
        let poll = whole_or("POLL_SECONDS", 10)?;
        if poll == 0 {
            return Err(ConfigError::Invalid {
                name: "POLL_SECONDS",
                reason: "must be at least 1".into(),
            });
        }
        let run = whole_or("RUN_SECONDS", 50)?;
        if run >= 60 {
            // The schedule invokes the function every minute with reserved concurrency 1:
            // a run into the next minute would make that invocation fail (throttled).
            return Err(ConfigError::Invalid {
                name: "RUN_SECONDS",
                reason: format!("{run} must be below 60 (the next invocation starts a minute later; the last poll needs time to act)"),
            });
        }
        let remembered = policy.memory_seconds() / poll + 1;
        if remembered > MAX_REMEMBERED_POLLS {
            return Err(ConfigError::Invalid {
                name: "ACTIVITY_WINDOW_SECONDS",
                reason: format!(
                    "the longest window ({} s) at POLL_SECONDS={poll} keeps {remembered} polls, more than the {MAX_REMEMBERED_POLLS} \
                     that fit the SSM parameter (4 KB): shorten the window or poll less often",
                    policy.memory_seconds()
                ),
            });
        }
        Ok(Self {
            queue_url,
            cluster_name,
            service_name,
            autoscaling_group_name,
            state_parameter,
            poll_interval: Duration::from_secs(poll),
            run_for: Duration::from_secs(run),
            policy,
            metrics_namespace: value("METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_string()),
        })
    }
}

/// The environment variable of a [`PolicyConfig`] field.
fn variable_of(field: &str) -> &'static str {
    match field {
        "job_seconds" => "JOB_SECONDS",
        "acceptable_latency_seconds" => "ACCEPTABLE_LATENCY_SECONDS",
        "target_utilization" => "TARGET_UTILIZATION",
        "min_tasks" => "MIN_TASKS",
        "max_tasks" => "MAX_TASKS",
        "cold_start_seconds" => "COLD_START_SECONDS",
        "load_window_seconds" => "LOAD_WINDOW_SECONDS",
        "scale_down_window_seconds" => "SCALE_DOWN_WINDOW_SECONDS",
        _ => "ACTIVITY_WINDOW_SECONDS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const MINIMAL: [(&str, &str); 10] = [
        (
            "QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/facerec-jobs",
        ),
        ("CLUSTER_NAME", "facerec-cluster"),
        ("SERVICE_NAME", "facerec-service"),
        ("AUTOSCALING_GROUP_NAME", "facerec-asg"),
        ("STATE_PARAMETER", "/facerec/backlog-scaler/state"),
        ("JOB_SECONDS", "6"),
        ("ACCEPTABLE_LATENCY_SECONDS", "300"),
        // Terraform renders scaling.json's 1.0 as "1".
        ("TARGET_UTILIZATION", "1"),
        ("MIN_TASKS", "0"),
        ("MAX_TASKS", "5"),
    ];

    fn config(extra: &[(&str, &str)], without: &[&str]) -> Result<ScalerConfig, ConfigError> {
        let mut map: HashMap<String, String> = MINIMAL
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra {
            map.insert(k.to_string(), v.to_string());
        }
        for k in without {
            map.remove(*k);
        }
        ScalerConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_to_the_optional_variables() {
        let c = config(&[], &[]).unwrap();
        assert_eq!(c.service_name, "facerec-service");
        assert_eq!(c.poll_interval, Duration::from_secs(10));
        assert_eq!(c.run_for, Duration::from_secs(50));
        assert_eq!(c.policy.cold_start_seconds, 165);
        assert_eq!(c.policy.job_seconds, 6.0);
        assert_eq!(c.policy.target_utilization, 1.0);
        assert_eq!(
            (
                c.policy.load_window_seconds,
                c.policy.scale_down_window_seconds,
                c.policy.activity_window_seconds
            ),
            (60, 60, 900)
        );
        assert_eq!(c.policy.load_estimate, LoadEstimate::BusyMean);
        assert_eq!(c.metrics_namespace, DEFAULT_METRICS_NAMESPACE);
        let offsets: Vec<u64> = c.poll_offsets().iter().map(|d| d.as_secs()).collect();
        assert_eq!(offsets, [0, 10, 20, 30, 40, 50]);
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(
            &[
                ("COLD_START_SECONDS", "120"),
                ("POLL_SECONDS", "15"),
                ("RUN_SECONDS", "45"),
                ("LOAD_WINDOW_SECONDS", "90"),
                ("SCALE_DOWN_WINDOW_SECONDS", "120"),
                ("ACTIVITY_WINDOW_SECONDS", "600"),
                ("METRICS_NAMESPACE", "test/ns"),
                ("TARGET_UTILIZATION", "0.8"),
                ("MIN_TASKS", "1"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.policy.cold_start_seconds, 120);
        assert_eq!(c.policy.load_window_seconds, 90);
        assert_eq!(c.policy.scale_down_window_seconds, 120);
        assert_eq!(c.policy.activity_window_seconds, 600);
        assert_eq!(c.policy.target_utilization, 0.8);
        assert_eq!(c.policy.min_tasks, 1);
        assert_eq!(c.metrics_namespace, "test/ns");
        let offsets: Vec<u64> = c.poll_offsets().iter().map(|d| d.as_secs()).collect();
        assert_eq!(offsets, [0, 15, 30, 45]);
        // Every name read is in VARIABLES, which the Terraform drift test checks against.
        for name in REQUIRED {
            assert!(VARIABLES.contains(&name));
        }
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in REQUIRED {
            assert_eq!(
                config(&[], &[name]),
                Err(ConfigError::Missing(name)),
                "{name}"
            );
            assert_eq!(
                config(&[(name, "  ")], &[]),
                Err(ConfigError::Missing(name)),
                "{name} blank"
            );
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: [(&str, &str); 11] = [
            ("MAX_TASKS", "1001"),
            ("JOB_SECONDS", "six"),
            ("JOB_SECONDS", "0"),
            ("ACCEPTABLE_LATENCY_SECONDS", "inf"),
            ("TARGET_UTILIZATION", "3"),
            ("MIN_TASKS", "-1"),
            ("MAX_TASKS", "0"),
            ("POLL_SECONDS", "0"),
            ("RUN_SECONDS", "60"),
            ("COLD_START_SECONDS", "1.5"),
            ("ACTIVITY_WINDOW_SECONDS", "3600"),
        ];
        for (name, value) in cases {
            let err = config(&[(name, value)], &[]).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
        let err = config(&[("MIN_TASKS", "6")], &[]).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                name: "MIN_TASKS",
                reason: "must be <= max_tasks".into()
            }
        );
        // 900 s at 5-s polls would not fit the parameter either.
        let err = config(&[("POLL_SECONDS", "5")], &[]).unwrap_err();
        assert!(err.to_string().contains("4 KB"), "{err}");
    }
}
