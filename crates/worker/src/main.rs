//! `facerec-worker`: the process ECS runs on every Spot instance.
//!
//! Thin by design: settings and the queue machinery come from `facerec-worker-runtime`
//! (shared with its tests), recognition from `facerec-engine`; this file wires them and
//! adds the `health` subcommand for the container health check.
//!
//! ```text
//! facerec-worker [run] [flags]       consume until SIGTERM/SIGINT/Spot notice (default)
//! facerec-worker health [--max-age]  exit 0 while the worker reports itself healthy
//! ```

use facerec_worker::recognition;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use facerec_worker_runtime::health::HealthFile;
use facerec_worker_runtime::launch::{self, parse_bytes, parse_secs, WorkerSettings};

#[derive(Parser)]
#[command(
    name = "facerec-worker",
    version,
    about = "Face-recognition queue worker"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Consume the queue (the default).
    Run(Box<RunArgs>),
    /// Container health check: exit 0 while the worker's health file is fresh and says
    /// `ok` (the runtime rewrites it every 10 s and after every receive; it says
    /// `unhealthy: …` when the receive loop stalls or results cannot be stored).
    Health {
        #[arg(long, env = "FACEREC_HEALTH_FILE", value_name = "FACEREC_HEALTH_FILE", default_value = facerec_worker_runtime::health::DEFAULT_HEALTH_FILE)]
        health_file: PathBuf,
        /// Oldest acceptable health file, seconds.
        #[arg(long, default_value = "60", value_parser = parse_secs)]
        max_age: Duration,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    #[command(flatten)]
    settings: WorkerSettings,
    /// Largest accepted image file (bytes or KiB/MiB/GiB); larger is `oversized_image`.
    #[arg(long, env = "FACEREC_MAX_IMAGE_BYTES", value_name = "FACEREC_MAX_IMAGE_BYTES", default_value = "25MiB", value_parser = parse_bytes)]
    max_image_bytes: u64,
    /// Largest accepted width × height; larger is `decompression_bomb`.
    #[arg(
        long,
        env = "FACEREC_MAX_PIXELS",
        value_name = "FACEREC_MAX_PIXELS",
        default_value_t = 40_000_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    max_pixels: u64,
}

fn main() -> ExitCode {
    let started = Instant::now();
    // Before any thread exists: glibc's arenas otherwise cache freed photo buffers
    // eight per core (about 100 MiB more at the bench's peak; allocator.rs).
    facerec_worker_runtime::allocator::limit_arenas_to_cores();
    let cli: Cli = launch::parse_cli("facerec-worker");
    match cli.command {
        Some(Command::Health {
            health_file,
            max_age,
        }) => match HealthFile::new(health_file).check_reporting(max_age) {
            Ok((age, None)) => {
                println!("healthy: reported ok {:.1} s ago", age.as_secs_f64());
                ExitCode::SUCCESS
            }
            Ok((age, Some(reason))) => {
                // Passes: a dependency's outage is not this task's fault (docs/operations.md).
                println!(
                    "healthy, degraded: {reason} (reported {:.1} s ago)",
                    age.as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Run(args)) => run(*args, started),
        None => run(cli.run, started),
    }
}

fn run(args: RunArgs, started: Instant) -> ExitCode {
    launch::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("facerec-worker: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = facerec_job::Limits {
        max_image_bytes: args.max_image_bytes,
        max_pixels: args.max_pixels,
    };
    let result = runtime.block_on(launch::run_worker(
        args.settings,
        started,
        |ctx| async move { recognition::RecognitionHandler::load(ctx, limits).await },
    ));
    match result {
        Ok(summary) => {
            tracing::info!(?summary, "facerec-worker exiting");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One plain line (stderr reaches the task's log either way), exit 2.
            eprintln!("facerec-worker: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod terraform_environment {
    //! The ECS task definition configures the worker through environment variables
    //! (`worker_environment` in terraform/main.tf). A name the worker does not read would
    //! be silently ignored in production, so every one must be a setting here.

    use super::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeSet;

    fn env_names(cmd: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            env_names(sub, out);
        }
    }

    fn terraform_names() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../terraform/main.tf");
        let text = std::fs::read_to_string(path).expect("read terraform/main.tf");
        let start = text
            .find("worker_environment = merge(")
            .expect("worker_environment block in terraform/main.tf");
        let block = &text[start..start + text[start..].find("\n  )").expect("end of block")];
        block
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '=' || c == '{'))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1] == "=" && w[0].chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .map(|w| w[0].to_string())
            .collect()
    }

    #[test]
    fn every_variable_terraform_sets_is_a_worker_setting() {
        let mut known = BTreeSet::new();
        env_names(&Cli::command(), &mut known);
        let names = terraform_names();
        assert!(names.len() >= 10, "parsed too few names: {names:?}");
        for required in ["SQS_BATCH_SIZE", "QUEUE_URL", "FACEREC_STOP_TIMEOUT"] {
            assert!(
                names.iter().any(|n| n == required),
                "{required} not parsed: {names:?}"
            );
        }
        let unknown: Vec<_> = names.iter().filter(|n| !known.contains(*n)).collect();
        assert!(
            unknown.is_empty(),
            "terraform sets {unknown:?}, which the worker does not read; it reads {known:?}"
        );
    }
}
