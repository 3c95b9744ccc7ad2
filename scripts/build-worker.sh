#!/usr/bin/env bash
# Builds the facerec-worker runtime filesystem — exactly what the Dockerfile's build stage
# runs, so CI (which has no Docker engine) builds and checks the same thing natively.
#
# Usage: scripts/build-worker.sh [OUT_DIR]
#   OUT_DIR defaults to $CARGO_TARGET_DIR/worker-image (CARGO_TARGET_DIR defaults to
#   <repo>/target). Produces:
#     OUT_DIR/rootfs/usr/local/bin/facerec-worker      release binary
#     OUT_DIR/rootfs/opt/facerec/models/*              dlib models (checksummed)
#
# Then checks the result the way the container uses it, with no AWS and a read-only
# rootfs copy: --version runs, `health` fails before start, the worker loads the baked-in
# models, becomes ready on an embedded queue, passes `health`, and exits 0 on SIGTERM.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${1:-$target_dir/worker-image}"
rootfs="$out/rootfs"
log() { echo "build-worker: $*" >&2; }

log "cargo build --release -p facerec-worker"
(cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo build --release -p facerec-worker)

rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/opt/facerec/models"
install -m 0755 "$target_dir/release/facerec-worker" "$rootfs/usr/local/bin/facerec-worker"
# The release profile keeps line tables (for local profiling); the image does not need
# them. Symbols stay, so panic backtraces still name functions.
strip --strip-debug "$rootfs/usr/local/bin/facerec-worker"

# Models: reuse the repo's verified copies, fetching only what is missing.
FACEREC_MODELS="$repo/models" "$repo/scripts/fetch-models.sh" >&2
for f in dlib_face_recognition_resnet_model_v1.dat shape_predictor_5_face_landmarks.dat \
         hog_frontal_face_detector.svm; do
    install -m 0444 "$repo/models/$f" "$rootfs/opt/facerec/models/$f"
done

# ---- smoke check (no Docker: run the rootfs binary as the container would) ----
bin="$rootfs/usr/local/bin/facerec-worker"
"$bin" --version >&2
chmod -R a-w "$rootfs"           # read-only root: the worker must not write into it
trap 'chmod -R u+w "$rootfs"' EXIT
tmp="$(mktemp -d)"
export FACEREC_HEALTH_FILE="$tmp/alive"
if "$bin" health >/dev/null 2>&1; then
    log "FAIL: health passed before the worker started"; exit 1
fi
env -i PATH="$PATH" HOME="$tmp" \
    AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL=http://127.0.0.1:9 \
    FACEREC_MODELS="$rootfs/opt/facerec/models" FACEREC_HEALTH_FILE="$tmp/alive" \
    FACEREC_EMBEDDED_QUEUE="$tmp/queue.db" FACEREC_WAIT_TIME=1 \
    "$bin" run >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
for _ in $(seq 1 100); do
    grep -q '"worker ready' "$tmp/stderr" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q '"worker ready' "$tmp/stderr"; then
    log "FAIL: worker did not become ready"; cat "$tmp/stderr" >&2; kill "$pid" || true; exit 1
fi
FACEREC_HEALTH_FILE="$tmp/alive" "$bin" health >&2
kill -TERM "$pid"
wait "$pid"
ready_ms="$(grep -o '"start_to_ready_ms":[0-9.]*' "$tmp/stderr" | cut -d: -f2)"
rm -rf "$tmp"
log "OK: $rootfs ($(du -sh "$rootfs" | cut -f1)), start-to-ready ${ready_ms} ms"
