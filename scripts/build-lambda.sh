#!/usr/bin/env bash
# Builds one of the project's Lambda functions as a `bootstrap` zip for the
# provided.al2023 runtime, x86_64, and checks it runs on AL2023's glibc 2.34.
#
# Usage: scripts/build-lambda.sh FUNCTION [--no-verify] [OUTPUT_ZIP]
#   FUNCTION is spot-handler (crate facerec-spot-handler, the Spot-interruption handler)
#   or backlog-scaler (crate facerec-backlog-scaler, the scaler of scaling_mode =
#   "backlog_scaler"). scripts/build-spot-handler.sh is `build-lambda.sh spot-handler`.
#   OUTPUT_ZIP defaults to $CARGO_TARGET_DIR/lambda/FUNCTION/bootstrap.zip
#   (CARGO_TARGET_DIR defaults to <repo>/target).
#   Before zipping, the binary that goes into the zip is verified: the glibc check below,
#   then the crate's ignored tests for the packaged binary (tests/glibc.rs and
#   tests/runtime_api.rs with FACEREC_SPOT_HANDLER_BOOTSTRAP or
#   FACEREC_BACKLOG_SCALER_BOOTSTRAP naming it: it serves a Lambda invocation against
#   moto). Those need the moto venv (scripts/bootstrap-venv.sh, or FACEREC_MOTO_PYTHON);
#   --no-verify skips them and keeps only the glibc check.
#        scripts/build-lambda.sh --check-glibc BINARY [MAX_VERSION]
#   Only the check: exits 1 if BINARY is not x86-64 or needs a glibc version newer than
#   MAX_VERSION (default 2.34), counting ABI markers (GLIBC_ABI_DT_RELR = 2.36) and
#   refusing names it does not know. A static binary passes.
#
# How it builds: scripts/build-release.sh, which builds the worker and both Lambdas in one
#   cargo invocation — with cargo-zigbuild for x86_64-unknown-linux-gnu.2.34 (zig links
#   against glibc 2.34 stubs, so the binary cannot pick up a newer symbol; cargo-zigbuild
#   and ziglang come from PyPI into $FACEREC_LAMBDA_TOOLS, default
#   /var/tmp/facerec-fleet/lambda-tools), or with the host toolchain when
#   FACEREC_RELEASE_BUILDER=cargo or the zig tools cannot be installed. On a host with a
#   newer glibc the host build may produce a binary AL2023 cannot load; the check below
#   catches it.
# Users with internet access can equally run `cargo lambda build --release -p
# facerec-FUNCTION --bin facerec-FUNCTION --output-format zip` (cargo-lambda also uses zig
# and, like this script, names the file `bootstrap` inside the zip).
#
# Either way the script then refuses a binary that needs a glibc symbol newer than 2.34
# (or is not x86-64), runs the packaged-binary tests on it, and writes the zip with
# `bootstrap` at its root.
# arm64 is not built here: the machine's toolchain has no aarch64 standard library and
# rustup cannot download one offline.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
max_glibc="2.34"

log() { echo "build-lambda: $*" >&2; }

# Prints every GLIBC_* version name BINARY needs from the dynamic linker, one a line.
# Besides the release versions (GLIBC_2.34) there are ABI markers: GLIBC_ABI_DT_RELR, which
# the linker adds for -z pack-relative-relocs and which only glibc 2.36+ provides.
glibc_needs() {
    readelf --version-info --wide "$1" | grep -o 'Name: GLIBC_[A-Za-z0-9_.]*' | sed 's/Name: //' | sort -u
}

# The glibc release that first provides version NAME; empty when unknown.
glibc_release_of() {
    case "$1" in
        GLIBC_ABI_DT_RELR) echo 2.36 ;;
        GLIBC_[0-9]*) echo "${1#GLIBC_}" ;;
        *) echo "" ;;
    esac
}

check_glibc() {
    local binary="$1" max="$2" name release newest="" newest_name="" unknown=""
    [[ -f "$binary" ]] || { log "no such binary: $binary"; return 1; }
    if ! readelf --file-header "$binary" | grep -q 'Machine:.*X86-64'; then
        log "FAIL: $binary is not an x86-64 ELF"
        return 1
    fi
    while read -r name; do
        [[ -n "$name" ]] || continue
        release="$(glibc_release_of "$name")"
        if [[ -z "$release" ]]; then
            unknown+=" $name"
        elif [[ -z "$newest" || "$(printf '%s\n%s\n' "$release" "$newest" | sort -V | tail -n 1)" == "$release" ]]; then
            newest="$release" newest_name="$name"
        fi
    done < <(glibc_needs "$binary")
    if [[ -n "$unknown" ]]; then
        # GLIBC_PRIVATE or a marker this script does not know: cannot vouch for 2.34.
        log "FAIL: $binary needs glibc versions of unknown release:$unknown"
        return 1
    fi
    if [[ -z "$newest" ]]; then
        log "glibc check: $binary needs no versioned glibc symbol (static or musl): OK"
        return 0
    fi
    if [[ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n 1)" != "$max" ]]; then
        log "FAIL: $binary needs $newest_name (glibc $newest), newer than $max"
        objdump -T "$binary" | grep "$newest_name" | head -n 20 >&2 || true
        return 1
    fi
    log "glibc check: $binary needs at most $newest_name (glibc $newest, limit $max): OK"
}

if [[ "${1:-}" == "--check-glibc" ]]; then
    check_glibc "${2:?usage: $0 --check-glibc BINARY [MAX_VERSION]}" "${3:-2.34}"
    exit $?
fi
function="${1:-}"
case "$function" in
    spot-handler) bootstrap_var=FACEREC_SPOT_HANDLER_BOOTSTRAP ;;
    backlog-scaler) bootstrap_var=FACEREC_BACKLOG_SCALER_BOOTSTRAP ;;
    *)
        echo "usage: $0 spot-handler|backlog-scaler [--no-verify] [OUTPUT_ZIP]" >&2
        echo "       $0 --check-glibc BINARY [MAX_VERSION]" >&2
        exit 2
        ;;
esac
shift
package="facerec-$function"
verify=1
if [[ "${1:-}" == "--no-verify" ]]; then
    verify=0
    shift
fi
out_zip="${1:-$target_dir/lambda/$function/bootstrap.zip}"
out_zip="$(realpath -m "$out_zip")"

cd "$repo"
# The worker and both Lambdas in one release build (their dependencies compile once);
# packaging the second function, or the worker's image, finds everything built.
release_dir="$(CARGO_TARGET_DIR="$target_dir" "$repo/scripts/build-release.sh")"
binary="$release_dir/$package"

# Each crate's binary has its own name (two `bootstrap` bins in one workspace would
# overwrite each other in the target dir); Lambda's provided runtime wants `bootstrap`.
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The release profile keeps line tables (for the engine's profiling); Lambda does not
# need them. Keep the symbols so panics still name their functions. 119 MB -> 20 MB.
strip --strip-debug -o "$stage/bootstrap" "$binary"
chmod 755 "$stage/bootstrap"
check_glibc "$stage/bootstrap" "$max_glibc"
if [[ "$verify" == 1 ]]; then
    log "verifying the packaged bootstrap: the crate's glibc and runtime_api tests, --ignored"
    # The test binaries as `make test` builds them (the whole workspace's feature set,
    # through clippy: scripts/cargo-clippy-build): a `cargo test -p $package`, or a plain
    # cargo, would compile our crates or the SDK again, minutes on a cold machine. After
    # `make test` this builds nothing; on its own it builds the workspace's tests once.
    tests="$(CARGO_TARGET_DIR="$target_dir" "$repo/scripts/cargo-clippy-build" test --workspace --locked --no-run \
        --message-format=json | python3 -c '
import json, sys
crate_dir = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    if (m.get("reason") == "compiler-artifact" and m.get("executable")
            and m["target"]["name"] in ("glibc", "runtime_api")
            and m["manifest_path"] == crate_dir + "/Cargo.toml"):
        print(m["executable"])
' "$repo/crates/$function")" || { log "FAIL: building the tests"; exit 1; }
    if [[ "$(wc -l <<<"$tests")" != 2 ]]; then
        log "FAIL: expected the glibc and runtime_api test binaries of $package, found: $tests"
        exit 1
    fi
    # The tests start moto themselves on loopback; no AWS is reached (static credentials,
    # no IMDS), as in `make test`.
    while read -r test_binary; do
        (cd "$repo/crates/$function" &&
            env "$bootstrap_var=$stage/bootstrap" CARGO_MANIFEST_DIR="$repo/crates/$function" \
                AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
                AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
                "$test_binary" --ignored) ||
            { log "FAIL: the packaged bootstrap did not pass $(basename "$test_binary") (--no-verify skips them)"; exit 1; }
    done <<<"$tests"
else
    log "--no-verify: the packaged bootstrap was only glibc-checked, not run"
fi
mkdir -p "$(dirname "$out_zip")"
rm -f "$out_zip"
# Python's zipfile rather than zip(1), which not every machine has; fixed timestamp and
# mode, so the same binary always gives the same zip. Lambda needs the 0755 mode bits.
python3 - "$stage/bootstrap" "$out_zip.tmp" <<'PY'
import sys, zipfile
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16
info.create_system = 3  # Unix, so the mode bits are honoured
info.compress_type = zipfile.ZIP_DEFLATED
with open(sys.argv[1], "rb") as src, zipfile.ZipFile(sys.argv[2], "w") as zf:
    zf.writestr(info, src.read(), compresslevel=9)
PY
mv "$out_zip.tmp" "$out_zip"
log "wrote $out_zip ($(stat -c %s "$out_zip") bytes; bootstrap $(stat -c %s "$stage/bootstrap") bytes)"
echo "$out_zip"
