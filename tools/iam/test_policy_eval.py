"""Tests for policy_eval, mostly drawn from examples in the AWS IAM User Guide.

Run from the repository root with either of:
    python3 -m unittest tools/iam/test_policy_eval.py
    python3 -m unittest discover -s tools/iam -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from policy_eval import Decision, PolicyError, evaluate, explain  # noqa: E402

V = "2012-10-17"
ACCT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCT}:cluster/facerec"


def pol(*statements, version=V):
    return {"Version": version, "Statement": list(statements)}


def allow(action, resource="*", condition=None, sid=None, **extra):
    st = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition is not None:
        st["Condition"] = condition
    if sid:
        st["Sid"] = sid
    return st


def cond_effect(condition, context):
    """Effect of a single Allow-* statement carrying `condition`."""
    return evaluate([pol(allow("s3:GetObject", "*", condition))],
                    "s3:GetObject", "*", context).effect


class EvaluationLogic(unittest.TestCase):
    # "Policy evaluation logic": explicit deny > allow > implicit deny.

    def test_explicit_deny_beats_allow(self):
        p = pol(allow("s3:*", "*", sid="AllowAll"),
                {"Sid": "DenyDelete", "Effect": "Deny", "Action": "s3:DeleteObject",
                 "Resource": "*"})
        d = evaluate([p], "s3:DeleteObject", "arn:aws:s3:::b/k")
        self.assertEqual(d.effect, "ExplicitDeny")
        self.assertEqual(d.statements, ["DenyDelete"])
        self.assertEqual(evaluate([p], "s3:GetObject", "arn:aws:s3:::b/k").effect, "Allow")

    def test_deny_in_another_policy_wins(self):
        d = evaluate([pol(allow("ec2:*")),
                      pol({"Effect": "Deny", "Action": "ec2:TerminateInstances",
                           "Resource": "*"})],
                     "ec2:TerminateInstances", "*")
        self.assertEqual(d.effect, "ExplicitDeny")
        self.assertEqual(d.statements, ["policy[1].Statement[0]"])

    def test_no_match_is_implicit_deny(self):
        d = evaluate([pol(allow("s3:GetObject"))], "s3:PutObject", "*")
        self.assertEqual(d.effect, "ImplicitDeny")
        self.assertEqual(d.statements, [])
        self.assertFalse(d.allowed)

    def test_no_policies_is_implicit_deny(self):
        self.assertEqual(evaluate([], "s3:GetObject", "*").effect, "ImplicitDeny")

    def test_statement_as_single_object_and_json_string(self):
        doc = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}'
        self.assertEqual(evaluate([doc], "sqs:SendMessage", "*").effect, "Allow")

    def test_all_matching_allow_sids_reported(self):
        p = pol(allow("s3:Get*", sid="A"), allow("s3:GetObject", sid="B"),
                allow("s3:Put*", sid="C"))
        self.assertEqual(evaluate([p], "s3:GetObject", "*").statements, ["A", "B"])

    def test_principal_is_ignored(self):
        st = allow("s3:GetObject")
        st["Principal"] = {"AWS": "arn:aws:iam::111122223333:root"}
        self.assertEqual(evaluate([pol(st)], "s3:GetObject", "*").effect, "Allow")

    def test_malformed_statements_raise(self):
        with self.assertRaises(PolicyError):
            evaluate([pol({"Effect": "Allow", "Action": "s3:*"})], "s3:GetObject", "*")
        with self.assertRaises(PolicyError):
            evaluate([pol({"Effect": "allow", "Action": "s3:*", "Resource": "*"})],
                     "s3:GetObject", "*")
        with self.assertRaises(PolicyError):
            evaluate([pol({"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*",
                           "Resource": "*"})], "s3:GetObject", "*")
        with self.assertRaises(PolicyError):
            cond_effect({"StringEqualz": {"k": "v"}}, {"k": "v"})

    def test_explain_is_one_line(self):
        d = evaluate([pol(allow("ecs:ListTasks", sid="Tasks"))], "ecs:ListTasks", "*")
        self.assertEqual(explain(d), "Allow: ecs:ListTasks on * (allowed by Tasks)")
        d = evaluate([], "ecs:ListTasks", "*")
        self.assertIn("ImplicitDeny: ecs:ListTasks on *", str(d))
        self.assertNotIn("\n", str(d))


class ActionMatching(unittest.TestCase):
    # "IAM JSON policy elements: Action" / "NotAction".

    def test_wildcard_action_prefix(self):
        p = [pol(allow("s3:Get*"))]
        self.assertEqual(evaluate(p, "s3:GetObject", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "s3:GetBucketPolicy", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "s3:PutObject", "*").effect, "ImplicitDeny")

    def test_service_wildcard_and_star(self):
        self.assertEqual(evaluate([pol(allow("ec2:*"))], "ec2:RunInstances", "*").effect, "Allow")
        self.assertEqual(evaluate([pol(allow("ec2:*"))], "ecs:RunTask", "*").effect,
                         "ImplicitDeny")
        self.assertEqual(evaluate([pol(allow("*"))], "iam:CreateUser", "*").effect, "Allow")

    def test_question_mark_in_action(self):
        p = [pol(allow("iam:?etUser"))]
        self.assertEqual(evaluate(p, "iam:GetUser", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "iam:SetUser", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "iam:ResetUser", "*").effect, "ImplicitDeny")

    def test_action_is_case_insensitive(self):
        # "Action: ... case insensitive" (e.g. iam:listaccesskeys == IAM:ListAccessKeys).
        p = [pol(allow("IAM:listaccesskeys"))]
        self.assertEqual(evaluate(p, "iam:ListAccessKeys", "*").effect, "Allow")

    def test_action_list(self):
        p = [pol(allow(["sqs:SendMessage", "sqs:ReceiveMessage"]))]
        self.assertEqual(evaluate(p, "sqs:ReceiveMessage", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "sqs:DeleteQueue", "*").effect, "ImplicitDeny")

    def test_not_action_with_allow(self):
        # NotAction doc: Allow everything except IAM.
        p = [pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]
        self.assertEqual(evaluate(p, "s3:ListAllMyBuckets", "*").effect, "Allow")
        self.assertEqual(evaluate(p, "iam:CreateUser", "*").effect, "ImplicitDeny")

    def test_not_action_with_deny(self):
        # NotAction doc: deny everything but IAM without MFA (condition dropped).
        p = [pol(allow("*"), {"Effect": "Deny", "NotAction": ["iam:*"], "Resource": "*"})]
        self.assertEqual(evaluate(p, "s3:GetObject", "*").effect, "ExplicitDeny")
        self.assertEqual(evaluate(p, "iam:GetUser", "*").effect, "Allow")


class ResourceMatching(unittest.TestCase):
    # "IAM JSON policy elements: Resource" / "NotResource".

    def test_bucket_objects_wildcard(self):
        p = [pol(allow("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/*"))]
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket/a/b.jpg").effect, "Allow")
        # The bucket itself is not an object in it.
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket").effect, "ImplicitDeny")

    def test_wildcard_spans_colon_and_slash(self):
        p = [pol(allow("ecs:DescribeTasks", "arn:aws:ecs:*"))]
        self.assertEqual(evaluate(p, "ecs:DescribeTasks",
                                  f"arn:aws:ecs:us-east-1:{ACCT}:task/facerec/abc").effect,
                         "Allow")

    def test_question_mark_single_character(self):
        p = [pol(allow("s3:GetObject", "arn:aws:s3:::logs/2024-0?.txt"))]
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::logs/2024-05.txt").effect,
                         "Allow")
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::logs/2024-0.txt").effect,
                         "ImplicitDeny")
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::logs/2024-011.txt").effect,
                         "ImplicitDeny")

    def test_resource_is_case_sensitive(self):
        p = [pol(allow("s3:GetObject", "arn:aws:s3:::Bucket/*"))]
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::bucket/x").effect,
                         "ImplicitDeny")
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::Bucket/x").effect, "Allow")

    def test_not_resource_with_allow(self):
        # NotResource doc: allow everything in S3 except one bucket's objects.
        p = [pol({"Effect": "Allow", "Action": "s3:*",
                  "NotResource": ["arn:aws:s3:::HRBucket/Payroll",
                                  "arn:aws:s3:::HRBucket/Payroll/*"]})]
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::HRBucket/Other").effect,
                         "Allow")
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::HRBucket/Payroll/jan.csv").effect,
                         "ImplicitDeny")

    def test_star_request_resource_needs_star_in_policy(self):
        # Request resource "*" is literal: an ARN pattern never matches it.
        for pattern in ("arn:aws:ecs:*", "arn:aws:*:*:*:*", "arn:*"):
            d = evaluate([pol(allow("ecs:ListClusters", pattern))], "ecs:ListClusters", "*")
            self.assertEqual(d.effect, "ImplicitDeny", pattern)
        d = evaluate([pol(allow("ecs:ListClusters", ["arn:aws:ecs:*", "*"]))],
                     "ecs:ListClusters", "*")
        self.assertEqual(d.effect, "Allow")


class EcsClusterCondition(unittest.TestCase):
    # The case this tool exists for: ecs:ListTasks authorizes against "*"
    # with the ecs:cluster condition key (Service Authorization Reference,
    # Amazon ECS; ArnEquals from "Condition operators").
    CTX = {"ecs:cluster": CLUSTER}
    COND = {"ArnEquals": {"ecs:cluster": CLUSTER}}

    def test_container_instance_scoped_grant_is_useless_for_list_tasks(self):
        p = [pol(allow("ecs:ListTasks",
                       f"arn:aws:ecs:us-east-1:{ACCT}:container-instance/facerec/*",
                       self.COND))]
        self.assertEqual(evaluate(p, "ecs:ListTasks", "*", self.CTX).effect, "ImplicitDeny")

    def test_star_grant_with_cluster_condition_allows(self):
        p = [pol(allow("ecs:ListTasks", "*", self.COND, sid="ListFacerecTasks"))]
        d = evaluate(p, "ecs:ListTasks", "*", self.CTX)
        self.assertEqual(d.effect, "Allow", str(d))
        self.assertEqual(d.statements, ["ListFacerecTasks"])

    def test_star_grant_for_another_cluster_denies(self):
        p = [pol(allow("ecs:ListTasks", "*", self.COND))]
        other = {"ecs:cluster": f"arn:aws:ecs:us-east-1:{ACCT}:cluster/other"}
        self.assertEqual(evaluate(p, "ecs:ListTasks", "*", other).effect, "ImplicitDeny")
        # ...and with no cluster in the request context at all.
        self.assertEqual(evaluate(p, "ecs:ListTasks", "*", {}).effect, "ImplicitDeny")


class StringConditions(unittest.TestCase):
    # "Condition operators: String condition operators".

    def test_string_equals_is_case_sensitive(self):
        c = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/job-category": "iamuser-admin"}),
                         "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/job-category": "IAMuser-admin"}),
                         "ImplicitDeny")

    def test_context_key_name_is_case_insensitive(self):
        c = {"StringEquals": {"aws:SourceVpc": "vpc-111"}}
        self.assertEqual(cond_effect(c, {"AWS:SOURCEVPC": "vpc-111"}), "Allow")

    def test_string_equals_ignore_case(self):
        c = {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "FaceRec"}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/team": "facerec"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/team": "facere"}), "ImplicitDeny")

    def test_string_equals_has_no_wildcards(self):
        c = {"StringEquals": {"s3:prefix": "home/*"}}
        self.assertEqual(cond_effect(c, {"s3:prefix": "home/alice"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"s3:prefix": "home/*"}), "Allow")

    def test_string_like_wildcards(self):
        # Example: "StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}.
        c = {"StringLike": {"s3:prefix": ["", "home/", "home/*"]}}
        self.assertEqual(cond_effect(c, {"s3:prefix": "home/alice/docs"}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:prefix": ""}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:prefix": "other/"}), "ImplicitDeny")
        c = {"StringLike": {"ec2:InstanceType": "t?.micro"}}
        self.assertEqual(cond_effect(c, {"ec2:InstanceType": "t3.micro"}), "Allow")
        self.assertEqual(cond_effect(c, {"ec2:InstanceType": "t3a.micro"}), "ImplicitDeny")

    def test_string_not_like(self):
        c = {"StringNotLike": {"s3:prefix": "secret/*"}}
        self.assertEqual(cond_effect(c, {"s3:prefix": "public/x"}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:prefix": "secret/x"}), "ImplicitDeny")

    def test_string_not_equals_ignore_case(self):
        c = {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "ops"}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/team": "OPS"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/team": "dev"}), "Allow")


class MultipleKeysAndValues(unittest.TestCase):
    # "Conditions with multiple context keys or values".

    def test_multiple_values_are_or(self):
        c = {"StringEquals": {"aws:PrincipalTag/role": ["audit", "security"]}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "security"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "audit"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "dev"}), "ImplicitDeny")

    def test_multiple_keys_are_and(self):
        # Doc example: principal tags department AND role.
        c = {"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"],
                              "aws:PrincipalTag/role": ["audit", "security"]}}
        both = {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit"}
        self.assertEqual(cond_effect(c, both), "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/department": "hr"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {**both, "aws:PrincipalTag/role": "dev"}),
                         "ImplicitDeny")

    def test_multiple_operators_are_and(self):
        # Doc example: StringEquals on principal tags AND ArnLike on aws:PrincipalArn.
        c = {"StringEquals": {"aws:PrincipalTag/role": "audit"},
             "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCT}:user/Ana",
                                              f"arn:aws:iam::{ACCT}:role/Audit*"]}}
        ok = {"aws:PrincipalTag/role": "audit",
              "aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/AuditReader"}
        self.assertEqual(cond_effect(c, ok), "Allow")
        self.assertEqual(cond_effect(c, {**ok, "aws:PrincipalArn":
                                         f"arn:aws:iam::{ACCT}:role/Admin"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {**ok, "aws:PrincipalTag/role": "dev"}),
                         "ImplicitDeny")

    def test_negated_operator_values_are_nor(self):
        # Doc: "negated matching condition operator ... multiple values ... NOR".
        c = {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "audit"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "security"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"aws:PrincipalTag/role": "dev"}), "Allow")

    def test_negated_operator_missing_key_is_true(self):
        # Condition operators page: StringNotLike/ArnNotLike with the key
        # absent -> condition true.
        self.assertEqual(cond_effect({"StringNotEquals": {"aws:PrincipalTag/role": "x"}}, {}),
                         "Allow")
        self.assertEqual(cond_effect({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
                                     {}), "Allow")
        self.assertEqual(cond_effect({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}),
                         "Allow")

    def test_positive_operator_missing_key_is_false(self):
        self.assertEqual(cond_effect({"StringEquals": {"aws:PrincipalTag/role": "x"}}, {}),
                         "ImplicitDeny")
        self.assertEqual(cond_effect({"NumericLessThan": {"s3:max-keys": "10"}}, {}),
                         "ImplicitDeny")


class IfExistsAndNull(unittest.TestCase):
    # "Condition operators: ...IfExists" and "Condition operator to check
    # existence of condition keys".

    def test_if_exists_missing_key_is_true(self):
        # Doc example: StringLikeIfExists on ec2:InstanceType.
        c = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
        self.assertEqual(cond_effect(c, {}), "Allow")
        self.assertEqual(cond_effect(c, {"ec2:InstanceType": "t2.micro"}), "Allow")
        self.assertEqual(cond_effect(c, {"ec2:InstanceType": "c5.large"}), "ImplicitDeny")

    def test_bool_if_exists_deny_pattern(self):
        # Doc pattern: deny unless MFA, BoolIfExists aws:MultiFactorAuthPresent false.
        p = [pol(allow("*"), {"Effect": "Deny", "Action": "*", "Resource": "*",
                              "Condition": {"BoolIfExists":
                                            {"aws:MultiFactorAuthPresent": "false"}}})]
        self.assertEqual(evaluate(p, "s3:GetObject", "*", {}).effect, "ExplicitDeny")
        self.assertEqual(evaluate(p, "s3:GetObject", "*",
                                  {"aws:MultiFactorAuthPresent": False}).effect,
                         "ExplicitDeny")
        self.assertEqual(evaluate(p, "s3:GetObject", "*",
                                  {"aws:MultiFactorAuthPresent": True}).effect, "Allow")

    def test_null_true_requires_absent_key(self):
        # Doc example: "Null": {"aws:TokenIssueTime": "true"} -> only long-term creds.
        c = {"Null": {"aws:TokenIssueTime": "true"}}
        self.assertEqual(cond_effect(c, {}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}),
                         "ImplicitDeny")

    def test_null_false_requires_present_key(self):
        c = {"Null": {"aws:ResourceTag/team": "false"}}
        self.assertEqual(cond_effect(c, {"aws:ResourceTag/team": "facerec"}), "Allow")
        self.assertEqual(cond_effect(c, {}), "ImplicitDeny")


class BoolBinaryNumericDateIp(unittest.TestCase):

    def test_bool_with_string_true(self):
        # Doc example: "Bool": {"aws:SecureTransport": "true"}.
        c = {"Bool": {"aws:SecureTransport": "true"}}
        self.assertEqual(cond_effect(c, {"aws:SecureTransport": True}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:SecureTransport": "true"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:SecureTransport": False}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {}), "ImplicitDeny")
        # A JSON boolean in the policy behaves like the string.
        self.assertEqual(cond_effect({"Bool": {"aws:SecureTransport": True}},
                                     {"aws:SecureTransport": "true"}), "Allow")

    def test_binary_equals(self):
        # Doc example: "BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}.
        c = {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}
        self.assertEqual(cond_effect(c, {"key": b"BinaryValueInBase64"}), "Allow")
        self.assertEqual(cond_effect(c, {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}), "Allow")
        self.assertEqual(cond_effect(c, {"key": b"other"}), "ImplicitDeny")

    def test_numeric_less_than_equals(self):
        # Doc example: "NumericLessThanEquals": {"s3:max-keys": "10"}.
        c = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
        self.assertEqual(cond_effect(c, {"s3:max-keys": "10"}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:max-keys": 9.5}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:max-keys": 11}), "ImplicitDeny")

    def test_numeric_other_operators(self):
        self.assertEqual(cond_effect({"NumericEquals": {"n": "3"}}, {"n": "3.0"}), "Allow")
        self.assertEqual(cond_effect({"NumericNotEquals": {"n": ["1", "2"]}}, {"n": 2}),
                         "ImplicitDeny")
        self.assertEqual(cond_effect({"NumericNotEquals": {"n": ["1", "2"]}}, {"n": 3}),
                         "Allow")
        self.assertEqual(cond_effect({"NumericGreaterThan": {"n": "5"}}, {"n": 5}),
                         "ImplicitDeny")
        self.assertEqual(cond_effect({"NumericGreaterThanEquals": {"n": "5"}}, {"n": 5}),
                         "Allow")
        self.assertEqual(cond_effect({"NumericLessThan": {"n": "5"}}, {"n": 5}),
                         "ImplicitDeny")
        with self.assertRaises(PolicyError):
            cond_effect({"NumericEquals": {"n": "five"}}, {"n": 5})

    def test_date_window_iso8601(self):
        # Doc example "AWS: Allows access based on date and time".
        c = {"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
             "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}
        self.assertEqual(cond_effect(c, {"aws:CurrentTime": "2020-05-15T12:00:00Z"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:CurrentTime": "2020-07-01T00:00:00Z"}),
                         "ImplicitDeny")
        # Same instant with an offset.
        self.assertEqual(cond_effect(c, {"aws:CurrentTime": "2020-07-01T01:00:00+02:00"}),
                         "Allow")

    def test_date_epoch_and_equals(self):
        # 1585699200 == 2020-04-01T00:00:00Z.
        c = {"DateEquals": {"aws:EpochTime": "2020-04-01T00:00:00Z"}}
        self.assertEqual(cond_effect(c, {"aws:EpochTime": 1585699200}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:EpochTime": "1585699201"}), "ImplicitDeny")
        self.assertEqual(cond_effect({"DateNotEquals": {"t": "1585699200"}},
                                     {"t": "2020-04-01"}), "ImplicitDeny")
        self.assertEqual(cond_effect({"DateLessThanEquals": {"t": "2020-04-01"}},
                                     {"t": "2020-04-01T00:00:00.000Z"}), "Allow")
        self.assertEqual(cond_effect({"DateGreaterThanEquals": {"t": "2020-04-01"}},
                                     {"t": "2020-03-31T23:59:59Z"}), "ImplicitDeny")

    def test_ip_address(self):
        # Doc example: IpAddress aws:SourceIp 203.0.113.0/24.
        c = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
        self.assertEqual(cond_effect(c, {"aws:SourceIp": "203.0.113.7"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:SourceIp": "2001:db8:1234:5678::1"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:SourceIp": "198.51.100.1"}), "ImplicitDeny")
        self.assertEqual(cond_effect({"IpAddress": {"aws:SourceIp": "10.1.2.3"}},
                                     {"aws:SourceIp": "10.1.2.3"}), "Allow")

    def test_not_ip_address(self):
        c = {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}
        self.assertEqual(cond_effect(c, {"aws:SourceIp": "203.0.113.9"}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"aws:SourceIp": "198.51.100.1"}), "Allow")


class ArnConditions(unittest.TestCase):
    # "Condition operators: Amazon Resource Name (ARN) condition operators".

    def test_arn_like_per_part(self):
        # Doc example: "ArnLike": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}
        c = {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCT}:alerts-*"}}
        self.assertEqual(cond_effect(c, {"aws:SourceArn":
                                         f"arn:aws:sns:eu-west-1:{ACCT}:alerts-prod"}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:SourceArn":
                                         f"arn:aws:sns:eu-west-1:999999999999:alerts-prod"}),
                         "ImplicitDeny")

    def test_arn_wildcard_does_not_span_parts(self):
        # "*" in the region part must not swallow the account part.
        c = {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:topic"}}  # only 5 parts
        self.assertEqual(cond_effect(c, {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:topic"}),
                         "ImplicitDeny")
        c = {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}}
        self.assertEqual(cond_effect(c, {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:topic"}),
                         "Allow")
        # A 6-part pattern: "us-*" must not swallow ":999999999999" as well.
        c = {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:us-*:{ACCT}:topic"}}
        self.assertEqual(cond_effect(c, {"aws:SourceArn":
                                         f"arn:aws:sns:us-east-1:999999999999:{ACCT}:topic"}),
                         "ImplicitDeny")
        # StringLike on the same pattern would have matched across parts.
        self.assertEqual(cond_effect({"StringLike": {"aws:SourceArn": "arn:aws:sns:*:topic"}},
                                     {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:topic"}),
                         "Allow")

    def test_arn_resource_part_may_contain_colons(self):
        c = {"ArnLike": {"aws:SourceArn": f"arn:aws:logs:*:{ACCT}:log-group:/ecs/*"}}
        self.assertEqual(cond_effect(c, {"aws:SourceArn":
                                         f"arn:aws:logs:us-east-1:{ACCT}:log-group:/ecs/x:*"}),
                         "Allow")

    def test_arn_equals_is_case_sensitive(self):
        c = {"ArnEquals": {"ecs:cluster": CLUSTER}}
        self.assertEqual(cond_effect(c, {"ecs:cluster": CLUSTER.replace("facerec", "FaceRec")}),
                         "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"ecs:cluster": "not-an-arn"}), "ImplicitDeny")

    def test_arn_not_equals(self):
        c = {"ArnNotEquals": {"ecs:cluster": CLUSTER}}
        self.assertEqual(cond_effect(c, {"ecs:cluster": CLUSTER}), "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"ecs:cluster": CLUSTER + "-2"}), "Allow")


class SetOperators(unittest.TestCase):
    # "Single-valued vs. multivalued context keys" and "Multivalued context
    # key examples".

    def test_for_all_values_subset(self):
        c = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["environment"]}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["environment", "cost-center"]}),
                         "Allow")
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["environment", "owner"]}),
                         "ImplicitDeny")

    def test_for_all_values_missing_key_is_true(self):
        c = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment"]}}
        self.assertEqual(cond_effect(c, {}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:TagKeys": []}), "Allow")

    def test_for_any_value(self):
        c = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["owner", "cost-center"]}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["owner"]}), "ImplicitDeny")

    def test_for_any_value_missing_key_is_false(self):
        c = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment"]}}
        self.assertEqual(cond_effect(c, {}), "ImplicitDeny")
        # Even for a negated operator.
        c = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["environment"]}}
        self.assertEqual(cond_effect(c, {}), "ImplicitDeny")

    def test_for_all_values_string_not_like_deny_example(self):
        # Doc example DenyRestrictedTags: ForAllValues:StringNotLike aws:TagKeys "key1*".
        p = [pol(allow("iam:*"),
                 {"Sid": "DenyRestrictedTags", "Effect": "Deny",
                  "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
                  "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}})]
        def eff(ctx):
            return evaluate(p, "iam:TagUser", "*", ctx).effect
        self.assertEqual(eff({"aws:TagKeys": ["key1:legal"]}), "Allow")
        self.assertEqual(eff({"aws:TagKeys": ["key1:hr", "key1:personnel"]}), "Allow")
        self.assertEqual(eff({"aws:TagKeys": ["key2:audit"]}), "ExplicitDeny")
        self.assertEqual(eff({}), "ExplicitDeny")

    def test_set_operator_with_if_exists(self):
        c = {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": "team*"}}
        self.assertEqual(cond_effect(c, {}), "Allow")
        self.assertEqual(cond_effect(c, {"aws:TagKeys": ["owner"]}), "ImplicitDeny")


class PolicyVariables(unittest.TestCase):
    # "IAM policy elements: Variables and tags".

    def home_policy(self, version=V):
        return [pol(
            allow("s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket",
                  {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}),
            allow(["s3:GetObject", "s3:PutObject"],
                  "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*"),
            version=version)]

    def test_variable_in_resource(self):
        p = self.home_policy()
        ctx = {"aws:username": "David"}
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket/David/a.txt", ctx).effect,
                         "Allow")
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket/Eve/a.txt", ctx).effect,
                         "ImplicitDeny")

    def test_variable_in_condition(self):
        p = self.home_policy()
        bucket = "arn:aws:s3:::amzn-s3-demo-bucket"
        self.assertEqual(evaluate(p, "s3:ListBucket", bucket,
                                  {"aws:username": "David", "s3:prefix": "David/x"}).effect,
                         "Allow")
        self.assertEqual(evaluate(p, "s3:ListBucket", bucket,
                                  {"aws:username": "David", "s3:prefix": "Eve/x"}).effect,
                         "ImplicitDeny")

    def test_missing_variable_matches_nothing(self):
        p = self.home_policy()
        d = evaluate(p, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/a")
        self.assertEqual(d.effect, "ImplicitDeny")

    def test_default_value(self):
        p = [pol(allow("s3:GetObject",
                       "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'company-wide'}/*"))]
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::bucket/company-wide/x").effect,
                         "Allow")
        self.assertEqual(evaluate(p, "s3:GetObject", "arn:aws:s3:::bucket/ml/x",
                                  {"aws:PrincipalTag/team": "ml"}).effect, "Allow")

    def test_old_version_treats_variables_literally(self):
        p = self.home_policy(version="2008-10-17")
        ctx = {"aws:username": "David"}
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket/David/a.txt", ctx).effect,
                         "ImplicitDeny")
        self.assertEqual(evaluate(p, "s3:GetObject",
                                  "arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/a", ctx).effect,
                         "Allow")

    def test_special_character_escapes_are_literal(self):
        c = {"StringLike": {"s3:prefix": "a${*}b${?}c${$}d"}}
        self.assertEqual(cond_effect(c, {"s3:prefix": "a*b?c$d"}), "Allow")
        self.assertEqual(cond_effect(c, {"s3:prefix": "aXXbYc$d"}), "ImplicitDeny")

    def test_substituted_value_is_not_a_wildcard(self):
        c = {"StringLike": {"s3:prefix": "${aws:username}/*"}}
        self.assertEqual(cond_effect(c, {"aws:username": "*", "s3:prefix": "Eve/x"}),
                         "ImplicitDeny")
        self.assertEqual(cond_effect(c, {"aws:username": "*", "s3:prefix": "*/x"}), "Allow")

    def test_variable_in_arn_condition(self):
        c = {"ArnEquals": {"aws:SourceArn":
                           "arn:aws:sns:us-east-1:${aws:PrincipalAccount}:topic"}}
        self.assertEqual(cond_effect(c, {"aws:PrincipalAccount": ACCT,
                                         "aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:topic"}),
                         "Allow")
        self.assertEqual(cond_effect(c, {"aws:PrincipalAccount": "111122223333",
                                         "aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCT}:topic"}),
                         "ImplicitDeny")


class DecisionType(unittest.TestCase):
    def test_decision_is_dataclass_with_fields(self):
        d = Decision("Allow", ["x"])
        self.assertTrue(d.allowed)
        self.assertEqual((d.effect, d.statements), ("Allow", ["x"]))


if __name__ == "__main__":
    unittest.main()
