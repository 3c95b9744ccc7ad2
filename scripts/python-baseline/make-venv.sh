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
# Pinned to what testdata/references/*.json record: Pillow's resampling (pass order) and
# numpy's summation are part of the outputs.
"$venv/bin/pip" install --quiet dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 \
  numpy==2.4.6 pillow==13.0.0 click==8.5.1
"$venv/bin/pip" install --quiet --no-deps face_recognition==1.3.0
