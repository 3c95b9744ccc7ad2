//! The command line (`facerec-load …`, and `facerec load …` in the facerec CLI):
//! parse, validate everything that can be checked offline, then connect and run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use aws_config::Region;
use clap::{ArgGroup, Parser};
use facerec_fleet_sim::params::{Environment, ScalingParams};

use crate::arrivals::{self, Pacing, Schedule};
use crate::error::LoadError;
use crate::job::{default_run_id, JobFactory};
use crate::load::{execute, LoadPlan, LoadSummary};

/// The `app/<name>` in the user agent of the load generator's requests: CloudTrail shows
/// them as its own, and the IAM proof (tools/iam/prove.py) checks them against the
/// producer policy.
pub const APP_NAME: &str = "facerec-load";

#[derive(Debug, Parser)]
#[command(
    name = "facerec-load",
    about = "Send a trace of facerec jobs (contract v1) to an SQS queue and record its depth over time",
    group(ArgGroup::new("source").required(true).args(["trace", "arrivals"]))
)]
pub struct LoadArgs {
    /// The job queue (e.g. https://sqs.us-east-1.amazonaws.com/123456789012/facerec-jobs).
    #[arg(long, env = "QUEUE_URL")]
    pub queue_url: String,
    /// A simulator trace: steady, bursty, diurnal, lone, spike, spot-storm (arrivals only).
    #[arg(long)]
    pub trace: Option<String>,
    /// A file of arrival offsets in seconds: CSV (first column) or JSON (array, or {"arrivals": […]}).
    #[arg(long, value_name = "FILE")]
    pub arrivals: Option<PathBuf>,
    /// Scaling parameters the traces are built from (the file Terraform reads).
    #[arg(long, default_value = "terraform/scaling.json")]
    pub scaling: PathBuf,
    /// Optional JSON with any subset of the same keys (e.g. a terraform.tfvars.json).
    #[arg(long = "override", value_name = "FILE")]
    pub override_path: Option<PathBuf>,
    /// Trace seed; the default is the simulator's, so the run replays the judged trace.
    #[arg(long, default_value_t = Environment::default().seed)]
    pub seed: u64,
    /// Trace seconds per real second (60: a 2-hour trace in 2 minutes, at 60x the rate).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub speedup: f64,
    /// Send only the first N arrivals.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Start at the first arrival instead of replaying the trace's leading idle time.
    #[arg(long)]
    pub skip_leading_idle: bool,
    /// Image URI of the jobs, s3://bucket/key; repeatable, used round-robin.
    #[arg(long = "image", value_name = "S3_URI", required = true)]
    pub images: Vec<String>,
    /// Gallery document for every job, s3://bucket/key.
    #[arg(long, value_name = "S3_URI")]
    pub gallery: Option<String>,
    /// Prefix of the job ids (`<run-id>:<seq>`); default load-<UTC time>-<salt>.
    #[arg(long)]
    pub run_id: Option<String>,
    /// SQS endpoint (an emulator, a VPC endpoint); default: the SDK's (AWS_ENDPOINT_URL…).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// AWS region; default: the SDK's (AWS_REGION, profile).
    #[arg(long)]
    pub region: Option<String>,
    /// Seconds between queue-depth samples.
    #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
    pub sample_seconds: f64,
    /// Keep sampling this many seconds after the last job is sent (watch the fleet drain).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub watch_after: f64,
    /// End the watch as soon as the queue is empty (nothing visible, in flight or delayed).
    #[arg(long)]
    pub stop_when_drained: bool,
    /// CSV of samples: t_seconds,sent,visible,in_flight,delayed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// SendMessageBatch calls in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Checks an endpoint or queue URL enough to give a clear message instead of an SDK
/// dispatch error: http(s), a host, no spaces; a queue URL also needs a queue name.
pub fn check_url(flag: &'static str, value: &str, needs_path: bool) -> Result<(), LoadError> {
    let bad = |reason: &str| {
        Err(LoadError::BadUrl {
            flag,
            value: value.to_string(),
            reason: reason.to_string(),
        })
    };
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return bad("expected an http:// or https:// URL");
    };
    if value.chars().any(char::is_whitespace) {
        return bad("URLs cannot contain spaces");
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() || host.starts_with(':') {
        return bad("the URL has no host");
    }
    if needs_path
        && path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .is_empty()
    {
        return bad("expected a queue URL like https://sqs.REGION.amazonaws.com/ACCOUNT/NAME");
    }
    Ok(())
}

fn seconds(flag: &'static str, value: f64, allow_zero: bool) -> Result<Duration, LoadError> {
    let ok = value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0));
    if !ok {
        return Err(LoadError::BadNumber {
            flag,
            rule: if allow_zero { ">= 0" } else { "> 0" },
            value,
        });
    }
    Ok(Duration::from_secs_f64(value))
}

impl LoadArgs {
    /// Everything that can be checked without the network.
    pub fn plan(&self) -> Result<LoadPlan, LoadError> {
        check_url("queue-url", &self.queue_url, true)?;
        if let Some(e) = &self.endpoint_url {
            check_url("endpoint-url", e, false)?;
        }
        let pacing = Pacing::new(self.speedup, self.limit, self.skip_leading_idle)?;
        let sample_every = seconds("sample-seconds", self.sample_seconds, false)?;
        let watch_after = seconds("watch-after", self.watch_after, true)?;
        let offsets = match (&self.trace, &self.arrivals) {
            (Some(name), _) => {
                let params = ScalingParams::load(&self.scaling, self.override_path.as_deref())?;
                arrivals::from_trace(name, &params, self.seed)?
            }
            (None, Some(path)) => arrivals::from_file(path)?,
            (None, None) => unreachable!("clap requires --trace or --arrivals"),
        };
        let schedule = Schedule::new(offsets, pacing)?;
        let run_id = self.run_id.clone().unwrap_or_else(default_run_id);
        let jobs = JobFactory::new(
            run_id,
            self.images.clone(),
            self.gallery.clone(),
            schedule.len(),
        )?;
        Ok(LoadPlan {
            queue_url: self.queue_url.clone(),
            schedule,
            jobs,
            sample_every,
            watch_after,
            stop_when_drained: self.stop_when_drained,
            out: self.out.clone(),
            concurrency: usize::from(self.concurrency),
        })
    }

    /// The SQS client, configured the way the SDK defines (environment, profiles), with
    /// the flags on top.
    pub async fn client(&self) -> Result<aws_sdk_sqs::Client, LoadError> {
        // `app/facerec-load` in the user agent: the IAM proof (tools/iam/prove.py) checks
        // these calls against the producer policy.
        let mut loader = facerec_aws_support::sdk::defaults(APP_NAME);
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(LoadError::NoRegion);
        }
        let conf = aws_sdk_sqs::config::Builder::from(&config)
            .timeout_config(facerec_aws_support::sdk::attempt_timeouts(
                Duration::from_secs(15),
            ))
            .build();
        Ok(aws_sdk_sqs::Client::from_conf(conf))
    }
}

/// Parses the command line; `Ok(None)` when it was `--help`/`--version` (already printed).
pub fn parse<I, T>(args: I) -> anyhow::Result<Option<LoadArgs>>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match LoadArgs::try_parse_from(args) {
        Ok(a) => Ok(Some(a)),
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!(e.to_string())),
    }
}

/// Runs a parsed command line to its summary (sending stops early on Ctrl-C).
pub fn run_args(args: &LoadArgs) -> Result<LoadSummary, LoadError> {
    let plan = args.plan()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| LoadError::Output {
            path: PathBuf::from("<tokio runtime>"),
            source,
        })?;
    runtime.block_on(async {
        let client = args.client().await?;
        let stop = async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling available: never stop early.
                std::future::pending::<()>().await;
            }
        };
        execute(plan, client, stop).await
    })
}

/// Entry point of `facerec-load` and `facerec load`. `args` starts with the program
/// name. Prints the summary on stdout.
pub fn run<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let Some(args) = parse(args)? else {
        return Ok(());
    };
    let summary = run_args(&args).context("load test failed")?;
    println!("{summary}");
    if summary.interrupted {
        anyhow::bail!("interrupted after {} jobs", summary.jobs_sent);
    }
    Ok(())
}

/// The whole command as a process sees it: parse, run, print the summary, and map the
/// outcome to an exit code (0 done, 1 queue failure, 2 bad command line or input, 130
/// interrupted). Shared by `facerec-load` and `facerec load`.
pub fn main_with<I, T>(program: &str, args: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use std::process::ExitCode;
    let args = match parse(args) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            // clap's message already starts with "error:" and carries the usage line.
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match run_args(&args) {
        Ok(summary) => {
            println!("{summary}");
            // 130: stopped by Ctrl-C, as shells report SIGINT.
            ExitCode::from(if summary.interrupted { 130 } else { 0 })
        }
        Err(e) => {
            eprintln!("{program}: error: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<LoadArgs, clap::Error> {
        let base = [
            "facerec-load",
            "--queue-url",
            "http://127.0.0.1:9/123456789012/jobs",
            "--image",
            "s3://b/k.jpg",
            "--scaling",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../terraform/scaling.json"),
        ];
        LoadArgs::try_parse_from(base.iter().chain(extra))
    }

    fn plan_error(extra: &[&str]) -> String {
        args(extra).unwrap().plan().unwrap_err().to_string()
    }

    #[test]
    fn a_valid_command_line_plans_the_trace() {
        let plan = args(&["--trace", "lone", "--speedup", "3600", "--run-id", "t1"])
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(plan.schedule.len(), 1);
        // lone: one arrival at 7230 s; at 3600x that is 2.008 s after the start.
        assert_eq!(
            plan.schedule.offsets[0],
            Duration::from_secs_f64(7230.0 / 3600.0)
        );
        assert_eq!(plan.jobs.job_id(0), "t1:000000");
        assert_eq!(plan.concurrency, 4);
    }

    #[test]
    fn bad_input_is_named() {
        assert!(plan_error(&["--trace", "nope"]).contains("unknown trace \"nope\""));
        assert!(plan_error(&["--trace", "lone", "--speedup", "0"]).contains("--speedup"));
        assert!(plan_error(&["--trace", "lone", "--speedup", "-2"]).contains("--speedup"));
        assert!(
            plan_error(&["--trace", "lone", "--sample-seconds", "0"]).contains("--sample-seconds")
        );
        assert!(plan_error(&["--trace", "lone", "--watch-after", "-1"]).contains("--watch-after"));
        assert!(
            plan_error(&["--trace", "lone", "--endpoint-url", "localhost:4566"])
                .contains("--endpoint-url")
        );
        let e = args(&["--trace", "lone"]).unwrap();
        let e = LoadArgs {
            queue_url: "sqs/jobs".into(),
            ..e
        };
        assert!(e.plan().unwrap_err().to_string().contains("--queue-url"));
        // clap-level: neither/both sources, no image.
        assert!(args(&[]).is_err());
        assert!(args(&["--trace", "lone", "--arrivals", "x.csv"]).is_err());
        assert!(LoadArgs::try_parse_from([
            "facerec-load",
            "--queue-url",
            "http://h/1/q",
            "--trace",
            "lone"
        ])
        .is_err());
    }

    #[test]
    fn url_checks() {
        assert!(check_url(
            "queue-url",
            "https://sqs.us-east-1.amazonaws.com/123/jobs.fifo",
            true
        )
        .is_ok());
        assert!(check_url("queue-url", "http://127.0.0.1:5000/123456789012/q", true).is_ok());
        assert!(check_url("endpoint-url", "http://127.0.0.1:5000", false).is_ok());
        assert!(check_url("queue-url", "http://127.0.0.1:5000/", true).is_err());
        assert!(check_url("queue-url", "https:///123/q", true).is_err());
        assert!(check_url("queue-url", "http://h/1/q x", true).is_err());
        assert!(check_url("endpoint-url", "ftp://h", false).is_err());
    }
}
