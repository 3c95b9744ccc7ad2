#!/usr/bin/env bash
# Builds the three deployables — facerec-worker and both Lambdas (facerec-spot-handler,
# facerec-backlog-scaler) — in ONE release cargo invocation, and prints the directory that
# holds their binaries.
#
# Usage: scripts/build-release.sh
#   Called by scripts/build-worker.sh and scripts/build-lambda.sh; the first of them to run
#   compiles, the others find everything built.
#
# Why one invocation: the three share most of their dependencies (the AWS SDK with its
# HTTP/TLS stack, tokio, serde). Built separately they compiled twice — once natively for
# the worker, once for glibc 2.34 for the Lambdas — which cost a cold CI about 10 minutes.
# In one invocation cargo resolves one feature set and compiles each dependency once.
#
# How it builds (first that applies):
#   1. cargo-zigbuild for x86_64-unknown-linux-gnu.2.34: zig links against glibc 2.34
#      stubs, so no binary can pick up a newer symbol. Lambda's provided.al2023 runtime has
#      glibc 2.34; the worker's image (distroless Debian 12) has 2.36, so it runs there too.
#      cargo-zigbuild and ziglang come from PyPI into $FACEREC_LAMBDA_TOOLS (default
#      /var/tmp/facerec-fleet/lambda-tools). FACEREC_RELEASE_BUILDER=cargo skips this.
#   2. plain `cargo build --release` with the host toolchain (binaries in
#      $CARGO_TARGET_DIR/release). On a host with a newer glibc than 2.34 the Lambdas may
#      not load on AL2023; build-lambda.sh's glibc check refuses them.
# The old name FACEREC_LAMBDA_BUILDER is still read.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
tools="${FACEREC_LAMBDA_TOOLS:-/var/tmp/facerec-fleet/lambda-tools}"
builder="${FACEREC_RELEASE_BUILDER:-${FACEREC_LAMBDA_BUILDER:-zig}}"
triple="x86_64-unknown-linux-gnu"
glibc="2.34"

log() { echo "build-release: $*" >&2; }

ensure_zig_tools() {
    if [[ -x "$tools/bin/cargo-zigbuild" && -x "$tools/bin/python-zig" ]]; then
        return 0
    fi
    log "installing cargo-zigbuild and ziglang into $tools"
    python3 -m venv "$tools" &&
        "$tools/bin/pip" install --quiet 'ziglang==0.15.1' 'cargo-zigbuild==0.24.0'
}

deployables=(
    -p facerec-worker --bin facerec-worker
    -p facerec-spot-handler --bin facerec-spot-handler
    -p facerec-backlog-scaler --bin facerec-backlog-scaler
)

cd "$repo"
if [[ "$builder" == "zig" ]] && ensure_zig_tools; then
    log "cargo zigbuild --release for $triple.$glibc: worker, spot-handler, backlog-scaler"
    # cargo-zigbuild finds zig through the `ziglang` module of the python on PATH.
    PATH="$tools/bin:$PATH" CARGO_TARGET_DIR="$target_dir" \
        cargo-zigbuild zigbuild --release --locked "${deployables[@]}" --target "$triple.$glibc" >&2
    echo "$target_dir/$triple/release"
else
    log "zig tools unavailable or disabled; cargo build --release with the host toolchain"
    CARGO_TARGET_DIR="$target_dir" cargo build --release --locked "${deployables[@]}" >&2
    echo "$target_dir/release"
fi
