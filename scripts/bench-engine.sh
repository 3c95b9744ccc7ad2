#!/usr/bin/env bash
# Side-by-side benchmark: face_recognition (pip's dlib-bin wheel) vs facerec-engine on the
# same photos and the same cores. Prints one JSON line per run; docs/benchmarks.md ("Engine")
# records the results. Usage: scripts/bench-engine.sh [PHOTO_DIR_OR_FILE...]
# (default: the committed photos in testdata/faces, without the pre-aligned dlib/johns chips).
# Env: FACEREC_BASELINE_VENV reuses a venv (else a temporary one is built and removed);
#      CARGO_TARGET_DIR as usual.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
faces="$repo_root/testdata/faces"
if [ $# -eq 0 ]; then
  set -- "$faces/fr" "$faces/dlib/faces" "$faces/skimage"
fi

venv="${FACEREC_BASELINE_VENV:-}"
if [ -z "$venv" ]; then
  venv="$(mktemp -d)/venv"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
fi
scripts/python-baseline/make-venv.sh "$venv"
bash scripts/fetch-models.sh >/dev/null

cargo build --release -q -p facerec-engine --example bench
bench="${CARGO_TARGET_DIR:-$repo_root/target}/release/examples/bench"

echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# face_recognition, 1 process (detection, embedding, end to end):"
"$venv/bin/python" scripts/python-baseline/bench.py "$@"
echo "# face_recognition, 2 processes (end to end only):"
"$venv/bin/python" scripts/python-baseline/bench.py --e2e-only --processes 2 "$@"
echo "# facerec-engine, 1 thread:"
RAYON_NUM_THREADS=1 "$bench" "$@"
echo "# facerec-engine, 2 threads:"
RAYON_NUM_THREADS=2 "$bench" "$@"
echo "# facerec-engine, 2 threads, end to end only (RSS without the benchmark's image cache):"
RAYON_NUM_THREADS=2 "$bench" --e2e-only "$@"
echo "# facerec-engine, RetinaFace (the accurate detector), 2 threads:"
RAYON_NUM_THREADS=2 "$bench" --retinaface "$@"
