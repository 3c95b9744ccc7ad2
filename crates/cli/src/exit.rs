//! Exit codes, documented in docs/cli.md.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | everything processed |
//! | 1 | finished, but some inputs failed (one error line each on stderr) or jobs were dead-lettered |
//! | 2 | nothing done: bad arguments, missing models, unusable gallery, locked state, service unreachable |
//! | 130 | `run` interrupted (Ctrl-C); re-run the same command to resume |

use std::io::Write;
use std::process::ExitCode;

pub const SOME_FAILED: u8 = 1;
pub const FATAL: u8 = 2;
pub const INTERRUPTED: u8 = 130;

/// 0, or 1 when any input failed.
pub fn finished(any_failed: bool) -> ExitCode {
    if any_failed {
        ExitCode::from(SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Print one error line for a bad input (the rest of the batch goes on).
pub fn report(error: impl std::fmt::Display) {
    eprintln!("facerec: {error}");
}

/// A bad input of a batch printed to stdout: its `{"path", "error"}` object there when
/// `json`, then (stdout flushed first, so the two streams interleave in order) its
/// error line on stderr.
pub fn report_input(
    out: &mut impl Write,
    json: bool,
    path: &str,
    line: &str,
) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::json!({"path": path, "error": line}))?;
    }
    out.flush()?;
    report(line);
    Ok(())
}
