//! From settings ([`crate::settings`]) to a running worker: the wiring shared by the
//! `facerec-worker` binary and the test worker, so tests exercise the production path.
//!
//! A bad setting is a one-line start-up error naming the variable and the accepted range,
//! exit status 2 ([`parse_cli`]).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::emf::EmfEmitter;
use crate::health::HealthFile;
use crate::memory_gate::MemoryGate;
use crate::queue::embedded::EmbeddedQueue;
use crate::queue::sqs::SqsQueue;
use crate::results::{ResultSinks, S3Prefix};
use crate::runtime::{RunSummary, Runtime};
use crate::spot_notice::{
    on_ec2, on_fargate, Persistence, SpotNoticeWatcher, DEFAULT_IMDS_ENDPOINT,
    DEFAULT_IMDS_ENDPOINT_IPV6,
};
use crate::task_protection::TaskProtection;
use crate::JobHandler;

pub use crate::settings::{
    parse_bytes, parse_positive_secs, parse_secs, SettingsError, WorkerSettings, MAX_SECS,
    MIN_STOP_MARGIN,
};

/// Parse the command line (and environment) into `C`, or exit: `--help`/`--version`
/// print and exit 0; a bad value prints one line naming the variable and exits 2.
pub fn parse_cli<C: clap::Parser>(program: &str) -> C {
    match C::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("{program}: {}", one_line(&e));
            std::process::exit(2);
        }
    }
}

/// clap's message without its usage/help footer, on one line.
fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// What the handler factory gets to build its handler.
pub struct LaunchContext {
    /// SDK configuration from the environment (also for embedded runs: images may be in S3).
    pub sdk: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    /// True for the embedded queue: jobs may name local image paths.
    pub embedded: bool,
    pub settings: WorkerSettings,
}

/// Install the JSON (or, with `FACEREC_LOG_FORMAT=text`, human) tracing subscriber on
/// stderr; stdout carries only EMF lines.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env(facerec_aws_support::LOG_FILTER_VAR)
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // log_internal_errors(false): on a broken stderr the subscriber would otherwise
    // `eprintln!` the failure, which panics, killing whichever task was logging.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    if std::env::var("FACEREC_LOG_FORMAT").as_deref() == Ok("text") {
        let _ = builder.try_init();
    } else {
        let _ = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init();
    }
}

/// Build everything from `settings`, make the handler, and run until stopped.
/// `started` is the process start, for the start-to-ready log line.
pub async fn run_worker<H, F, Fut>(
    settings: WorkerSettings,
    started: Instant,
    make_handler: F,
) -> crate::Result<RunSummary>
where
    H: JobHandler,
    F: FnOnce(LaunchContext) -> Fut,
    Fut: std::future::Future<Output = Result<H, crate::BoxError>>,
{
    settings.validate()?;
    let sdk = crate::aws::load_sdk_config().await;
    if sdk.region().is_none() {
        if let Some(what) = settings.needs_region() {
            return Err(SettingsError::NoRegion(what).into());
        }
        tracing::warn!("no AWS region configured: jobs naming s3:// images will fail");
    }
    let s3 = crate::aws::s3_client(&sdk);
    let memory_gate = MemoryGate::new(&settings.cgroup_dir, settings.memory_threshold);
    let parallelism = settings.effective_parallelism(memory_gate.limit_bytes());
    let config = settings.runtime_config(parallelism);
    let protection =
        TaskProtection::new(settings.ecs_agent_uri.as_deref(), config.visibility_timeout)
            .map_err(SettingsError::Endpoint)?;

    let stop = CancellationToken::new();
    crate::shutdown::stop_on_signals(stop.clone())?;
    if let Some(w) = spot_watcher(&settings)? {
        tokio::spawn(w.run(stop.clone()));
    }

    let mut sinks = ResultSinks::default();
    if let Some(p) = &settings.result_prefix {
        sinks = sinks.with_s3(
            s3.clone(),
            S3Prefix::parse(p).map_err(SettingsError::BadResultPrefix)?,
        );
    }
    let sqs = crate::aws::sqs_client(&sdk, config.wait_time);
    let sqs_calls = crate::aws::sqs_call_client(&sdk);
    if let Some(u) = &settings.result_queue_url {
        sinks = sinks.with_queue(sqs_calls.clone(), u.clone());
    }

    let embedded = settings.embedded_queue.is_some();
    let ctx = LaunchContext {
        sdk: sdk.clone(),
        s3: s3.clone(),
        embedded,
        settings: settings.clone(),
    };
    let handler = make_handler(ctx).await.map_err(crate::Error::Handler)?;
    let emf = EmfEmitter::stdout(settings.metrics_namespace.clone(), crate::emf::SERVICE);
    let health = HealthFile::new(&settings.health_file);

    macro_rules! run_with {
        ($queue:expr, $sinks:expr) => {{
            let runtime = Runtime::new($queue, handler, $sinks, config)
                .with_memory_gate(memory_gate)
                .with_task_protection(protection)
                .with_health_file(health)
                .with_emf(emf);
            let ready = runtime.ready_signal();
            tokio::spawn(async move {
                ready.notified().await;
                tracing::info!(
                    start_to_ready_ms = started.elapsed().as_secs_f64() * 1000.0,
                    parallelism,
                    "worker ready: receiving"
                );
            });
            Ok(runtime.run(stop).await)
        }};
    }

    if let Some(path) = &settings.embedded_queue {
        let queue = EmbeddedQueue::open(
            path,
            &settings.embedded_queue_name,
            settings.max_receive_count,
        )
        .map_err(|e| SettingsError::Embedded(path.clone(), e.to_string()))?;
        let sinks = sinks.with_embedded(queue.clone());
        run_with!(queue, sinks)
    } else {
        let url = settings.queue_url.clone().ok_or(SettingsError::NoQueue)?;
        let queue = SqsQueue::new(sqs, url, settings.dlq_url.clone()).with_call_client(sqs_calls);
        run_with!(queue, sinks)
    }
}

fn spot_watcher(settings: &WorkerSettings) -> Result<Option<SpotNoticeWatcher>, SettingsError> {
    if let Some(explicit) = &settings.imds_endpoint {
        return SpotNoticeWatcher::new(explicit, settings.spot_poll_interval, Persistence::Always)
            .map(Some)
            .map_err(SettingsError::Endpoint);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    if on_fargate(env) {
        tracing::info!("ECS on Fargate: no instance metadata, Spot watcher off");
        return Ok(None);
    }
    let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| {
        if env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|m| m.eq_ignore_ascii_case("ipv6"))
        {
            DEFAULT_IMDS_ENDPOINT_IPV6.to_string()
        } else {
            DEFAULT_IMDS_ENDPOINT.to_string()
        }
    });
    let persistence = if on_ec2(env, |p| std::fs::read_to_string(p).ok()) {
        Persistence::Always
    } else {
        Persistence::Probe
    };
    SpotNoticeWatcher::new(&endpoint, settings.spot_poll_interval, persistence)
        .map(Some)
        .map_err(|e| SettingsError::Endpoint(format!("AWS_EC2_METADATA_SERVICE_ENDPOINT: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::Cli;
    use clap::Parser;

    #[test]
    fn one_line_errors_name_the_variable() {
        let e = Cli::try_parse_from(["w", "--queue-retry-max", "0"])
            .err()
            .unwrap();
        let line = one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("FACEREC_QUEUE_RETRY_MAX"), "{line}");
        assert!(line.contains("more than 0"), "{line}");
    }
}
