#!/usr/bin/env bash
# `make demo`: the main job on this machine, no AWS account needed.
#
#   1. build the `facerec` CLI for the local path: without the fleet commands (no AWS
#      SDK) and without RetinaFace (no tract), which together are most of a cold build;
#      dev profile, in which the data path (engine, job, CLI, dependencies) is optimised
#      anyway (the root Cargo.toml);
#   2. enroll the known people of examples/demo/known into a gallery file;
#   3. `facerec run` the photos of examples/demo/photos through the durable embedded
#      queue and a local worker pool (the fleet worker's runtime and handler), results
#      to JSONL, then print the summary;
#   4. show the same answer in face_recognition's `path,name` format;
#   5. check both against examples/demo/expected.csv: exit 1 (with a diff) if a name is
#      wrong or missing, so CI can run it.
#
# The models must be fetched first (`make demo` runs scripts/fetch-models.sh).
# Outputs go to a fresh folder under ${TMPDIR:-/tmp}; pass a folder as $1 to keep them
# (re-running into the same folder resumes and adds nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p facerec-cli --locked --no-default-features
target_dir="${CARGO_TARGET_DIR:-target}"
facerec="$target_dir/debug/facerec"

out="${1:-$(mktemp -d "${TMPDIR:-/tmp}/facerec-demo.XXXXXX")}"
mkdir -p "$out"

echo "== facerec enroll examples/demo/known -o $out/gallery.json"
"$facerec" enroll examples/demo/known -o "$out/gallery.json"

echo
echo "== facerec run examples/demo/photos --gallery $out/gallery.json"
"$facerec" run examples/demo/photos --gallery "$out/gallery.json" \
    --out "$out/results.jsonl" --state "$out/run.sqlite"

echo
echo "== the same photos in face_recognition's format: facerec identify --gallery … examples/demo/photos"
"$facerec" identify --gallery "$out/gallery.json" examples/demo/photos | tee "$out/identify.csv"

echo
echo "results: $out/results.jsonl   state (resume/inspect): $out/run.sqlite"
echo "the demo's facerec: $facerec (local commands, HOG detector; \`make install\` puts the full facerec on your PATH)"

# `photo,name` per face, sorted, from each command's output.
expected="$(grep -v '^#' examples/demo/expected.csv | LC_ALL=C sort)"
from_identify="$(sed 's|^.*/||' "$out/identify.csv" | LC_ALL=C sort)"
from_run="$(python3 - "$out/results.jsonl" <<'EOF'
import json, os, sys
for line in open(sys.argv[1]):
    doc = json.loads(line)
    photo = os.path.basename(doc["image"])
    if "error" in doc:
        print(f"{photo},error:{doc['error']['code']}")
    elif not doc["faces"]:
        print(f"{photo},no_persons_found")
    for face in doc.get("faces", []):
        print(f"{photo},{(face.get('best_match') or {}).get('label', 'unknown_person')}")
EOF
)"
from_run="$(LC_ALL=C sort <<<"$from_run")"

status=0
for check in run identify; do
  got_var="from_$check"
  if [ "${!got_var}" = "$expected" ]; then
    echo "demo: facerec $check found what examples/demo/expected.csv says"
  else
    echo "demo: FAILED: facerec $check did not find what examples/demo/expected.csv says:" >&2
    diff <(echo "$expected") <(echo "${!got_var}") | sed 's/^/  /' >&2 || true
    status=1
  fi
done
exit "$status"
