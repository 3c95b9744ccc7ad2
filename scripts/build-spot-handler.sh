#!/usr/bin/env bash
# Builds the Spot-interruption Lambda (crate facerec-spot-handler) as a `bootstrap` zip
# for the provided.al2023 runtime, x86_64, and checks it runs on AL2023's glibc 2.34.
#
# Usage: scripts/build-spot-handler.sh [OUTPUT_ZIP]
#   OUTPUT_ZIP defaults to $CARGO_TARGET_DIR/lambda/spot-handler/bootstrap.zip
#   (CARGO_TARGET_DIR defaults to <repo>/target).
#        scripts/build-spot-handler.sh --check-glibc BINARY [MAX_VERSION]
#   Only the check: exits 1 if BINARY is not x86-64 or needs a glibc symbol version
#   newer than MAX_VERSION (default 2.34). A static binary passes.
#
# How it builds (first that applies):
#   1. cargo-zigbuild for x86_64-unknown-linux-gnu.2.34: zig links against glibc 2.34
#      stubs, so the binary cannot pick up a newer symbol. cargo-zigbuild and ziglang
#      come from PyPI into $FACEREC_LAMBDA_TOOLS (default /var/tmp/facerec-fleet/lambda-tools);
#      set FACEREC_LAMBDA_BUILDER=cargo to skip this.
#   2. plain `cargo build --release` with the host toolchain. On a host with a newer
#      glibc this may produce a binary AL2023 cannot load; the check below catches it.
# Users with internet access can equally run `cargo lambda build --release -p
# facerec-spot-handler --bin bootstrap --output-format zip` (cargo-lambda also uses zig).
#
# Either way the script then refuses a binary that needs a glibc symbol newer than 2.34
# (or is not x86-64), and writes the zip with `bootstrap` at its root.
# arm64 is not built here: the machine's toolchain has no aarch64 standard library and
# rustup cannot download one offline.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out_zip="${1:-$target_dir/lambda/spot-handler/bootstrap.zip}"
tools="${FACEREC_LAMBDA_TOOLS:-/var/tmp/facerec-fleet/lambda-tools}"
builder="${FACEREC_LAMBDA_BUILDER:-zig}"
max_glibc="2.34"
triple="x86_64-unknown-linux-gnu"

log() { echo "build-spot-handler: $*" >&2; }

# Prints the newest GLIBC_x.y version BINARY requires (nothing if it needs none).
newest_glibc() {
    # The version-needs section lists every GLIBC_* version the dynamic linker must find.
    readelf --version-info --wide "$1" |
        grep -o 'Name: GLIBC_[0-9][0-9.]*' | sed 's/Name: GLIBC_//' | sort -V | tail -n 1
}

check_glibc() {
    local binary="$1" max="$2" newest
    [[ -f "$binary" ]] || { log "no such binary: $binary"; return 1; }
    if ! readelf --file-header "$binary" | grep -q 'Machine:.*X86-64'; then
        log "FAIL: $binary is not an x86-64 ELF"
        return 1
    fi
    newest="$(newest_glibc "$binary")"
    if [[ -z "$newest" ]]; then
        log "glibc check: $binary needs no versioned glibc symbol (static or musl): OK"
        return 0
    fi
    if [[ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n 1)" != "$max" ]]; then
        log "FAIL: $binary needs GLIBC_$newest, newer than $max; symbols:"
        objdump -T "$binary" | grep "GLIBC_$newest" | head -n 20 >&2 || true
        return 1
    fi
    log "glibc check: $binary needs at most GLIBC_$newest (limit $max): OK"
}

if [[ "${1:-}" == "--check-glibc" ]]; then
    check_glibc "${2:?usage: $0 --check-glibc BINARY [MAX_VERSION]}" "${3:-2.34}"
    exit $?
fi
out_zip="$(realpath -m "$out_zip")"

ensure_zig_tools() {
    if [[ -x "$tools/bin/cargo-zigbuild" && -x "$tools/bin/python-zig" ]]; then
        return 0
    fi
    log "installing cargo-zigbuild and ziglang into $tools"
    python3 -m venv "$tools" &&
        "$tools/bin/pip" install --quiet 'ziglang==0.15.1' 'cargo-zigbuild==0.24.0'
}

cd "$repo"
binary=""
if [[ "$builder" == "zig" ]] && ensure_zig_tools; then
    log "cargo zigbuild --target $triple.$max_glibc"
    # cargo-zigbuild finds zig through the `ziglang` module of the python on PATH.
    PATH="$tools/bin:$PATH" CARGO_TARGET_DIR="$target_dir" \
        cargo-zigbuild zigbuild --release -p facerec-spot-handler --bin bootstrap \
        --target "$triple.$max_glibc"
    binary="$target_dir/$triple/release/bootstrap"
else
    log "zig tools unavailable or disabled; building with the host toolchain"
    CARGO_TARGET_DIR="$target_dir" cargo build --release -p facerec-spot-handler --bin bootstrap
    binary="$target_dir/release/bootstrap"
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The release profile keeps line tables (for the engine's profiling); Lambda does not
# need them. Keep the symbols so panics still name their functions. 119 MB -> 20 MB.
strip --strip-debug -o "$stage/bootstrap" "$binary"
chmod 755 "$stage/bootstrap"
check_glibc "$stage/bootstrap" "$max_glibc"
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
