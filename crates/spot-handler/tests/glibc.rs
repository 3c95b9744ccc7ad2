//! AL2023 ships glibc 2.34: the `bootstrap` binary must not need a newer glibc version.
//!
//! The check itself is `scripts/build-spot-handler.sh --check-glibc`, which the build
//! script also runs on every binary it zips. Here:
//! - the `bootstrap` cargo built for this test run is checked (host toolchain and linker:
//!   what the script builds when zig is unavailable, as on this machine);
//! - the check is shown to catch what it must: a too-new release version, and the
//!   `GLIBC_ABI_DT_RELR` marker (glibc 2.36) of a binary linked with packed relocations;
//! - the binary that goes into the zip is checked by an ignored test that
//!   `scripts/build-spot-handler.sh` runs with `FACEREC_SPOT_HANDLER_BOOTSTRAP` naming it.

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

fn assert_passes(binary: &Path, max: &str) {
    let out = check(binary, max);
    assert!(
        out.status.success(),
        "{}: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_fails(binary: &Path, max: &str, mentioning: &str) {
    let out = check(binary, max);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "passed at {max}: {stderr}");
    assert!(stderr.contains("FAIL"), "{stderr}");
    assert!(stderr.contains(mentioning), "{stderr}");
}

#[test]
fn the_test_build_of_bootstrap_needs_no_glibc_newer_than_al2023s() {
    assert_passes(
        Path::new(env!("CARGO_BIN_EXE_facerec-spot-handler")),
        "2.34",
    );
}

/// Run by `scripts/build-spot-handler.sh` on the binary it is about to zip.
#[test]
#[ignore = "checks the packaged binary named by FACEREC_SPOT_HANDLER_BOOTSTRAP; scripts/build-spot-handler.sh runs it"]
fn the_packaged_bootstrap_needs_no_glibc_newer_than_al2023s() {
    let binary = std::env::var("FACEREC_SPOT_HANDLER_BOOTSTRAP")
        .expect("FACEREC_SPOT_HANDLER_BOOTSTRAP must name the packaged bootstrap");
    assert_passes(Path::new(&binary), "2.34");
}

#[test]
fn the_check_rejects_a_too_new_release_version() {
    // Any dynamically linked glibc binary needs more than GLIBC_2.2.4, the version
    // before the oldest x86-64 symbol set: the check must say so, or it checks nothing.
    assert_fails(
        Path::new(env!("CARGO_BIN_EXE_facerec-spot-handler")),
        "2.2.4",
        "GLIBC_2.",
    );
}

#[test]
fn the_check_counts_glibc_abi_dt_relr_as_glibc_2_36() {
    // `-z pack-relative-relocs` makes the linker require GLIBC_ABI_DT_RELR, which glibc
    // only has from 2.36: such a binary does not load on AL2023 although none of its
    // symbols is newer than 2.34.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("glibc-dt-relr");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("relr.c");
    let binary = dir.join("relr");
    // Pointers in static data give a position-independent executable relative
    // relocations, which is what gets packed.
    std::fs::write(
        &source,
        "static const char *names[] = {\"a\", \"b\", \"c\"};\n\
         int main(int argc, char **argv) { (void)argv; return names[argc % 3][0] == 0; }\n",
    )
    .unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .arg("-O1")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .arg("-Wl,-z,pack-relative-relocs")
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        built.status.success(),
        "{cc} cannot link with -z pack-relative-relocs: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let needs = Command::new("readelf")
        .args(["--version-info", "--wide"])
        .arg(&binary)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&needs.stdout).contains("GLIBC_ABI_DT_RELR"),
        "the test binary does not need GLIBC_ABI_DT_RELR, so it tests nothing"
    );
    assert_fails(&binary, "2.34", "GLIBC_ABI_DT_RELR");
    assert_fails(&binary, "2.35", "GLIBC_ABI_DT_RELR");
    assert_passes(&binary, "2.36");
}
