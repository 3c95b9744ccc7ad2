//! `spot-drill`: run the Spot interruption drill (see the library docs and
//! docs/spot.md § Spot interruption drill). Exit status: 0 when every invariant
//! held, 1 when one was violated, 2 when the drill could not run.
//!
//! `spot-drill worker` is the drill's worker process (started by the drill itself).

use std::time::Instant;

use clap::{Parser, Subcommand};
use facerec_spot_drill::drill_worker::{self, DrillWorkerArgs};
use facerec_spot_drill::scenario::{run_drill, DrillOptions};

#[derive(Parser)]
#[command(
    name = "spot-drill",
    about = "Spot interruption drill: workers on a moto queue, one told of an interruption by its IMDS; checks nothing is lost",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    drill: DrillOptions,
}

#[derive(Subcommand)]
enum Command {
    /// One drill worker (production wiring, simulated recognition); started by the drill.
    #[command(hide = true)]
    Worker(Box<DrillWorkerArgs>),
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Worker(args)) => {
            facerec_worker_runtime::launch::init_logging();
            if let Err(e) = drill_worker::run(*args, started).await {
                eprintln!("spot-drill worker: {e}");
                std::process::exit(2);
            }
        }
        None => match run_drill(&cli.drill).await {
            Ok(report) => {
                println!("{report}");
                if !report.violations().is_empty() {
                    std::process::exit(1);
                }
            }
            Err(e) => {
                eprintln!("spot-drill: the drill could not run: {e:#}");
                std::process::exit(2);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed_and_rejects_bad_values() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["spot-drill", "--workers", "1"]).is_err());
        assert!(Cli::try_parse_from(["spot-drill", "--spot-poll", "soon"]).is_err());
        let cli = Cli::try_parse_from(["spot-drill", "--jobs", "30"]).unwrap();
        assert_eq!(cli.drill.jobs, 30);
        assert_eq!(cli.drill.notice_threshold(), 7);
    }
}
