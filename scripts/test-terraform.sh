#!/usr/bin/env bash
# Terraform half of `make test`: fmt -check, validate, terraform test (mocked provider),
# the examples, static AWS rules, apply -> plan (no changes) -> destroy against moto,
# checkov.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/terraform-env.sh
source "$repo/scripts/lib/terraform-env.sh"
facerec_tf_env "$repo"
command -v terraform >/dev/null || { echo "terraform is not installed (needs >= 1.10)" >&2; exit 1; }
cd "$repo/terraform"

step() { echo; echo "=== terraform: $*"; }

step "fmt -check"
terraform fmt -check -recursive .

step "init (lock file read-only) and validate"
terraform init -backend=false -lockfile=readonly -input=false -no-color >/dev/null
terraform validate -no-color

step "test (mock provider)"
terraform test -no-color | tee "$repo/.tmp/terraform-test.log" | grep -E '(\.\.\. (pass|fail))|Success!|Failure!'
grep -q '^Success!' "$repo/.tmp/terraform-test.log"

step "examples (init -backend=false, validate; the complete example's tfvars through a mocked plan; each use-case example validated)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/facerec-tf-examples.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
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

step "static AWS rules"
FACEREC_PYTHON="$repo/.venv/bin/python" tests/static_rules.sh

step "apply -> plan -> destroy against moto"
tests/moto/apply.sh

step "checkov"
# --skip-download and BC_SKIP_MAPPING: checkov must not call its vendor's API.
BC_SKIP_MAPPING=TRUE "$repo/.venv/bin/checkov" -d . --framework terraform --quiet --compact \
  --skip-download --skip-path tests/fixtures -o cli 2>&1 | grep -v -E 'prismacloud|NameResolution|MaxRetryError|guidelines' \
  | tee "$repo/.tmp/checkov.log"
grep -q 'Failed checks: 0' "$repo/.tmp/checkov.log"
