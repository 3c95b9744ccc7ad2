#!/usr/bin/env python3
"""Export the IAM policies of the applied stack, as Terraform rendered them, for the IAM proof.

Reads `terraform show -json` of the applied state (against moto) and writes one JSON file:

  {"account", "region", "partition",
   "roles": {NAME: {"role_name", "policies": [inline policy documents, parsed],
                    "managed_policy_arns": [...]}},
   "resources": {the ARNs and names the policies are about}}

Roles are found by their Terraform resource address (module.iam.aws_iam_role.task,
module.spot_handler[0].module.function.aws_iam_role.this, ...),
not by name, so a renamed role cannot slip through; a managed policy still attached to a
role is listed, so a leftover attachment is visible. "producer" is the root output
producer_policy_json (no role: the producers attach it themselves).

Usage: export_policies.py SHOW_JSON TFVARS_JSON OUT_JSON
  TFVARS_JSON: the variables the stack was applied with (input and result prefixes and
  the queue key are variables, which the state does not hold).
"""
import json
import sys

ROLES = {
    "task": "module.iam.aws_iam_role.task",
    "task_execution": "module.iam.aws_iam_role.task_execution",
    "instance": "module.iam.aws_iam_role.instance",
    # The Lambda roles are beside their functions (modules/lambda).
    "spot_handler": "module.spot_handler[0].module.function.aws_iam_role.this",
    "backlog_scaler": "module.backlog_scaler[0].module.function.aws_iam_role.this",
    "backlog_scaler_schedule": "module.iam.aws_iam_role.backlog_scaler_schedule[0]",
}


def all_resources(module: dict):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from all_resources(child)


def main() -> int:
    show_path, tfvars_path, out_path = sys.argv[1:4]
    show = json.load(open(show_path))
    tfvars = json.load(open(tfvars_path))
    values = show["values"]
    outputs = {k: v["value"] for k, v in values.get("outputs", {}).items()}
    by_address = {r["address"]: r for r in all_resources(values["root_module"])}

    def one(address: str) -> dict:
        if address not in by_address:
            sys.exit(f"export_policies: {address} is not in the applied state")
        return by_address[address]["values"]

    def of_type(rtype: str):
        return [r["values"] for r in by_address.values() if r["type"] == rtype and r["mode"] == "managed"]

    inline = of_type("aws_iam_role_policy")
    attachments = of_type("aws_iam_role_policy_attachment")

    roles = {}
    for key, address in ROLES.items():
        role = one(address)
        name = role["name"]
        docs = {p["name"]: json.loads(p["policy"]) for p in inline if p["role"] == name}
        # The role's own view of its inline policies (the provider reads them all): one
        # created outside aws_iam_role_policy shows here.
        for p in role.get("inline_policy") or []:
            if p.get("name") and p.get("policy") and p["name"] not in docs:
                docs[p["name"]] = json.loads(p["policy"])
        managed = sorted({a["policy_arn"] for a in attachments if a["role"] == name} | set(role.get("managed_policy_arns") or []))
        roles[key] = {"role_name": name, "policies": [docs[n] for n in sorted(docs)], "managed_policy_arns": managed}
    roles["producer"] = {"role_name": None, "policies": [json.loads(outputs["producer_policy_json"])], "managed_policy_arns": []}

    identity = one("module.iam.data.aws_caller_identity.current")
    region = one("module.iam.data.aws_region.current")
    partition = one("module.iam.data.aws_partition.current")
    service = one("module.ecs.aws_ecs_service.worker")

    # The Spot handler's event source queues (Lambda polls them with its role) and the
    # worker's repository (the agent pulls from it), for tools/iam/cited.py.
    queue_arn_by_url = {q["url"]: q["arn"] for q in of_type("aws_sqs_queue")}
    repositories = [r["values"]["arn"] for r in by_address.values() if r["type"] == "aws_ecr_repository"]

    export = {
        "account": identity["account_id"],
        "region": region["name"],
        "partition": partition["partition"],
        "roles": roles,
        "resources": {
            "jobs_queue_arn": outputs["jobs_queue_arn"],
            "dlq_arn": outputs["dlq_arn"],
            "results_queue_arn": outputs.get("results_queue_arn"),
            "cluster_arn": outputs["cluster_arn"],
            "cluster_name": outputs["cluster_name"],
            # The provider's id of an ECS service is its ARN.
            "service_arn": service["id"],
            "service_name": outputs["service_name"],
            "asg_name": outputs["asg_name"],
            "asg_arn": outputs["asg_arn"],
            "state_parameter_name": outputs.get("backlog_scaler_state_parameter_name"),
            "input_s3_prefixes": tfvars.get("input_s3_prefixes", []),
            "result_s3_prefix": tfvars.get("result_s3_prefix"),
            "worker_log_group_name": outputs["worker_log_group_name"],
            "spot_handler_function_name": outputs.get("spot_handler_function_name"),
            "backlog_scaler_function_name": outputs.get("backlog_scaler_function_name"),
            "sqs_kms_key_arn": tfvars.get("sqs_kms_key_arn"),
            "spot_events_queue_arn": queue_arn_by_url.get(outputs.get("spot_events_queue_url")),
            "lifecycle_events_queue_arn": queue_arn_by_url.get(outputs.get("lifecycle_events_queue_url")),
            "ecr_repository_arn": repositories[0] if repositories else None,
        },
    }
    with open(out_path, "w") as f:
        json.dump(export, f, indent=2, sort_keys=False)
        f.write("\n")
    print(f"    {len(roles)} roles, {sum(len(r['policies']) for r in roles.values())} inline policies -> {out_path}")
    leftovers = {k: r["managed_policy_arns"] for k, r in roles.items() if r["managed_policy_arns"]}
    if leftovers:
        print(f"    managed policies attached: {leftovers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
