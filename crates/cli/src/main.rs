//! `facerec`: the command-line front end. Each subcommand lives in its own module under
//! [`cmd`]; add a new one by writing `cmd/<name>.rs` with an `Args` struct and a `run`
//! function, and listing it in [`Command`].

mod cmd;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::iter::once;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "facerec",
    version,
    about = "Face recognition compatible with Python's face_recognition"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect faces and print their 128-d encodings.
    Encode(cmd::encode::Args),
    /// Detect faces and print their boxes only.
    Detect(cmd::detect::Args),
    /// Simulate the fleet's autoscaling on arrival traces (see docs/scaling.md).
    #[command(disable_help_flag = true)]
    Simulate {
        /// Arguments of the simulator (`facerec simulate --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Send a trace of jobs to an SQS queue and record its depth over time.
    #[command(disable_help_flag = true)]
    Load {
        /// Arguments of the load generator (`facerec load --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Encode(args) => cmd::encode::run(args),
        Command::Detect(args) => cmd::detect::run(args),
        // These two own their argument parsing (their crates also ship standalone binaries).
        Command::Simulate { args } => {
            facerec_fleet_sim::run(once(OsString::from("facerec simulate")).chain(args))
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Load { args } => {
            return facerec_load_generator::cli::main_with(
                "facerec load",
                once(OsString::from("facerec load")).chain(args),
            )
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("facerec: {e:#}");
            ExitCode::from(2)
        }
    }
}
