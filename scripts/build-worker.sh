#!/usr/bin/env bash
# Builds the facerec-worker runtime filesystem — exactly what the Dockerfile's build stage
# runs, so CI (which has no Docker engine) builds and checks the same thing natively.
#
# Usage: scripts/build-worker.sh [OUT_DIR]
#   OUT_DIR defaults to $CARGO_TARGET_DIR/worker-image (CARGO_TARGET_DIR defaults to
#   <repo>/target). Produces:
#     OUT_DIR/rootfs/usr/local/bin/facerec-worker      release binary (scripts/build-release.sh)
#     OUT_DIR/rootfs/opt/facerec/models/*              dlib models + RetinaFace (checksummed)
#
# Then checks the result the way the container uses it, with no AWS and a read-only
# rootfs: --version runs, `health` fails before start, the worker loads the baked-in
# models, becomes ready on an embedded queue, passes `health`, and exits 0 on SIGTERM
# within its stop timeout. Any failure exits non-zero with a "build-worker: FAIL" line.
#
# Fast on a warm target dir (CI keeps CARGO_TARGET_DIR between runs): cargo rebuilds only
# what changed (--locked: exactly Cargo.lock's versions, never a resolution), models are
# only checksummed when present, and the smoke check takes about a second.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${1:-$target_dir/worker-image}"
rootfs="$out/rootfs"
log() { echo "build-worker: $*" >&2; }

fail() { log "FAIL: $*"; exit 1; }

# The worker is built with both Lambdas in one release invocation (scripts/build-release.sh
# says why): zig-linked for glibc 2.34, or with the host toolchain without zig.
release_dir="$(CARGO_TARGET_DIR="$target_dir" "$repo/scripts/build-release.sh")" \
    || fail "cargo build"
# The image's base (distroless Debian 12) has glibc 2.36: refuse a binary that needs more
# (the zig build needs at most 2.34; a host build on a newer distribution might not).
"$repo/scripts/build-lambda.sh" --check-glibc "$release_dir/facerec-worker" 2.36 \
    || fail "glibc check"

rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/opt/facerec/models"
install -m 0755 "$release_dir/facerec-worker" "$rootfs/usr/local/bin/facerec-worker"
# The release profile keeps line tables (for local profiling); the image does not need
# them. Symbols stay, so panic backtraces still name functions.
strip --strip-debug "$rootfs/usr/local/bin/facerec-worker"

# Models: reuse the repo's verified copies, fetching only what is missing.
FACEREC_MODELS="$repo/models" "$repo/scripts/fetch-models.sh" >&2 || fail "fetching models"
for f in dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat \
         hog_frontal_face_detector.svm retinaface_mnet025.onnx; do
    install -m 0444 "$repo/models/$f" "$rootfs/opt/facerec/models/$f" || fail "model $f missing"
done

# ---- smoke check (no Docker: run the rootfs binary as the container would) ----
bin="$rootfs/usr/local/bin/facerec-worker"
"$bin" --version >&2 || fail "--version"
chmod -R a-w "$rootfs"           # read-only root: the worker must not write into it
tmp="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    chmod -R u+w "$rootfs" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
export FACEREC_HEALTH_FILE="$tmp/alive"
if "$bin" health >/dev/null 2>&1; then
    fail "health passed before the worker started"
fi
env -i PATH="$PATH" HOME="$tmp" \
    AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL=http://127.0.0.1:9 \
    FACEREC_MODELS="$rootfs/opt/facerec/models" FACEREC_HEALTH_FILE="$tmp/alive" \
    FACEREC_EMBEDDED_QUEUE="$tmp/queue.db" FACEREC_WAIT_TIME=1 \
    FACEREC_STOP_TIMEOUT=5 FACEREC_STOP_MARGIN=1 \
    "$bin" run >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
for _ in $(seq 1 100); do
    grep -q '"worker ready' "$tmp/stderr" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q '"worker ready' "$tmp/stderr"; then
    cat "$tmp/stderr" >&2
    fail "worker did not become ready"
fi
FACEREC_HEALTH_FILE="$tmp/alive" "$bin" health >&2 || fail "health check of a running worker"
kill -TERM "$pid"
# Exit 0 within the stop timeout (5 s), or fail.
for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    fail "worker still running 6 s after SIGTERM"
fi
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { cat "$tmp/stderr" >&2; fail "worker exited with status $status on SIGTERM"; }
ready_ms="$(grep -o '"start_to_ready_ms":[0-9.]*' "$tmp/stderr" | cut -d: -f2)"
log "OK: $rootfs ($(du -sh "$rootfs" | cut -f1)), start-to-ready ${ready_ms} ms"
