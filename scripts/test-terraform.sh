#!/usr/bin/env bash
# Terraform half of `make test`: fmt -check, validate, then three lanes side by side:
#   - terraform test (mocked provider), one process per test file, TF_TEST_JOBS (2) at a time;
#   - apply -> plan -> destroy against moto;
#   - the examples, static AWS rules, checkov.
# Each part's output is kept in a log and printed whole when the part ends, with its time;
# the script fails if any part failed (every part still runs).
#
# Why lanes: one after another these took about 8 minutes, the longest pole of `make
# test`, while the Rust suite beside them mostly waits on moto and timeouts. The test
# files are independent (each run plans in memory; nothing is written to terraform/), and
# the examples and the moto apply work in scratch copies. The moto apply has a lane of its
# own because most of its four minutes are the AWS provider's fixed waits (SQS attributes
# and S3 lifecycle rules settling), not CPU.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/terraform-env.sh
source "$repo/scripts/lib/terraform-env.sh"
facerec_tf_env "$repo"
command -v terraform >/dev/null || { echo "terraform is not installed (needs >= 1.10)" >&2; exit 1; }
cd "$repo/terraform"
mkdir -p "$repo/.tmp"
suite_start=$SECONDS

step() { echo; echo "=== terraform: $* (+$((SECONDS - suite_start)) s)"; }

step "fmt -check"
terraform fmt -check -recursive .

step "init (lock file read-only) and validate"
terraform init -backend=false -lockfile=readonly -input=false -no-color >/dev/null
terraform validate -no-color


logs=$(mktemp -d "${TMPDIR:-/tmp}/facerec-tf-logs.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/facerec-tf-examples.XXXXXX")
trap 'rm -rf "$scratch" "$logs"' EXIT

# part NAME COMMAND...: runs COMMAND with its output in a log, then prints the log whole
# under a header with the part's time; records a failure in $logs/failed. COMMAND runs as
# a background job so that `set -e` holds inside it (it would not on the left of `||`).
part() {
  local name=$1 started=$SECONDS rc=0 log
  shift
  log="$logs/${name//\//_}.log"
  (set -euo pipefail; "$@") >"$log" 2>&1 &
  wait $! || rc=$?
  {
    echo
    echo "=== terraform: $name: $([ $rc -eq 0 ] && echo passed || echo "FAILED ($rc)") in $((SECONDS - started)) s"
    cat "$log"
  } | flock "$logs/.print" cat
  [ $rc -eq 0 ] || echo "$name" >>"$logs/failed"
  return 0
}
export -f part
export logs

# terraform test, one file: exits non-zero unless every run passed.
unit_test_file() {
  local file=$1 log
  log=$(terraform test -no-color -filter="$file" 2>&1) || { echo "$log"; return 1; }
  grep -E '(\.\.\. (pass|fail))|Success!|Failure!' <<<"$log"
  grep -q '^Success!' <<<"$log"
}
export -f unit_test_file

# Longest first (by their runs' count), so the last file to start is a short one.
unit_tests() {
  local jobs=${TF_TEST_JOBS:-2}
  for f in tests/*.tftest.hcl; do echo "$(grep -c '^run ' "$f") $f"; done | sort -rn | cut -d' ' -f2 |
    xargs -P "$jobs" -I{} bash -c 'part "test {}" unit_test_file {}'
}

examples() {
  # remote-state/state-bucket.tf.example is its own small root module (local state).
  mkdir -p "$scratch/state-bucket"
  cp examples/remote-state/state-bucket.tf.example "$scratch/state-bucket/main.tf"
  (cd "$scratch/state-bucket" && terraform init -backend=false -input=false -no-color >/dev/null && terraform validate -no-color)
  # The root module as a user sets it up from the examples: backend.tf and terraform.tfvars
  # copied in, the Spot handler's and the backlog scaler's zips where the tfvars says
  # (fixtures stand in for them).
  mkdir -p "$scratch/repo/terraform"
  tar --exclude=.terraform --exclude='*.tfstate*' --exclude=terraform.tfvars -cf - . | tar -C "$scratch/repo/terraform" -xf -
  cp examples/remote-state/backend.tf.example "$scratch/repo/terraform/backend.tf"
  cp examples/complete/terraform.tfvars.example "$scratch/repo/terraform/terraform.tfvars"
  cp examples/complete/example.tftest.hcl "$scratch/repo/terraform/tests/example_complete.tftest.hcl"
  for fixture in spot-handler backlog-scaler; do
    variable="${fixture//-/_}_package_path"
    pkg=$(sed -n "s/^$variable *= *\"\(.*\)\"/\1/p" examples/complete/terraform.tfvars.example)
    case "$pkg" in /* | "") echo "examples/complete: $variable must be a path relative to terraform/ (got '$pkg')" >&2; exit 1 ;; esac
    mkdir -p "$(dirname "$scratch/repo/terraform/$pkg")"
    cp "tests/fixtures/$fixture.zip" "$scratch/repo/terraform/$pkg"
  done
  (
    cd "$scratch/repo/terraform"
    terraform init -backend=false -lockfile=readonly -input=false -no-color >/dev/null
    terraform validate -no-color
    terraform test -no-color -filter=tests/example_complete.tftest.hcl >"$scratch/example.log" 2>&1 || { cat "$scratch/example.log"; exit 1; }
    grep -E '^Success!' "$scratch/example.log"
  )

  # The use-case examples (examples/*/main.tf: default, alarms, without-spot-handler), each a
  # root module that calls terraform/ as a module: init -backend=false with the root's lock
  # file (the same provider), and validate. In a copy without backend.tf and terraform.tfvars
  # (the module they call is the root as checked in). Not planned with the mocked provider:
  # terraform/ configures its own provider, which `terraform test` does not mock.
  mkdir -p "$scratch/plain/terraform"
  tar --exclude=.terraform --exclude='*.tfstate*' --exclude=terraform.tfvars -cf - . | tar -C "$scratch/plain/terraform" -xf -
  examples=0
  for dir in "$scratch"/plain/terraform/examples/*/; do
    [ -f "$dir/main.tf" ] || continue
    name=$(basename "$dir")
    [ -f "$dir/README.md" ] || { echo "examples/$name has no README.md saying what it creates" >&2; exit 1; }
    cp .terraform.lock.hcl "$dir"
    (
      cd "$dir"
      terraform init -backend=false -lockfile=readonly -input=false -no-color >"$scratch/example-$name.log" 2>&1 &&
        terraform validate -no-color >>"$scratch/example-$name.log" 2>&1
    ) || { cat "$scratch/example-$name.log"; echo "examples/$name does not validate" >&2; exit 1; }
    echo "examples/$name: initialised and valid"
    examples=$((examples + 1))
  done
  [ "$examples" -ge 3 ] || { echo "expected the default, alarms and without-spot-handler examples, found $examples" >&2; exit 1; }
}

static_rules() {
  FACEREC_PYTHON="$repo/.venv/bin/python" tests/static_rules.sh
}

checkov_scan() {
  # --skip-download and BC_SKIP_MAPPING: checkov must not call its vendor's API.
  BC_SKIP_MAPPING=TRUE "$repo/.venv/bin/checkov" -d . --framework terraform --quiet --compact \
    --skip-download --skip-path tests/fixtures -o cli 2>&1 | grep -v -E 'prismacloud|NameResolution|MaxRetryError|guidelines' \
    | tee "$repo/.tmp/checkov.log"
  grep -q 'Failed checks: 0' "$repo/.tmp/checkov.log"
}

# The third lane: the scratch copies and static checks, one after another.
checks_lane() {
  part examples examples
  part "static AWS rules" static_rules
  part checkov checkov_scan
}

step "terraform test (mock provider, ${TF_TEST_JOBS:-2} files at a time) beside the moto apply, and the examples, static rules and checkov"
unit_tests &
unit_pid=$!
part "apply -> plan -> destroy against moto" tests/moto/apply.sh &
apply_pid=$!
checks_lane
wait "$unit_pid" "$apply_pid"

if [ -s "$logs/failed" ]; then
  echo; echo "=== terraform: FAILED: $(paste -sd, "$logs/failed")"
  exit 1
fi
echo; echo "=== terraform: all parts passed in $((SECONDS - suite_start)) s"
