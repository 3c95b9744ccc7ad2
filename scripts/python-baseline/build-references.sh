#!/usr/bin/env bash
# Build the Python baseline (face_recognition on the dlib-bin wheel) in a throw-away venv and
# write its outputs for the committed photos into testdata/references/. The Rust tests compare
# against these files, so they need no Python. Re-run only when the test photos change.
#
#   build-references.sh [all|photos|cli]
#     photos: chips.json, photos.json — dlib's boxes, landmarks, encodings (references.py)
#     cli:    cli.json — what face_recognition's and face_detection's CLIs print (cli_references.py)
#
# Set FACEREC_BASELINE_VENV to reuse a venv (bench-engine.sh does); otherwise a temp one is removed.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/scripts/python-baseline"
what="${1:-all}"
case "$what" in all|photos|cli) ;; *) echo "usage: $0 [all|photos|cli]" >&2; exit 2 ;; esac

venv="${FACEREC_BASELINE_VENV:-}"
if [ -z "$venv" ]; then
  venv="$(mktemp -d)/venv"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
fi
"$here/make-venv.sh" "$venv"
if [ "$what" != cli ]; then
  "$venv/bin/python" "$here/references.py" "$repo_root/testdata/faces" "$repo_root/testdata/references"
fi
if [ "$what" != photos ]; then
  "$venv/bin/python" "$here/cli_references.py" "$repo_root" "$repo_root/testdata/references/cli.json"
fi
