//! `facerec`: the command-line front end. Each subcommand lives in its own module under
//! [`cmd`]; add a new one by writing `cmd/<name>.rs` with an `Args` struct and a `run`
//! function, and listing it in [`Command`].
//!
//! Shared pieces:
//! * `inputs` — which files are images, folders → image lists, job ids.
//! * `known` — enrolling a folder of known people; `gallery_file` — the versioned
//!   gallery file.
//! * `results_file`, `progress` — `run`'s exactly-once JSONL and its progress line;
//!   `run_csv` — `run --format csv`, rewritten from that JSONL.
//! * `aws_clients` — SDK clients for `submit` and `results`; `submitted` — the manifest
//!   that maps their job ids back to local paths.
//!
//! Feature `fleet` (default) adds the commands that call AWS (`submit`, `results`,
//! `status`, `load`); without it (`make demo`'s build) they print how to get them.
//! * `csv` — RFC 4180 fields for every CSV line; `face_json` — the one face schema of
//!   every JSON output.
//! * `photo_faces` — faces with embeddings from a run's results or photos (`cluster`,
//!   `search`, `annotate`); `chinese_whispers` — dlib's clustering; `font` — the bitmap
//!   font `annotate` writes names with.
//! * `exit` — the exit codes (docs/cli.md).

#[cfg(feature = "fleet")]
mod aws_clients;
mod chinese_whispers;
mod cmd;
mod csv;
mod exit;
mod face_json;
mod font;
mod gallery_file;
mod inputs;
mod known;
mod photo_faces;
mod progress;
mod results_file;
mod run_csv;
#[cfg(feature = "fleet")]
mod submitted;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::iter::once;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "facerec",
    version,
    about = "Face recognition compatible with Python's face_recognition, on one machine or a fleet"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Name the faces in photos: `path,name` per face, as face_recognition prints.
    Identify(cmd::identify::Args),
    /// Encode a folder of known people into a gallery file.
    Enroll(cmd::enroll::Args),
    /// Detect faces: `path,top,right,bottom,left` per face, as face_detection prints.
    Detect(cmd::detect::Args),
    /// The main job on this machine: every photo of DIR through a durable local queue and
    /// worker pool into a JSONL file; interrupt and re-run to resume.
    Run(cmd::run::Args),
    /// Send photos as jobs to the fleet's SQS queue (uploading them to S3 first).
    #[cfg(feature = "fleet")]
    Submit(cmd::submit::Args),
    /// Read the fleet's results from its result queue or S3 prefix.
    #[cfg(feature = "fleet")]
    Results(cmd::results::Args),
    /// The fleet's state: the job queue, the dead-letter queue, tasks and instances.
    #[cfg(feature = "fleet")]
    Status(cmd::status::Args),
    /// Detect faces and print their 128-d encodings: face_recognition's
    /// `face_encodings(img)` (landmarks on the detector's unclipped rectangles);
    /// `--known-locations` for `face_encodings(img, face_locations(img))`.
    Encode(cmd::encode::Args),
    /// Group the faces nobody is named for into people (Chinese whispers, as dlib); a
    /// contact sheet per group; `cluster name ID NAME --gallery G` enrols a group.
    Cluster(cmd::cluster::Args),
    /// Draw boxes and names onto copies of photos, in an output folder.
    Annotate(cmd::annotate::Args),
    /// Every photo with a face of NAME, best first: `path,distance` lines.
    Search(cmd::search::Args),
    /// Run as face_recognition's or face_detection's own command (same arguments and
    /// output); a `facerec` named or linked `face_recognition`/`face_detection` does it too.
    #[command(disable_help_flag = true)]
    Compat {
        tool: cmd::compat::Tool,
        /// That command's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Simulate the fleet's autoscaling on arrival traces (see docs/scaling.md).
    #[command(disable_help_flag = true)]
    Simulate {
        /// Arguments of the simulator (`facerec simulate --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Send a trace of jobs to an SQS queue and record its depth over time.
    #[cfg(feature = "fleet")]
    #[command(disable_help_flag = true)]
    Load {
        /// Arguments of the load generator (`facerec load --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    // Before any thread exists; `run` holds photos on the same blocking threads as the
    // worker, so glibc's default arenas would cache their buffers eight per core.
    facerec_worker_runtime::allocator::limit_arenas_to_cores();
    let argv = cmd::compat::rewrite(std::env::args_os().collect());
    let argv = cmd::identify::join_show_distance_value(argv);
    if let Some(code) = fleet_command_missing(&argv) {
        return code;
    }
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Command::Identify(args) => cmd::identify::run(args),
        Command::Enroll(args) => cmd::enroll::run(args),
        Command::Detect(args) => cmd::detect::run(args),
        Command::Run(args) => cmd::run::run(args),
        #[cfg(feature = "fleet")]
        Command::Submit(args) => cmd::submit::run(args),
        #[cfg(feature = "fleet")]
        Command::Results(args) => cmd::results::run(args),
        #[cfg(feature = "fleet")]
        Command::Status(args) => cmd::status::run(args),
        Command::Encode(args) => cmd::encode::run(args),
        Command::Cluster(args) => cmd::cluster::run(args),
        Command::Annotate(args) => cmd::annotate::run(args),
        Command::Search(args) => cmd::search::run(args),
        // `compat::rewrite` has turned `compat TOOL` into its subcommand already.
        Command::Compat { tool, .. } => Err(anyhow::anyhow!(
            "compat {}: not rewritten (a bug)",
            tool.subcommand()
        )),
        // These two own their argument parsing (their crates also ship standalone binaries).
        Command::Simulate { args } => {
            facerec_fleet_sim::run(once(OsString::from("facerec simulate")).chain(args))
                .map(|()| ExitCode::SUCCESS)
        }
        #[cfg(feature = "fleet")]
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
            ExitCode::from(exit::FATAL)
        }
    }
}

/// The commands that only a build with the `fleet` feature has.
const FLEET_COMMANDS: [&str; 4] = ["submit", "results", "status", "load"];

/// In a build without the fleet commands, asking for one says how to get them (instead
/// of clap's "unrecognized subcommand").
fn fleet_command_missing(argv: &[OsString]) -> Option<ExitCode> {
    let asked = argv.get(1)?.to_str()?;
    if cfg!(feature = "fleet") || !FLEET_COMMANDS.contains(&asked) {
        return None;
    }
    eprintln!(
        "facerec: `{asked}` is a fleet command, and this facerec was built without them \
         (cargo feature `fleet`); `make install` builds the full facerec"
    );
    Some(ExitCode::from(exit::FATAL))
}
