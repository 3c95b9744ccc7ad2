#!/usr/bin/env bash
# apply -> plan (must be empty) -> destroy of the root module against moto.
#
# Starts its own moto (tools/moto/launch.py) on a free loopback port unless MOTO_ENDPOINT
# is set, seeds what the plan assumes exists (VPC, subnets, security group, ECR image),
# then runs terraform in a scratch copy of terraform/ so the working tree stays clean.
# Also checks that every resource type the plan asks for was really created in moto, and
# (tests/moto/check_wiring.py) that the wiring works as applied: events put on the bus
# land where they should, and what the tests assert on the configuration holds in the API.
# The stack is applied in the default scaling mode (backlog_scaler).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=../../../scripts/lib/terraform-env.sh
source "$repo/scripts/lib/terraform-env.sh"
facerec_tf_env "$repo"

work=$(mktemp -d "${TMPDIR:-/tmp}/facerec-tf-moto.XXXXXX")
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${MOTO_ENDPOINT:-}" ]; then
  "$repo/.venv/bin/python" "$repo/tools/moto/launch.py" --port 0 --port-file "$work/moto.port" \
    >"$work/moto.log" 2>&1 &
  moto_pid=$!
  # Up to 60 s: importing moto takes seconds, and on a loaded 2-core machine (the Rust
  # suite and the other terraform lane beside it) more than ten.
  for _ in $(seq 600); do [ -s "$work/moto.port" ] && break; sleep 0.1; done
  [ -s "$work/moto.port" ] || { cat "$work/moto.log"; echo "moto did not start" >&2; exit 1; }
  MOTO_ENDPOINT="http://127.0.0.1:$(cat "$work/moto.port")"
fi

# Static test credentials, a region, an endpoint, and no instance metadata probing.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
# Fail fast on an emulator gap instead of retrying for minutes.
export AWS_MAX_ATTEMPTS=2
unset AWS_PROFILE

# A fixture Lambda package for both functions (the real ones: scripts/build-lambda.sh).
mkdir -p "$work/pkg"
printf '#!/bin/sh\necho fixture\n' >"$work/pkg/bootstrap"
chmod +x "$work/pkg/bootstrap"
(cd "$work/pkg" && "$repo/.venv/bin/python" -c "import zipfile; z=zipfile.ZipFile('../bootstrap.zip','w'); z.write('bootstrap'); z.close()")

"$repo/.venv/bin/python" "$repo/terraform/tests/moto/seed.py" "$MOTO_ENDPOINT" "$work/moto.tfvars.json" "$work/bootstrap.zip" >/dev/null

mkdir -p "$work/tf"
(cd "$repo/terraform" && tar --exclude=.terraform --exclude='*.tfstate*' -cf - .) | tar -C "$work/tf" -xf -
cd "$work/tf"

tf() { terraform "$@" -no-color; }
tf init -backend=false -lockfile=readonly -input=false >/dev/null
echo "--- terraform apply (moto at $MOTO_ENDPOINT)"
start=$(date +%s)
tf apply -auto-approve -input=false -var-file="$work/moto.tfvars.json" >"$work/apply.log" 2>&1 || { tail -60 "$work/apply.log"; exit 1; }
grep -E '^Apply complete' "$work/apply.log"
echo "    apply took $(( $(date +%s) - start )) s"

echo "--- wiring as the APIs hold it (events routed, hook, concurrency, timings, tags, policy)"
tf output -json >"$work/outputs.json"
"$repo/.venv/bin/python" "$repo/terraform/tests/moto/check_wiring.py" "$MOTO_ENDPOINT" "$work/outputs.json" "$work/moto.tfvars.json"

echo "--- IAM policies as rendered (for the IAM proof): .tmp/iam/rendered-policies.json"
mkdir -p "$repo/.tmp/iam"
tf show -json >"$work/show.json"
"$repo/.venv/bin/python" "$repo/terraform/tests/moto/export_policies.py" "$work/show.json" "$work/moto.tfvars.json" \
  "$repo/.tmp/iam/rendered-policies.json"

echo "--- every metric of the dashboard and the alarms is one the code or AWS emits"
"$repo/.venv/bin/python" "$repo/terraform/tests/metrics/check_metrics.py" "$repo" "$work/show.json"
"$repo/.venv/bin/python" "$repo/terraform/tests/metrics/check_metrics.py" "$repo" "$work/show.json" --mutations
mkdir -p "$repo/.tmp"
"$repo/.venv/bin/python" - "$work/show.json" "$repo/.tmp/dashboard-body.json" <<'PY'
import json, sys
def rs(m):
    yield from m.get("resources", [])
    for c in m.get("child_modules", []):
        yield from rs(c)
d = [r for r in rs(json.load(open(sys.argv[1]))["values"]["root_module"]) if r["type"] == "aws_cloudwatch_dashboard"]
open(sys.argv[2], "w").write(json.dumps(json.loads(d[0]["values"]["dashboard_body"]), indent=1))
PY

echo "--- the dashboard and the result lifecycle as the APIs hold them"
"$repo/.venv/bin/python" - "$MOTO_ENDPOINT" "$work/outputs.json" "$repo/.tmp/dashboard-body.json" <<'PY'
import json, sys
import boto3
endpoint, outputs, body_file = sys.argv[1:4]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
name = json.load(open(outputs))["dashboard_url"]["value"].rsplit("/", 1)[1]
got = json.loads(boto3.client("cloudwatch", **kw).get_dashboard(DashboardName=name)["DashboardBody"])
assert got == json.load(open(body_file)), "GetDashboard returns another body than Terraform rendered"
print(f"    ok   GetDashboard {name}: {len(got['widgets'])} widgets, the body Terraform rendered")
rules = boto3.client("s3", **kw).get_bucket_lifecycle_configuration(Bucket="facerec-results")["Rules"]
expire = [r for r in rules if r.get("Expiration")]
assert len(expire) == 1 and expire[0]["Expiration"]["Days"] == 30 and expire[0]["Filter"] == {"Prefix": "v1/"}, rules
print(f"    ok   results under v1/ expire after {expire[0]['Expiration']['Days']} days ({len(rules)} lifecycle rules)")
PY

echo "--- terraform plan (must show no changes)"
set +e
tf plan -detailed-exitcode -input=false -var-file="$work/moto.tfvars.json" >"$work/plan.log" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
  grep -E '^\s+[~+-] |will be|must be|Error' "$work/plan.log" | head -60
  echo "plan after apply is not empty (exit $rc): drift" >&2
  exit 1
fi
echo "    no changes"

echo "--- created resources"
tf state list >"$work/state.txt"
python3 - "$work/state.txt" <<'PY'
import re, sys
state = open(sys.argv[1]).read().split()
types = {re.sub(r"\[.*?\]", "", s).split(".")[-2] for s in state if ".data." not in s and not s.startswith("data.")}
# Every resource group of the plan (and of docs/design.md) must exist after apply, in
# the default scaling mode (backlog_scaler): the scaler's resources and its backstop (one
# scalable target, one step policy on the service and one on the group) instead of the
# alarms mode's target tracking and wake/sleep policies (planned in tests/fleet.tftest.hcl).
required = """aws_ecs_cluster aws_ecs_capacity_provider aws_ecs_cluster_capacity_providers
aws_ecs_task_definition aws_ecs_service aws_launch_template aws_autoscaling_group
aws_cloudwatch_metric_alarm
aws_sqs_queue aws_sqs_queue_policy aws_sqs_queue_redrive_allow_policy aws_iam_role
aws_iam_role_policy aws_iam_instance_profile
aws_cloudwatch_log_group aws_lambda_function aws_lambda_event_source_mapping
aws_cloudwatch_event_rule aws_cloudwatch_event_target aws_autoscaling_lifecycle_hook
aws_sns_topic aws_scheduler_schedule aws_ssm_parameter
aws_lambda_function_event_invoke_config aws_cloudwatch_dashboard aws_s3_bucket_lifecycle_configuration
aws_appautoscaling_target aws_appautoscaling_policy aws_autoscaling_policy""".split()
# No managed policy attachment: every role's policy is inline and scoped (modules/iam).
absent = "aws_iam_role_policy_attachment".split()
missing = [t for t in required if t not in types]
present = [t for t in absent if t in types]
print(f"    {len(state)} objects in state, {len(types)} resource types")
if missing:
    sys.exit(f"missing resource types after apply: {missing}")
if present:
    sys.exit(f"resource types that must not exist in the default mode: {present}")
PY

echo "--- the use-case examples (examples/*/main.tf) plan what their READMEs say"
# Each is a root module calling terraform/ as a module; planned here, against the same
# seeded network (moto.tfvars.json; the variables an example does not declare are only
# warned about), without touching the applied stack.
example_plans=()
for dir in "$work"/tf/examples/*/; do
  [ -f "$dir/main.tf" ] || continue
  name=$(basename "$dir")
  cp "$work/tf/.terraform.lock.hcl" "$dir"
  (
    cd "$dir"
    tf init -backend=false -lockfile=readonly -input=false >/dev/null
    tf plan -input=false -var-file="$work/moto.tfvars.json" -out="$work/example-$name.tfplan" >"$work/example-$name.log" 2>&1 || { tail -40 "$work/example-$name.log"; exit 1; }
    tf show -json "$work/example-$name.tfplan" >"$work/example-$name.json"
  )
  example_plans+=("$name=$work/example-$name.json")
done
"$repo/.venv/bin/python" "$repo/terraform/tests/moto/check_examples.py" "${example_plans[@]}"

echo "--- terraform destroy"
tf destroy -auto-approve -input=false -var-file="$work/moto.tfvars.json" >"$work/destroy.log" 2>&1 || { tail -40 "$work/destroy.log"; exit 1; }
grep -E '^Destroy complete' "$work/destroy.log"
