//! Handler configuration, read from the Lambda function's environment.
//!
//! Every knob has a name the Terraform module sets verbatim; see `docs/spot.md`.
//! Parsing goes through [`HandlerConfig::from_lookup`] so tests never mutate the process
//! environment.

use std::time::Duration;

/// Bounds of the wait between draining an instance and completing its termination
/// lifecycle hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleWait {
    /// Longest time to wait for the instance's tasks to stop before completing the hook
    /// anyway. Must stay below the function timeout (Lambda allows at most 900 s).
    pub max_wait: Duration,
    /// How often the container instance's task counts are polled.
    pub poll_interval: Duration,
    /// How often the hook is heartbeaten while waiting; must be shorter than the hook's
    /// `HeartbeatTimeout`, or Auto Scaling abandons the wait on its own.
    pub heartbeat_interval: Duration,
}

impl Default for LifecycleWait {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(60),
        }
    }
}

/// Everything the handler needs to know besides the AWS clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerConfig {
    /// The ECS cluster whose container instances we drain (`CLUSTER_NAME`).
    pub cluster_name: String,
    /// Whether a rebalance recommendation drains the instance (`CAPACITY_REBALANCE`);
    /// when off it is only recorded.
    pub capacity_rebalance: bool,
    /// When set (`AUTOSCALING_GROUP_NAME`), lifecycle actions of any other group are
    /// skipped: a defence in depth behind the EventBridge rule's own filter.
    pub autoscaling_group: Option<String>,
    /// The termination lifecycle hook this function answers (`LIFECYCLE_HOOK_NAME`).
    /// Actions of any other hook are skipped, never completed: with ECS managed draining
    /// the same group also carries ECS's own `ecs-managed-draining-termination-hook`,
    /// and completing that one would let the instance go before ECS has drained it.
    /// `None` (only allowed without `AUTOSCALING_GROUP_NAME`): lifecycle handling is off
    /// and every lifecycle action is skipped.
    pub lifecycle_hook: Option<String>,
    /// Bounds of the termination lifecycle wait.
    pub lifecycle: LifecycleWait,
    /// CloudWatch namespace of the EMF metrics (`METRICS_NAMESPACE`).
    pub metrics_namespace: String,
}

/// The default CloudWatch namespace of the handler's metrics: the fleet's one namespace.
pub use facerec_aws_support::METRICS_NAMESPACE as DEFAULT_METRICS_NAMESPACE;

/// A configuration value that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// `AUTOSCALING_GROUP_NAME` is set (lifecycle handling wanted) without the hook's name.
    #[error(
        "environment variable LIFECYCLE_HOOK_NAME is required when AUTOSCALING_GROUP_NAME is set: \
         name the termination hook this function completes (other hooks of the group, such as \
         ECS managed draining's, are never completed)"
    )]
    MissingHookName,
    #[error("environment variable {name}={value:?} is not a boolean (true/false)")]
    NotBool { name: &'static str, value: String },
    #[error("environment variable {name}={value:?} is not a whole number of seconds")]
    NotSeconds { name: &'static str, value: String },
    #[error("{0}")]
    Inconsistent(String),
}

impl HandlerConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let cluster_name = non_empty("CLUSTER_NAME").ok_or(ConfigError::Missing("CLUSTER_NAME"))?;
        let capacity_rebalance = match non_empty("CAPACITY_REBALANCE") {
            None => false,
            Some(v) => parse_bool("CAPACITY_REBALANCE", &v)?,
        };
        let defaults = LifecycleWait::default();
        let seconds = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            match non_empty(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError::NotSeconds { name, value: v }),
            }
        };
        let lifecycle = LifecycleWait {
            max_wait: seconds("LIFECYCLE_MAX_WAIT_SECONDS", defaults.max_wait)?,
            poll_interval: seconds("LIFECYCLE_POLL_SECONDS", defaults.poll_interval)?,
            heartbeat_interval: seconds(
                "LIFECYCLE_HEARTBEAT_SECONDS",
                defaults.heartbeat_interval,
            )?,
        };
        if lifecycle.poll_interval.is_zero() || lifecycle.heartbeat_interval.is_zero() {
            return Err(ConfigError::Inconsistent(
                "LIFECYCLE_POLL_SECONDS and LIFECYCLE_HEARTBEAT_SECONDS must be at least 1".into(),
            ));
        }
        if lifecycle.max_wait > Duration::from_secs(840) {
            // Lambda stops the function at 900 s; leave room to complete the hook.
            return Err(ConfigError::Inconsistent(format!(
                "LIFECYCLE_MAX_WAIT_SECONDS={} exceeds 840 s; Lambda's 900 s limit would cut the hook completion",
                lifecycle.max_wait.as_secs()
            )));
        }
        let autoscaling_group = non_empty("AUTOSCALING_GROUP_NAME");
        let lifecycle_hook = non_empty("LIFECYCLE_HOOK_NAME").map(|v| v.trim().to_string());
        if autoscaling_group.is_some() && lifecycle_hook.is_none() {
            // The group says lifecycle handling is wanted, but without the hook's name ours
            // cannot be told from ECS's on the same group. Fail the cold start (loud) rather
            // than skip every lifecycle action (silent).
            return Err(ConfigError::MissingHookName);
        }
        Ok(Self {
            cluster_name,
            capacity_rebalance,
            autoscaling_group,
            lifecycle_hook,
            lifecycle,
            metrics_namespace: non_empty("METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_string()),
        })
    }
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::NotBool {
            name,
            value: value.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<HandlerConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HandlerConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn cluster_name_is_required() {
        assert_eq!(config(&[]), Err(ConfigError::Missing("CLUSTER_NAME")));
        assert_eq!(
            config(&[("CLUSTER_NAME", "  ")]),
            Err(ConfigError::Missing("CLUSTER_NAME"))
        );
    }

    #[test]
    fn defaults_apply_when_only_the_cluster_is_given() {
        let c = config(&[("CLUSTER_NAME", "facerec")]).unwrap();
        assert_eq!(c.cluster_name, "facerec");
        assert!(!c.capacity_rebalance);
        assert_eq!(c.autoscaling_group, None);
        assert_eq!(c.lifecycle_hook, None);
        assert_eq!(c.lifecycle, LifecycleWait::default());
        assert_eq!(c.metrics_namespace, DEFAULT_METRICS_NAMESPACE);
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("CLUSTER_NAME", "facerec"),
            ("CAPACITY_REBALANCE", "TRUE"),
            ("AUTOSCALING_GROUP_NAME", "facerec-workers"),
            ("LIFECYCLE_HOOK_NAME", "facerec-drain"),
            ("LIFECYCLE_MAX_WAIT_SECONDS", "300"),
            ("LIFECYCLE_POLL_SECONDS", "2"),
            ("LIFECYCLE_HEARTBEAT_SECONDS", "30"),
            ("METRICS_NAMESPACE", "test/ns"),
        ])
        .unwrap();
        assert!(c.capacity_rebalance);
        assert_eq!(c.autoscaling_group.as_deref(), Some("facerec-workers"));
        assert_eq!(c.lifecycle_hook.as_deref(), Some("facerec-drain"));
        assert_eq!(c.lifecycle.max_wait, Duration::from_secs(300));
        assert_eq!(c.lifecycle.poll_interval, Duration::from_secs(2));
        assert_eq!(c.lifecycle.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.metrics_namespace, "test/ns");
    }

    #[test]
    fn a_group_without_a_hook_name_is_refused() {
        let err = config(&[
            ("CLUSTER_NAME", "c"),
            ("AUTOSCALING_GROUP_NAME", "facerec-workers"),
        ])
        .unwrap_err();
        assert_eq!(err, ConfigError::MissingHookName);
        assert!(err.to_string().contains("LIFECYCLE_HOOK_NAME"), "{err}");
        assert_eq!(
            config(&[
                ("CLUSTER_NAME", "c"),
                ("AUTOSCALING_GROUP_NAME", "facerec-workers"),
                ("LIFECYCLE_HOOK_NAME", " "),
            ]),
            Err(ConfigError::MissingHookName)
        );
        // A hook name alone is fine: the EventBridge rule already filters the group.
        let c = config(&[
            ("CLUSTER_NAME", "c"),
            ("LIFECYCLE_HOOK_NAME", "facerec-drain"),
        ])
        .unwrap();
        assert_eq!(c.lifecycle_hook.as_deref(), Some("facerec-drain"));
        assert_eq!(c.autoscaling_group, None);
    }

    #[test]
    fn bad_values_are_typed_errors() {
        assert!(matches!(
            config(&[("CLUSTER_NAME", "c"), ("CAPACITY_REBALANCE", "maybe")]),
            Err(ConfigError::NotBool {
                name: "CAPACITY_REBALANCE",
                ..
            })
        ));
        assert!(matches!(
            config(&[("CLUSTER_NAME", "c"), ("LIFECYCLE_POLL_SECONDS", "1.5")]),
            Err(ConfigError::NotSeconds {
                name: "LIFECYCLE_POLL_SECONDS",
                ..
            })
        ));
        assert!(matches!(
            config(&[("CLUSTER_NAME", "c"), ("LIFECYCLE_HEARTBEAT_SECONDS", "0")]),
            Err(ConfigError::Inconsistent(_))
        ));
        assert!(matches!(
            config(&[("CLUSTER_NAME", "c"), ("LIFECYCLE_MAX_WAIT_SECONDS", "900")]),
            Err(ConfigError::Inconsistent(_))
        ));
    }
}
