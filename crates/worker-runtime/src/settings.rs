//! The worker's settings: every one a flag and an environment variable (clap gives flags
//! precedence; an environment value is not even read when the flag is given), checked
//! before anything starts ([`WorkerSettings::validate`]), and turned into the runtime's
//! configuration. The wiring that uses them is [`crate::launch`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::health::DEFAULT_HEALTH_FILE;
use crate::memory_gate::DEFAULT_CGROUP_DIR;
use crate::results::S3Prefix;
use crate::runtime::RuntimeConfig;

/// Worker settings. Flags override the environment variables named beside them.
#[derive(Debug, Clone, Args)]
pub struct WorkerSettings {
    /// SQS queue to consume.
    #[arg(long, env = "QUEUE_URL", value_name = "QUEUE_URL")]
    pub queue_url: Option<String>,
    /// Dead-letter queue for permanent failures.
    #[arg(long, env = "DLQ_URL", value_name = "DLQ_URL")]
    pub dlq_url: Option<String>,
    /// Queue receiving result documents.
    #[arg(long, env = "RESULT_QUEUE_URL", value_name = "RESULT_QUEUE_URL")]
    pub result_queue_url: Option<String>,
    /// s3://bucket/prefix receiving `{job_id}.json` results.
    #[arg(long, env = "RESULT_PREFIX", value_name = "RESULT_PREFIX")]
    pub result_prefix: Option<String>,
    /// Consume the embedded queue in this SQLite file instead of SQS (results go to the
    /// same file, plus RESULT_PREFIX if set).
    #[arg(
        long,
        env = "FACEREC_EMBEDDED_QUEUE",
        value_name = "FACEREC_EMBEDDED_QUEUE",
        conflicts_with = "queue_url"
    )]
    pub embedded_queue: Option<PathBuf>,
    /// Queue name inside the embedded file.
    #[arg(
        long,
        env = "FACEREC_EMBEDDED_QUEUE_NAME",
        value_name = "FACEREC_EMBEDDED_QUEUE_NAME",
        default_value = "jobs"
    )]
    pub embedded_queue_name: String,
    /// Messages per receive.
    #[arg(long, env = "SQS_BATCH_SIZE", value_name = "SQS_BATCH_SIZE", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub batch_size: u32,
    /// Stop receiving above this fraction of the container's memory limit.
    #[arg(long, env = "FACE_RECOGNITION_MEMORY_THRESHOLD", value_name = "FACE_RECOGNITION_MEMORY_THRESHOLD", default_value_t = 0.8,
          value_parser = parse_fraction)]
    pub memory_threshold: f64,
    /// Memory budget per job (bytes, or with KiB/MiB/GiB suffix); sizes parallelism.
    #[arg(long, env = "RAY_memory_per_process", value_name = "RAY_memory_per_process", value_parser = parse_bytes)]
    pub job_memory: Option<u64>,
    /// Jobs run at once; default min(cores, the cgroup's CPU quota, memory limit ×
    /// threshold / job memory).
    #[arg(long, env = "FACEREC_PARALLELISM", value_name = "FACEREC_PARALLELISM",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: Option<u32>,
    /// Directory of the recognition models.
    #[arg(long, env = "FACEREC_MODELS", value_name = "FACEREC_MODELS")]
    pub models: Option<PathBuf>,
    /// Visibility timeout for received messages, seconds.
    #[arg(long, env = "FACEREC_VISIBILITY_TIMEOUT", value_name = "FACEREC_VISIBILITY_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout: u64,
    /// The ECS task's stopTimeout, seconds: SIGTERM to SIGKILL.
    #[arg(long, env = "FACEREC_STOP_TIMEOUT", value_name = "FACEREC_STOP_TIMEOUT", default_value = "120", value_parser = parse_positive_secs)]
    pub stop_timeout: Duration,
    /// Kept before stopTimeout for the final result/delete flush and releases, seconds
    /// (at least 1; the runtime uses all but 0.25 s of it).
    #[arg(long, env = "FACEREC_STOP_MARGIN", value_name = "FACEREC_STOP_MARGIN", default_value = "10", value_parser = parse_secs)]
    pub stop_margin: Duration,
    /// Longest a job may run before it is abandoned and retried, seconds; default ten
    /// visibility timeouts.
    #[arg(long, env = "FACEREC_JOB_TIMEOUT", value_name = "FACEREC_JOB_TIMEOUT", value_parser = parse_positive_secs)]
    pub job_timeout: Option<Duration>,
    /// Long-poll wait, seconds (0..=20).
    #[arg(long, env = "FACEREC_WAIT_TIME", value_name = "FACEREC_WAIT_TIME", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=20))]
    pub wait_time: u64,
    /// Deliveries before a transiently failing job is dead-lettered.
    #[arg(long, env = "FACEREC_MAX_RECEIVE_COUNT", value_name = "FACEREC_MAX_RECEIVE_COUNT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_receive_count: u32,
    /// First retry delay after a transient failure, seconds (doubles per delivery).
    #[arg(long, env = "FACEREC_RETRY_BACKOFF", value_name = "FACEREC_RETRY_BACKOFF", default_value = "5", value_parser = parse_secs)]
    pub retry_backoff: Duration,
    /// Longest retry delay, seconds.
    #[arg(long, env = "FACEREC_RETRY_BACKOFF_MAX", value_name = "FACEREC_RETRY_BACKOFF_MAX", default_value = "300", value_parser = parse_secs)]
    pub retry_backoff_max: Duration,
    /// Heartbeat tick, seconds; default a quarter of the visibility timeout (max 10 s).
    #[arg(long, env = "FACEREC_HEARTBEAT_INTERVAL", value_name = "FACEREC_HEARTBEAT_INTERVAL", value_parser = parse_secs)]
    pub heartbeat_interval: Option<Duration>,
    /// How long a finished job waits for others to share a delete batch, seconds.
    #[arg(long, env = "FACEREC_ACK_LINGER", value_name = "FACEREC_ACK_LINGER", default_value = "1", value_parser = parse_secs)]
    pub ack_linger: Duration,
    /// Cap on the pause between failed queue calls, seconds.
    #[arg(long, env = "FACEREC_QUEUE_RETRY_MAX", value_name = "FACEREC_QUEUE_RETRY_MAX", default_value = "10", value_parser = parse_positive_secs)]
    pub queue_retry_max: Duration,
    /// The container's cgroup directory (memory back-pressure).
    #[arg(long, env = "FACEREC_CGROUP_DIR", value_name = "FACEREC_CGROUP_DIR", default_value = DEFAULT_CGROUP_DIR)]
    pub cgroup_dir: PathBuf,
    /// ECS agent endpoint (set by ECS); enables task scale-in protection.
    #[arg(long, env = "ECS_AGENT_URI", value_name = "ECS_AGENT_URI")]
    pub ecs_agent_uri: Option<String>,
    /// Instance metadata endpoint to watch for Spot notices. Explicit: always watched.
    /// Otherwise the SDK's AWS_EC2_METADATA_SERVICE_ENDPOINT (or the default, IPv6 with
    /// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6) is watched: for the task's life on EC2,
    /// for three attempts where that is unknown; never on Fargate or with
    /// AWS_EC2_METADATA_DISABLED=true.
    #[arg(
        long,
        env = "FACEREC_IMDS_ENDPOINT",
        value_name = "FACEREC_IMDS_ENDPOINT"
    )]
    pub imds_endpoint: Option<String>,
    /// Spot notice poll interval, seconds.
    #[arg(long, env = "FACEREC_SPOT_POLL_INTERVAL", value_name = "FACEREC_SPOT_POLL_INTERVAL", default_value = "5", value_parser = parse_positive_secs)]
    pub spot_poll_interval: Duration,
    /// File the runtime writes its health to (after every receive, and every 10 s),
    /// checked by `health`.
    #[arg(long, env = "FACEREC_HEALTH_FILE", value_name = "FACEREC_HEALTH_FILE", default_value = DEFAULT_HEALTH_FILE)]
    pub health_file: PathBuf,
    /// CloudWatch namespace of the EMF metrics (the fleet's one namespace by default).
    #[arg(
        long,
        env = "FACEREC_METRICS_NAMESPACE",
        value_name = "FACEREC_METRICS_NAMESPACE",
        default_value = facerec_aws_support::METRICS_NAMESPACE
    )]
    pub metrics_namespace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no queue: set QUEUE_URL (--queue-url) for SQS or FACEREC_EMBEDDED_QUEUE (--embedded-queue) for a local run")]
    NoQueue,
    #[error(
        "no result destination: set RESULT_QUEUE_URL and/or RESULT_PREFIX (s3://bucket/prefix)"
    )]
    NoResults,
    #[error("RESULT_PREFIX: {0}")]
    BadResultPrefix(String),
    #[error("{0} must be an http(s) URL, got {1:?}")]
    BadUrl(&'static str, String),
    #[error(
        "FACEREC_STOP_MARGIN ({margin:?}) must be smaller than FACEREC_STOP_TIMEOUT ({timeout:?})"
    )]
    StopMargin { timeout: Duration, margin: Duration },
    #[error("FACEREC_STOP_MARGIN ({0:?}) must be at least 1 s: the final result/delete flush and releases run in it")]
    StopMarginTooSmall(Duration),
    #[error("DLQ_URL is required with QUEUE_URL: permanent failures are moved there with their reason (without it they would only retry until the queue's redrive policy moved them, reasonless)")]
    NoDlq,
    #[error("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region); {0} needs one")]
    NoRegion(&'static str),
    #[error("FACEREC_RETRY_BACKOFF_MAX must be >= FACEREC_RETRY_BACKOFF")]
    Backoff,
    #[error(
        "FACEREC_HEARTBEAT_INTERVAL ({0:?}) must be positive and below half the visibility timeout"
    )]
    Heartbeat(Duration),
    #[error("{0}")]
    Endpoint(String),
    #[error("embedded queue {0}: {1}")]
    Embedded(PathBuf, String),
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not in (0, 1]"))
    }
}

/// Longest duration any setting accepts: one day (SQS's own limits are lower still).
pub const MAX_SECS: f64 = 86_400.0;

/// Seconds, fractional allowed (`0.5`), 0 to one day.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("{s:?} is not a non-negative number of seconds"));
    }
    if v > MAX_SECS {
        return Err(format!("{s:?} seconds is more than a day ({MAX_SECS} s)"));
    }
    Duration::try_from_secs_f64(v).map_err(|e| format!("{s:?}: {e}"))
}

/// Seconds as [`parse_secs`], but more than 0: for pauses and limits where 0 would mean a
/// hot loop or an instant timeout.
pub fn parse_positive_secs(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than 0 seconds"));
    }
    Ok(d)
}

/// Bytes: plain integer (Ray's convention) or with a KiB/MiB/GiB (or K/M/G) suffix.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 2147483648 or 2GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown unit {other:?} in {s:?}")),
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if v == 0 {
        return Err("must be more than 0 bytes".into());
    }
    Ok(v)
}

/// Smallest FACEREC_STOP_MARGIN: the final flush and releases need some time.
pub const MIN_STOP_MARGIN: Duration = Duration::from_secs(1);
/// Kept from the margin for the process to exit after the runtime returns.
const EXIT_SLACK: Duration = Duration::from_millis(250);

impl WorkerSettings {
    /// Cross-field checks clap cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.queue_url.is_none() && self.embedded_queue.is_none() {
            return Err(SettingsError::NoQueue);
        }
        if self.embedded_queue.is_none()
            && self.result_queue_url.is_none()
            && self.result_prefix.is_none()
        {
            return Err(SettingsError::NoResults);
        }
        for (name, v) in [
            ("QUEUE_URL", &self.queue_url),
            ("DLQ_URL", &self.dlq_url),
            ("RESULT_QUEUE_URL", &self.result_queue_url),
        ] {
            if let Some(u) = v {
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(SettingsError::BadUrl(name, u.clone()));
                }
            }
        }
        if self.queue_url.is_some() && self.dlq_url.is_none() {
            return Err(SettingsError::NoDlq);
        }
        if let Some(p) = &self.result_prefix {
            S3Prefix::parse(p).map_err(SettingsError::BadResultPrefix)?;
        }
        if self.stop_margin < MIN_STOP_MARGIN {
            return Err(SettingsError::StopMarginTooSmall(self.stop_margin));
        }
        if self.stop_margin >= self.stop_timeout {
            return Err(SettingsError::StopMargin {
                timeout: self.stop_timeout,
                margin: self.stop_margin,
            });
        }
        if self.retry_backoff_max < self.retry_backoff {
            return Err(SettingsError::Backoff);
        }
        if let Some(h) = self.heartbeat_interval {
            if h.is_zero() || h * 2 >= Duration::from_secs(self.visibility_timeout) {
                return Err(SettingsError::Heartbeat(h));
            }
        }
        if let Some(u) = &self.ecs_agent_uri {
            crate::link_local_http::HttpEndpoint::parse(u)
                .map_err(|e| SettingsError::Endpoint(format!("ECS_AGENT_URI: {e}")))?;
        }
        if let Some(u) = &self.imds_endpoint {
            crate::link_local_http::HttpEndpoint::parse(u)
                .map_err(|e| SettingsError::Endpoint(format!("FACEREC_IMDS_ENDPOINT: {e}")))?;
        }
        Ok(())
    }

    /// What needs an AWS region, if anything: SQS, or an S3 / result-queue destination.
    pub fn needs_region(&self) -> Option<&'static str> {
        if self.queue_url.is_some() {
            Some("QUEUE_URL (SQS)")
        } else if self.result_prefix.is_some() {
            Some("RESULT_PREFIX (S3)")
        } else if self.result_queue_url.is_some() {
            Some("RESULT_QUEUE_URL (SQS)")
        } else {
            None
        }
    }

    /// Parallelism from cores, the cgroup's CPU quota (the task's `cpu` on EC2) and the
    /// memory budget, unless set explicitly.
    pub fn effective_parallelism(&self, memory_limit: Option<u64>) -> usize {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        self.parallelism_for(
            cores,
            crate::cpu_quota::cgroup_cpu_limit(&self.cgroup_dir),
            memory_limit,
        )
    }

    /// [`Self::effective_parallelism`] with the machine's numbers given.
    pub fn parallelism_for(
        &self,
        cores: usize,
        cpu_quota: Option<usize>,
        memory_limit: Option<u64>,
    ) -> usize {
        if let Some(p) = self.parallelism {
            return p as usize;
        }
        let cores = cpu_quota.map_or(cores, |q| cores.min(q));
        let by_memory = match (self.job_memory, memory_limit) {
            (Some(per_job), Some(limit)) => {
                ((limit as f64 * self.memory_threshold) / per_job as f64).floor() as usize
            }
            _ => usize::MAX,
        };
        cores.min(by_memory).max(1)
    }

    pub fn runtime_config(&self, parallelism: usize) -> RuntimeConfig {
        let vis = Duration::from_secs(self.visibility_timeout);
        let defaults = RuntimeConfig::default();
        RuntimeConfig {
            batch_size: self.batch_size,
            parallelism,
            wait_time: Duration::from_secs(self.wait_time),
            visibility_timeout: vis,
            heartbeat_interval: self
                .heartbeat_interval
                .unwrap_or_else(|| (vis / 4).min(Duration::from_secs(10))),
            max_receive_count: self.max_receive_count,
            retry_backoff_base: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max,
            stop_deadline: self.stop_timeout - self.stop_margin,
            // The margin minus a little for the process to exit.
            stop_grace: self.stop_margin.saturating_sub(EXIT_SLACK),
            ack_linger: self.ack_linger,
            queue_retry_max: self.queue_retry_max,
            memory_poll_interval: Duration::from_secs(1),
            protection_interval: Duration::from_secs(1),
            job_timeout: Some(self.job_timeout.unwrap_or(vis * 10)),
            health_interval: defaults.health_interval,
            probe_interval: defaults.probe_interval,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    /// The settings as a whole command line (they are a flattened part of the worker's).
    #[derive(Parser)]
    pub(crate) struct Cli {
        #[command(flatten)]
        pub s: WorkerSettings,
    }

    #[test]
    fn parses_bytes_and_fractions() {
        assert_eq!(parse_bytes("2147483648").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0").is_err());
        assert!(parse_fraction("0.8").is_ok());
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("0").is_err());
        assert_eq!(parse_secs("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_secs("-1").is_err());
        assert_eq!(parse_secs("0").unwrap(), Duration::ZERO);
        assert!(parse_positive_secs("0").is_err());
        assert!(parse_positive_secs("0.001").is_ok());
        // Huge values are errors, not Duration::from_secs_f64 panics.
        for huge in ["1e300", "1e20", "86400.5", "inf", "NaN"] {
            assert!(parse_secs(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_secs("86400").unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn flags_parse_and_bad_values_are_clear_errors() {
        let s = Cli::try_parse_from([
            "w",
            "--queue-url",
            "http://127.0.0.1:1/q",
            "--dlq-url",
            "http://127.0.0.1:1/dlq",
            "--result-prefix",
            "s3://b/p",
            "--batch-size",
            "5",
        ])
        .unwrap()
        .s;
        assert_eq!(s.batch_size, 5);
        s.validate().unwrap();
        let err = Cli::try_parse_from(["w", "--batch-size", "11"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("batch-size"), "{err}");
        let err = Cli::try_parse_from(["w", "--memory-threshold", "2"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not in (0, 1]"), "{err}");
        let s = Cli::try_parse_from(["w", "--queue-url", "http://x/q"])
            .unwrap()
            .s;
        assert!(matches!(s.validate(), Err(SettingsError::NoResults)));
        let s = Cli::try_parse_from([
            "w",
            "--embedded-queue",
            "/tmp/q.db",
            "--stop-timeout",
            "5",
            "--stop-margin",
            "5",
        ])
        .unwrap()
        .s;
        assert!(matches!(
            s.validate(),
            Err(SettingsError::StopMargin { .. })
        ));
        let s = Cli::try_parse_from(["w", "--embedded-queue", "/q.db", "--stop-margin", "0.5"])
            .unwrap()
            .s;
        assert!(matches!(
            s.validate(),
            Err(SettingsError::StopMarginTooSmall(_))
        ));
        // SQS without a DLQ is refused rather than silently left to the redrive policy.
        let s = Cli::try_parse_from([
            "w",
            "--queue-url",
            "http://x/q",
            "--result-prefix",
            "s3://b",
        ])
        .unwrap()
        .s;
        assert!(matches!(s.validate(), Err(SettingsError::NoDlq)));
        assert_eq!(s.needs_region(), Some("QUEUE_URL (SQS)"));
        for (flag, bad) in [
            ("--queue-retry-max", "0"),
            ("--spot-poll-interval", "0"),
            ("--job-timeout", "0"),
            ("--stop-timeout", "1e300"),
        ] {
            let err = Cli::try_parse_from(["w", flag, bad])
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn runtime_config_fits_the_stop_margin() {
        let s = Cli::try_parse_from([
            "w",
            "--embedded-queue",
            "/q.db",
            "--stop-timeout",
            "120",
            "--stop-margin",
            "10",
            "--visibility-timeout",
            "45",
        ])
        .unwrap()
        .s;
        let c = s.runtime_config(2);
        assert_eq!(c.stop_deadline, Duration::from_secs(110));
        assert!(c.stop_deadline + c.stop_grace < s.stop_timeout);
        assert_eq!(c.job_timeout, Some(Duration::from_secs(450)));
    }

    #[test]
    fn parallelism_follows_memory_budget() {
        let s = Cli::try_parse_from(["w", "--embedded-queue", "/tmp/q.db", "--job-memory", "1GiB"])
            .unwrap()
            .s;
        // 2 GiB limit × 0.8 / 1 GiB = 1 job, whatever the core count.
        assert_eq!(s.effective_parallelism(Some(2 << 30)), 1);
        assert!(s.effective_parallelism(None) >= 1);
    }

    #[test]
    fn parallelism_follows_the_cgroup_cpu_quota() {
        let s = Cli::try_parse_from([
            "w",
            "--embedded-queue",
            "/tmp/q.db",
            "--job-memory",
            "512MiB",
        ])
        .unwrap()
        .s;
        // The plan's 2-vCPU task on an 8-vCPU instance: 2 jobs, not 8.
        assert_eq!(s.parallelism_for(8, Some(2), Some(13 << 30)), 2);
        // The whole instance (task cpu = the instance's vCPUs, or no quota): every core.
        assert_eq!(s.parallelism_for(8, Some(8), Some(13 << 30)), 8);
        assert_eq!(s.parallelism_for(2, None, Some(3 << 30)), 2);
        // Memory still caps it: 1 GiB × 0.8 / 512 MiB = 1.
        assert_eq!(s.parallelism_for(8, Some(8), Some(1 << 30)), 1);

        // Read from the cgroup directory the worker is given.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cpu.max"), "200000 100000\n").unwrap();
        let s = Cli::try_parse_from([
            "w",
            "--embedded-queue",
            "/tmp/q.db",
            "--cgroup-dir",
            dir.path().to_str().unwrap(),
        ])
        .unwrap()
        .s;
        assert!(s.effective_parallelism(None) <= 2);
        // An explicit FACEREC_PARALLELISM wins.
        let s = Cli::try_parse_from(["w", "--embedded-queue", "/tmp/q.db", "--parallelism", "5"])
            .unwrap()
            .s;
        assert_eq!(s.parallelism_for(8, Some(2), None), 5);
    }
}
