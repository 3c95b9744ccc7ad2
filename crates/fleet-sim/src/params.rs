//! Parameters: the deployed scaling configuration (`terraform/scaling.json`, the one
//! source of truth Terraform also reads) and the environment assumptions that no
//! Terraform variable controls (boot time, metric delay, job-time spread…).

use std::path::{Path, PathBuf};

use facerec_backlog_policy::{LoadEstimate, PolicyConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every key of `terraform/scaling.json`. Keys starting with `_` are comments and are
/// ignored; any other unknown key is an error so a typo cannot silently fall back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingParams {
    /// The latency a job may wait in the queue; also sets the backlog-per-task target.
    pub acceptable_latency_seconds: f64,
    /// Mean wall seconds per job per task: one task drains `1/job_seconds` jobs/s.
    pub job_seconds: f64,
    /// Target value of "ours"' target tracking policy: tasks needed per desired task.
    /// 1.0 keeps exactly as many tasks as the work needs; below 1 keeps spare tasks.
    pub target_utilization: f64,
    /// Messages a worker task holds at once (one SQS receive).
    pub batch_size: u32,
    pub min_tasks: u32,
    pub max_tasks: u32,
    pub scale_out_cooldown_seconds: u64,
    pub scale_in_cooldown_seconds: u64,
    /// Consecutive idle minutes (nothing visible, nothing in flight) before the sleep policy sets 0.
    pub scale_to_zero_idle_minutes: u32,
    /// Alarm period of every custom alarm (CloudWatch standard resolution: 60).
    pub metric_period_seconds: u64,
    pub instance_warmup_seconds: u64,
    /// ECS managed scaling `target_capacity` (CapacityProviderReservation target, percent).
    pub capacity_target_percent: f64,
    pub minimum_scaling_step_size: u32,
    pub maximum_scaling_step_size: u32,
    /// SQS redrive: a message received more often than this goes to the dead-letter queue.
    pub max_receive_count: u32,
    /// ECS container stop timeout: how long a stopping worker may finish what it holds.
    pub stop_timeout_seconds: u64,
    pub spot_price_per_hour: f64,
    /// The backlog scaler's assumed cold start (instance launch until its task polls):
    /// the Lambda's `COLD_START_SECONDS`. It should be the measured value; the simulator's
    /// environment assumes instance boot + task start = 165 s by default.
    pub cold_start_seconds: u64,
    /// The backlog scaler polls every this many seconds within its one-minute invocation
    /// (`POLL_SECONDS`).
    pub scaler_poll_seconds: u64,
    /// The backlog scaler's load estimate window (`LOAD_WINDOW_SECONDS`).
    pub scaler_load_window_seconds: u64,
    /// How long every poll must want fewer tasks before it scales down
    /// (`SCALE_DOWN_WINDOW_SECONDS`).
    pub scaler_scale_down_window_seconds: u64,
    /// Window over which it judges arrivals frequent for the scale-to-zero grace
    /// (`ACTIVITY_WINDOW_SECONDS`).
    pub scaler_activity_window_seconds: u64,
}

impl ScalingParams {
    /// Target value of "ours": the backlog one task drains within the acceptable latency,
    /// rounded down and at least 1 — exactly as `terraform/locals.tf` computes it.
    pub fn backlog_target(&self) -> f64 {
        (self.acceptable_latency_seconds / self.job_seconds)
            .floor()
            .max(1.0)
    }

    /// The backlog scaler's rule with these parameters (what the Lambda's environment
    /// holds when Terraform deploys this file).
    pub fn policy_config(&self, load_estimate: LoadEstimate) -> PolicyConfig {
        PolicyConfig {
            job_seconds: self.job_seconds,
            acceptable_latency_seconds: self.acceptable_latency_seconds,
            cold_start_seconds: self.cold_start_seconds,
            target_utilization: self.target_utilization,
            min_tasks: self.min_tasks,
            max_tasks: self.max_tasks,
            load_window_seconds: self.scaler_load_window_seconds,
            scale_down_window_seconds: self.scaler_scale_down_window_seconds,
            activity_window_seconds: self.scaler_activity_window_seconds,
            load_estimate,
        }
    }

    /// SQS visibility timeout, derived as `terraform/locals.tf` does: three full batches,
    /// at least 60 s. The live worker extends it by heartbeat, so it only matters when a
    /// worker is killed holding messages.
    pub fn visibility_timeout_seconds(&self) -> u64 {
        ((3.0 * self.job_seconds * self.batch_size as f64).ceil() as u64).max(60)
    }

    fn validate(&self) -> Result<(), ParamsError> {
        let bad = |what: &str| Err(ParamsError::Invalid(what.to_string()));
        if self.job_seconds.is_nan() || self.job_seconds <= 0.0 {
            return bad("job_seconds must be > 0");
        }
        if self.acceptable_latency_seconds.is_nan() || self.acceptable_latency_seconds <= 0.0 {
            return bad("acceptable_latency_seconds must be > 0");
        }
        // Same range as terraform/variables.tf's validation of target_utilization.
        if !(self.target_utilization > 0.0 && self.target_utilization <= 2.0) {
            return bad("target_utilization must be in (0, 2]");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be >= 1");
        }
        if self.max_tasks == 0 || self.min_tasks > self.max_tasks {
            return bad("need 0 <= min_tasks <= max_tasks and max_tasks >= 1");
        }
        if self.metric_period_seconds != 60 {
            return bad("metric_period_seconds: the simulator models 60-second alarm periods only");
        }
        if !(self.capacity_target_percent > 0.0 && self.capacity_target_percent <= 100.0) {
            return bad("capacity_target_percent must be in (0, 100]");
        }
        if self.minimum_scaling_step_size == 0
            || self.minimum_scaling_step_size > self.maximum_scaling_step_size
        {
            return bad("need 1 <= minimum_scaling_step_size <= maximum_scaling_step_size");
        }
        if self.max_receive_count == 0 {
            return bad("max_receive_count must be >= 1");
        }
        // The Lambda polls at 0, P, 2P … within a 50-s run of a one-minute invocation.
        if !(1..=60).contains(&self.scaler_poll_seconds) {
            return bad("scaler_poll_seconds must be within 1..=60");
        }
        self.policy_config(LoadEstimate::default())
            .validate()
            .map_err(|e| ParamsError::Invalid(e.to_string()))?;
        Ok(())
    }

    /// Reads `base` and, if given, `override_path` (same keys, any subset, e.g. a user's
    /// `terraform.tfvars.json`), drops `_`-prefixed keys, and checks the result.
    pub fn load(base: &Path, override_path: Option<&Path>) -> Result<Self, ParamsError> {
        let mut merged = read_object(base)?;
        if let Some(path) = override_path {
            for (key, value) in read_object(path)? {
                merged.insert(key, value);
            }
        }
        Self::from_object(merged)
    }

    /// Parses one JSON text (used by tests and `load`).
    pub fn from_json_str(text: &str) -> Result<Self, ParamsError> {
        let value: Value = serde_json::from_str(text).map_err(|source| ParamsError::Json {
            path: PathBuf::from("<string>"),
            source,
        })?;
        match value {
            Value::Object(map) => Self::from_object(strip_comments(map)),
            _ => Err(ParamsError::NotAnObject(PathBuf::from("<string>"))),
        }
    }

    fn from_object(map: Map<String, Value>) -> Result<Self, ParamsError> {
        let params: ScalingParams =
            serde_json::from_value(Value::Object(map)).map_err(ParamsError::Keys)?;
        params.validate()?;
        Ok(params)
    }
}

fn strip_comments(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .collect()
}

fn read_object(path: &Path) -> Result<Map<String, Value>, ParamsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| ParamsError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    match value {
        Value::Object(map) => Ok(strip_comments(map)),
        _ => Err(ParamsError::NotAnObject(path.to_path_buf())),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("cannot read scaling parameters {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0} must hold a JSON object of scaling parameters")]
    NotAnObject(PathBuf),
    #[error("scaling parameters do not match terraform/scaling.json's keys: {0}")]
    Keys(serde_json::Error),
    #[error("invalid scaling parameter: {0}")]
    Invalid(String),
}

/// What the world does, independent of our configuration. Defaults are stated and
/// justified in `docs/scaling.md`; every one is a command-line flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    /// EC2 launch until the ECS agent registers the instance (Spot c5.large, ECS AMI).
    pub instance_boot_seconds: u64,
    /// Task placement until the worker polls: image pull + model load.
    pub task_start_seconds: u64,
    /// Delay after a one-minute SQS / Container Insights datapoint closes before an
    /// alarm can see it. SQS pushes its metrics to CloudWatch at one-minute intervals:
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html>
    pub metric_delay_seconds: u64,
    /// Delay of ECS's own CapacityProviderReservation metric (ECS publishes it itself).
    pub capacity_metric_delay_seconds: u64,
    /// Coefficient of variation of the (log-normal) job time; 0 = every job takes job_seconds.
    pub job_time_cv: f64,
    /// Background Spot interruption rate per instance-hour (traces may add storms).
    pub spot_interruptions_per_instance_hour: f64,
    /// Notice between the Spot interruption warning and termination: two minutes.
    /// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html>
    pub spot_notice_seconds: u64,
    /// Extra simulated time after the last arrival, so every policy drains and scales in.
    pub tail_seconds: u64,
    pub seed: u64,
    /// Whether the group launches the replacement of an interrupted Spot instance at the
    /// notice (Capacity Rebalancing, if the rebalance recommendation comes no later than
    /// the notice) instead of after the termination. Off by default: every table of
    /// docs/scaling.md except its Spot sensitivity table replaces after termination.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-capacity-rebalancing.html>
    /// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html>
    pub capacity_rebalance: bool,
    /// Windows in which the backlog scaler does not run (no poll, no heartbeat): a
    /// disabled schedule, reserved concurrency 0, throttling, a bad deploy.
    pub scaler_outages: Vec<ScalerOutage>,
    /// How old the queue counts a poller reads are (GetQueueAttributes' approximate
    /// counts "may not achieve consistency until at least 1 minute after the producers
    /// stop sending messages":
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>).
    /// 0: exact; docs/scaling.md's sensitivity table varies it.
    pub count_staleness_seconds: u64,
    /// The realistic world ([`crate::world`]); every one 0 or empty in the idealised
    /// world. Boot to registration: `instance_boot_seconds` plus a uniform draw in
    /// `0..=boot_spread_seconds`, per instance.
    pub boot_spread_seconds: u64,
    /// Task start (image pull + model load): `task_start_seconds` plus a uniform draw in
    /// `0..=task_start_spread_seconds`, per task.
    pub task_start_spread_seconds: u64,
    /// Registration to placement: a uniform draw in `0..=placement_max_seconds` per
    /// instance (the service scheduler's next placement attempt).
    pub placement_max_seconds: u64,
    /// API latency and approximate counts: each poll reads counts
    /// `count_staleness_seconds` plus a uniform draw in `0..=count_staleness_spread_seconds` old.
    pub count_staleness_spread_seconds: u64,
    /// Probability that one scheduled one-minute invocation of the scaler does not run.
    pub missed_invocation_probability: f64,
    /// Windows in which the group can launch no Spot instance (it retries every second).
    pub no_capacity: Vec<ScalerOutage>,
    /// Minutes of one window without Spot capacity, at a time drawn per seed within the
    /// trace (0: none).
    pub random_no_capacity_minutes: u64,
}

/// The backlog scaler silent from `start` until `end` (`None`: for good).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalerOutage {
    pub start: u64,
    pub end: Option<u64>,
}

impl ScalerOutage {
    pub fn covers(&self, t: u64) -> bool {
        t >= self.start && self.end.is_none_or(|e| t < e)
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            instance_boot_seconds: 90,
            task_start_seconds: 75,
            metric_delay_seconds: 120,
            capacity_metric_delay_seconds: 0,
            job_time_cv: 0.5,
            spot_interruptions_per_instance_hour: 0.0,
            spot_notice_seconds: 120,
            tail_seconds: 3600,
            seed: 7,
            capacity_rebalance: false,
            scaler_outages: Vec::new(),
            count_staleness_seconds: 0,
            boot_spread_seconds: 0,
            task_start_spread_seconds: 0,
            placement_max_seconds: 0,
            count_staleness_spread_seconds: 0,
            missed_invocation_probability: 0.0,
            no_capacity: Vec::new(),
            random_no_capacity_minutes: 0,
        }
    }
}

impl Environment {
    /// Time from an instance launch to its task polling SQS: the shortest draw (the
    /// idealised world's constant), which the lower bound uses.
    pub fn cold_start_seconds(&self) -> u64 {
        self.instance_boot_seconds + self.task_start_seconds
    }

    /// The longest cold start any draw gives: the oracle launches this far ahead.
    pub fn cold_start_max_seconds(&self) -> u64 {
        self.cold_start_seconds()
            + self.boot_spread_seconds
            + self.task_start_spread_seconds
            + self.placement_max_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{
      "_comment": "ignored",
      "acceptable_latency_seconds": 300, "job_seconds": 6, "target_utilization": 1.0, "batch_size": 3,
      "min_tasks": 0, "max_tasks": 5, "scale_out_cooldown_seconds": 60,
      "scale_in_cooldown_seconds": 300, "scale_to_zero_idle_minutes": 15,
      "metric_period_seconds": 60, "instance_warmup_seconds": 300,
      "capacity_target_percent": 100, "minimum_scaling_step_size": 1,
      "maximum_scaling_step_size": 5, "max_receive_count": 5,
      "stop_timeout_seconds": 110, "spot_price_per_hour": 0.14,
      "cold_start_seconds": 165, "scaler_poll_seconds": 10, "scaler_load_window_seconds": 60,
      "scaler_scale_down_window_seconds": 60, "scaler_activity_window_seconds": 900 }"#;

    #[test]
    fn parses_and_derives_target() {
        let p = ScalingParams::from_json_str(BASE).unwrap();
        assert_eq!(p.backlog_target(), 50.0);
        assert_eq!(p.max_tasks, 5);
        assert_eq!(p.target_utilization, 1.0);
    }

    #[test]
    fn derived_values_match_terraform_locals() {
        let mut p = ScalingParams::from_json_str(BASE).unwrap();
        p.job_seconds = 7.0; // 300 / 7 = 42.86 → floor 42, as locals.tf
        assert_eq!(p.backlog_target(), 42.0);
        assert_eq!(p.visibility_timeout_seconds(), 63); // 3 × 7 × 3
        p.job_seconds = 600.0;
        assert_eq!(p.backlog_target(), 1.0, "never below one message per task");
        p.job_seconds = 2.0;
        assert_eq!(p.visibility_timeout_seconds(), 60, "at least 60 s");
    }

    #[test]
    fn unknown_key_is_a_typed_error() {
        let text = BASE.replace("\"batch_size\"", "\"batchsize\"");
        match ScalingParams::from_json_str(&text) {
            Err(ParamsError::Keys(e)) => assert!(e.to_string().contains("batchsize")),
            other => panic!("expected Keys error, got {other:?}"),
        }
    }

    #[test]
    fn override_file_replaces_only_its_keys() {
        let dir = std::env::temp_dir().join(format!("fleet-sim-params-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("scaling.json");
        let over = dir.join("tfvars.json");
        std::fs::write(&base, BASE).unwrap();
        std::fs::write(&over, r#"{"max_tasks": 9, "_note": "x"}"#).unwrap();
        let p = ScalingParams::load(&base, Some(&over)).unwrap();
        assert_eq!(p.max_tasks, 9);
        assert_eq!(p.batch_size, 3);
        std::fs::write(&over, r#"{"max_tasks": 0}"#).unwrap();
        assert!(matches!(
            ScalingParams::load(&base, Some(&over)),
            Err(ParamsError::Invalid(_))
        ));
        std::fs::write(&over, r#"{"scaler_poll_seconds": 0}"#).unwrap();
        match ScalingParams::load(&base, Some(&over)) {
            Err(ParamsError::Invalid(m)) => assert!(m.contains("scaler_poll_seconds"), "{m}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        std::fs::write(&over, r#"{"target_utilization": 0}"#).unwrap();
        match ScalingParams::load(&base, Some(&over)) {
            Err(ParamsError::Invalid(m)) => assert!(m.contains("target_utilization"), "{m}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
