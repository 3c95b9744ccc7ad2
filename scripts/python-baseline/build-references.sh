#!/usr/bin/env bash
# Build the Python baseline (face_recognition on the dlib-bin wheel) in a throw-away venv and
# write its outputs for testdata/faces into testdata/references/*.json. The Rust tests compare
# against these files, so they need no Python. Re-run only when the test photos change.
# Set FACEREC_BASELINE_VENV to reuse a venv (bench-engine.sh does); otherwise a temp one is removed.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/scripts/python-baseline"

venv="${FACEREC_BASELINE_VENV:-}"
if [ -z "$venv" ]; then
  venv="$(mktemp -d)/venv"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
fi
"$here/make-venv.sh" "$venv"
"$venv/bin/python" "$here/references.py" "$repo_root/testdata/faces" "$repo_root/testdata/references"
