//! AL2023 ships glibc 2.34: the `bootstrap` binary must not need a newer glibc version.
//! The check is `scripts/build-lambda.sh --check-glibc` (tested for what it must catch in
//! crates/spot-handler/tests/glibc.rs); here it runs on this crate's binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

fn check(binary: &Path) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-lambda.sh");
    Command::new("bash")
        .arg(script)
        .arg("--check-glibc")
        .arg(binary)
        .arg("2.34")
        .output()
        .expect("run scripts/build-lambda.sh --check-glibc")
}

fn assert_passes(binary: &Path) {
    let out = check(binary);
    assert!(
        out.status.success(),
        "{}: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_test_build_of_bootstrap_needs_no_glibc_newer_than_al2023s() {
    assert_passes(Path::new(env!("CARGO_BIN_EXE_facerec-backlog-scaler")));
}

/// Run by `scripts/build-lambda.sh backlog-scaler` on the binary it is about to zip.
#[test]
#[ignore = "checks the packaged binary named by FACEREC_BACKLOG_SCALER_BOOTSTRAP; scripts/build-lambda.sh backlog-scaler runs it"]
fn the_packaged_bootstrap_needs_no_glibc_newer_than_al2023s() {
    let binary = std::env::var("FACEREC_BACKLOG_SCALER_BOOTSTRAP")
        .expect("FACEREC_BACKLOG_SCALER_BOOTSTRAP must name the packaged bootstrap");
    assert_passes(Path::new(&binary));
}
