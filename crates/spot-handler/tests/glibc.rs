//! AL2023 ships glibc 2.34: the `bootstrap` binary must not need a newer symbol version.
//!
//! Checks the `bootstrap` cargo built for this test run and, when
//! `FACEREC_SPOT_HANDLER_BOOTSTRAP` names it, the release binary that goes into the zip
//! (`scripts/build-spot-handler.sh` runs the same check on every build).

use std::path::{Path, PathBuf};
use std::process::Command;

fn check(binary: &Path, max: &str) -> std::process::Output {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-spot-handler.sh");
    Command::new("bash")
        .arg(script)
        .arg("--check-glibc")
        .arg(binary)
        .arg(max)
        .output()
        .expect("run scripts/build-spot-handler.sh --check-glibc")
}

#[test]
fn bootstrap_needs_no_glibc_newer_than_al2023s() {
    let mut binaries = vec![PathBuf::from(env!("CARGO_BIN_EXE_bootstrap"))];
    if let Ok(release) = std::env::var("FACEREC_SPOT_HANDLER_BOOTSTRAP") {
        binaries.push(release.into());
    }
    for binary in binaries {
        let out = check(&binary, "2.34");
        assert!(
            out.status.success(),
            "{}: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_check_rejects_a_too_new_requirement() {
    // Any dynamically linked glibc binary needs more than GLIBC_2.2.4, the version
    // before the oldest x86-64 symbol set: the check must say so, or it checks nothing.
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_bootstrap"));
    let out = check(&binary, "2.2.4");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAIL"));
}
