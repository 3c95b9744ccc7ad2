#!/usr/bin/env bash
# Create (or reuse) a venv holding face_recognition exactly as `pip install` gives it:
# the dlib-bin wheel (no compiler needed), the models package, then face_recognition without
# its deps (its declared `dlib` dep would try to compile dlib from source) and the rest of
# those deps (click, for its command-line programs).
set -euo pipefail
venv="$1"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import face_recognition, click" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet dlib-bin face-recognition-models numpy pillow click
"$venv/bin/pip" install --quiet --no-deps face_recognition
