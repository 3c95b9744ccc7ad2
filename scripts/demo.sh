#!/usr/bin/env bash
# `make demo`: the main job on this machine, no AWS account needed.
#
#   1. build the `facerec` CLI (dev profile: the engine and dependencies are optimised
#      even there — see the root Cargo.toml — and it builds much faster than --release);
#   2. enroll the known people of examples/demo/known into a gallery file;
#   3. `facerec run` the photos of examples/demo/photos through the durable embedded
#      queue and a local worker pool (the fleet worker's runtime and handler), results
#      to JSONL, then print the summary;
#   4. show the same answer in face_recognition's `path,name` format.
#
# The models must be fetched first (`make demo` runs scripts/fetch-models.sh).
# Outputs go to a fresh folder under ${TMPDIR:-/tmp}; pass a folder as $1 to keep them
# (re-running into the same folder resumes and adds nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p facerec-cli --locked
target_dir="${CARGO_TARGET_DIR:-target}"
facerec="$target_dir/debug/facerec"

out="${1:-$(mktemp -d "${TMPDIR:-/tmp}/facerec-demo.XXXXXX")}"
mkdir -p "$out"

echo "== facerec enroll examples/demo/known -o $out/gallery.json"
"$facerec" enroll examples/demo/known -o "$out/gallery.json"

echo
echo "== facerec run examples/demo/photos --gallery $out/gallery.json"
"$facerec" run examples/demo/photos --gallery "$out/gallery.json" \
    --out "$out/results.jsonl" --state "$out/run.sqlite"

echo
echo "== the same photos in face_recognition's format: facerec identify --gallery … examples/demo/photos"
"$facerec" identify --gallery "$out/gallery.json" examples/demo/photos

echo
echo "results: $out/results.jsonl   state (resume/inspect): $out/run.sqlite"
