//! Exit codes, documented in docs/cli.md.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | everything processed |
//! | 1 | finished, but some inputs failed (one error line each on stderr) or jobs were dead-lettered |
//! | 2 | nothing done: bad arguments, missing models, unusable gallery, locked state, service unreachable |
//! | 130 | `run` interrupted (Ctrl-C); re-run the same command to resume |

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
