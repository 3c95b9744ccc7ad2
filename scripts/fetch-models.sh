#!/usr/bin/env bash
# Fetch dlib's models (as face_recognition uses them) from the PyPI package
# face_recognition_models==0.3.0 into $FACEREC_MODELS (default: <repo>/models).
# Idempotent: files already present with the pinned checksum are kept and nothing is downloaded.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${FACEREC_MODELS:-$repo_root/models}"
mkdir -p "$dest"

# Pinned sha256 of the files inside face_recognition_models-0.3.0 (models/ folder of the sdist).
declare -A sums=(
  [dlib_face_recognition_resnet_model_v1.dat]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
  [shape_predictor_5_face_landmarks.dat]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
  [mmod_human_face_detector.dat]=4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6
)

valid() { # file expected-sum
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

missing=()
for f in "${!sums[@]}"; do
  valid "$dest/$f" "${sums[$f]}" || missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "fetch-models: all models present and verified in $dest"
  exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
else echo "fetch-models: need pip (python3 -m pip) to download face_recognition_models" >&2; exit 1; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-models: downloading face_recognition_models==0.3.0 (about 100 MB) for: ${missing[*]}"
"${pip_cmd[@]}" download --quiet --no-deps --no-binary :all: -d "$work" face_recognition_models==0.3.0
archive="$(ls "$work"/face_recognition_models-0.3.0*)"
case "$archive" in
  *.tar.gz) tar -xzf "$archive" -C "$work" ;;
  *.zip|*.whl) python3 -m zipfile -e "$archive" "$work" ;;
  *) echo "fetch-models: unexpected archive $archive" >&2; exit 1 ;;
esac

for f in "${missing[@]}"; do
  src="$(find "$work" -name "$f" -type f | head -n1)"
  if [ -z "$src" ]; then echo "fetch-models: $f not found in $archive" >&2; exit 1; fi
  if ! valid "$src" "${sums[$f]}"; then
    echo "fetch-models: checksum mismatch for $f (expected ${sums[$f]})" >&2; exit 1
  fi
  # Copy to a temp name then rename, so an interrupted run never leaves a truncated model.
  cp "$src" "$dest/$f.partial" && mv "$dest/$f.partial" "$dest/$f"
  echo "fetch-models: installed $dest/$f"
done
