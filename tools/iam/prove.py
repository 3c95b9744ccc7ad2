#!/usr/bin/env python3
"""The IAM proof: every AWS call our components make is allowed by the policies Terraform
renders, and every grant is needed by a call.

Inputs, both produced by `make test`:
* the requests moto served while the Rust suite ran (FACEREC_AWS_CALL_LOG, written by
  tools/moto/recorder.py), each attributed to a component by the `app/<name>` its SDK
  puts in the user agent (crates set it where they build their clients); requests with
  no app name are the tests' own set-up and assertions, and are not judged;
* the roles' policies as Terraform rendered them in the apply against moto, and the
  deployed resources (terraform/tests/moto/export_policies.py).

For each role it fails on
1. a recorded call that moto answered with success but IAM would deny: the action, the
   resource AWS authorises that call against given its parameters, and its condition keys
   (tools/iam/authorization.py) evaluated by tools/iam/policy_eval.py;
2. a recorded operation with no row in authorization.py (so nothing goes unjudged);
3. a granted action that no recorded call and no cited behaviour (CITED below: what AWS
   services and the ECS agent call with the role, with sources) needs;
4. a grant on "*" for an action whose calls are all authorised against a narrower ARN;
5. a component that recorded no call at all (the recording is not running).

Usage: prove.py CALL_LOG_DIR RENDERED_POLICIES_JSON   (exit 1 with one line per failure)
"""
import fnmatch
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import authorization  # noqa: E402
import policy_eval  # noqa: E402
import recorded  # noqa: E402
from cited import CITED  # noqa: E402

# Which role each component's calls are made with in production.
APP_ROLES = {
    "facerec-worker": "task",
    "facerec-backlog-scaler": "backlog_scaler",
    "facerec-spot-handler": "spot_handler",
    "facerec-cli": "producer",  # facerec submit / results, with the documented producer policy
    "facerec-load": "producer",
}


def deployment(rendered: dict) -> authorization.Deployment:
    r = rendered["resources"]

    def split(prefix):
        if not prefix:
            return None
        bucket, _, folder = prefix[len("s3://"):].partition("/")
        folder = folder.strip("/")
        return bucket, (folder + "/" if folder else "")

    return authorization.Deployment(
        partition=rendered["partition"], region=rendered["region"], account=rendered["account"],
        jobs_queue_arn=r["jobs_queue_arn"], dlq_arn=r["dlq_arn"], results_queue_arn=r.get("results_queue_arn"),
        cluster_name=r["cluster_name"], service_name=r["service_name"], asg_arn=r["asg_arn"],
        state_parameter_name=r["state_parameter_name"],
        input_prefix=split(r["input_s3_prefixes"][0]), result_prefix=split(r.get("result_s3_prefix")),
        extra=r,
    )


def granted_statements(policies):
    """(sid, effect, actions, resources) of every statement, actions lower-cased."""
    for pi, doc in enumerate(policies):
        stmts = doc.get("Statement", [])
        if isinstance(stmts, dict):
            stmts = [stmts]
        for si, st in enumerate(stmts):
            acts = st.get("Action", [])
            res = st.get("Resource", [])
            yield (st.get("Sid") or f"policy{pi}.statement{si}", st.get("Effect"),
                   [a.lower() for a in ([acts] if isinstance(acts, str) else acts)],
                   [res] if isinstance(res, str) else res, "NotAction" in st or "NotResource" in st)


def prove(calls_dir: str, rendered: dict, out=sys.stdout) -> list:
    d = deployment(rendered)
    roles = rendered["roles"]
    failures = []
    # role -> action -> set of resources it was (or is, per CITED) authorised against
    needed = defaultdict(lambda: defaultdict(set))
    judged = defaultdict(int)
    seen_apps = defaultdict(int)
    unattributed = 0
    denied_once = set()

    for req in recorded.load(calls_dir):
        if not req.app:
            unattributed += 1
            continue
        seen_apps[req.app] += 1
        role = APP_ROLES.get(req.app)
        if role is None:
            failures.append(f"{req.source}: requests from unknown component app/{req.app}: add it to APP_ROLES")
            continue
        if role not in roles:
            failures.append(f"role {role}: not in the rendered policies (component app/{req.app})")
            continue
        try:
            auths = authorization.authorizations(req.service, req.operation, req.params, d)
        except KeyError:
            key = (role, req.service, req.operation)
            if key not in denied_once:
                denied_once.add(key)
                failures.append(f"role {role}: {req.service} {req.operation or '(unrecognised request)'} "
                                f"has no row in tools/iam/authorization.py ({req.source})")
            continue
        except LookupError as e:
            failures.append(f"role {role}: {req.service} {req.operation}: {e} ({req.source})")
            continue
        for a in auths:
            needed[role][a.action.lower()].add(a.resource)
            if not req.succeeded:
                continue  # moto refused it too (error tests); nothing production would do
            judged[role] += 1
            decision = policy_eval.evaluate(roles[role]["policies"], a.action, a.resource, a.context)
            if decision.effect != "Allow":
                key = (role, a.action, a.resource)
                if key not in denied_once:
                    denied_once.add(key)
                    failures.append(f"role {role}: {a.action} on {a.resource} is {decision.effect} "
                                    f"(called by app/{req.app}, {req.service} {req.operation}, {req.source}; "
                                    f"authorised per {a.source})")

    # Cited behaviours: calls made with the role by AWS services or the ECS agent.
    for role, entries in CITED.items():
        if role not in roles:
            continue
        for c in entries:
            resource = c.resource(d)
            if resource is None:
                continue
            needed[role][c.action.lower()].add(resource)
            decision = policy_eval.evaluate(roles[role]["policies"], c.action, resource, c.context(d))
            if decision.effect != "Allow":
                failures.append(f"role {role}: {c.action} on {resource} is {decision.effect} "
                                f"(needed by {c.caller}, {c.source})")

    for app, role in APP_ROLES.items():
        if role in roles and not seen_apps.get(app) and app != "facerec-load":
            failures.append(f"component app/{app}: no recorded call (is FACEREC_AWS_CALL_LOG set for the suite?)")

    # Every grant needed; no "*" where a narrower ARN would do.
    for role, spec in roles.items():
        if spec.get("managed_policy_arns"):
            failures.append(f"role {role}: managed policies {spec['managed_policy_arns']} cannot be judged "
                            f"call by call; use an inline policy")
        for sid, effect, actions, resources, negated in granted_statements(spec["policies"]):
            if effect != "Allow":
                continue
            if negated:
                failures.append(f"role {role}: statement {sid} allows with NotAction/NotResource")
                continue
            for act in actions:
                matches = [n for n in needed[role] if fnmatch.fnmatchcase(n, act)]
                if not matches:
                    failures.append(f"role {role}: statement {sid} grants {act}, which no recorded call "
                                    f"and no cited behaviour needs")
                    continue
                if "*" in resources and all("*" not in needed[role][n] for n in matches):
                    narrower = sorted(set().union(*(needed[role][n] for n in matches)))
                    failures.append(f"role {role}: statement {sid} grants {act} on *, but its calls are "
                                    f"authorised on {', '.join(narrower[:3])}")

    for role in sorted(roles):
        acts = sorted(needed[role])
        print(f"    {role}: {judged[role]} recorded authorisations judged; actions needed: "
              f"{', '.join(acts) if acts else '(none)'}", file=out)
    print(f"    components: {dict(sorted(seen_apps.items()))}; {unattributed} requests of the tests' "
          f"own set-up not judged", file=out)
    return failures


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    calls_dir, rendered_path = sys.argv[1:3]
    with open(rendered_path) as f:
        rendered = json.load(f)
    failures = prove(calls_dir, rendered)
    for line in failures:
        print(f"IAM proof: {line}")
    if failures:
        print(f"IAM proof: {len(failures)} failure(s)")
        return 1
    print("IAM proof: every recorded call is allowed and every grant is needed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
