"""Tests of the IAM proof's own logic on hand-made recordings and policies."""
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import prove  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/facerec"
JOBS = f"arn:aws:sqs:{REGION}:{ACCOUNT}:facerec-jobs"


def request(app, service, target_or_action, params, status=200):
    auth = f"AWS4-HMAC-SHA256 Credential=test/20261206/{REGION}/{service}/aws4_request, SignedHeaders=host"
    headers = {"HTTP_AUTHORIZATION": auth, "HTTP_X_AMZ_USER_AGENT": f"aws-sdk-rust/1.3 app/{app}" if app else "aws-sdk-rust/1.3"}
    if service == "autoscaling":
        body = "&".join([f"Action={target_or_action}", "Version=2011-01-01"] + [f"{k}={v}" for k, v in params.items()])
    else:
        headers["HTTP_X_AMZ_TARGET"] = target_or_action
        body = json.dumps(params)
    return {"method": "POST", "path": "/", "query": "", "headers": headers, "body": body, "status": status}


def rendered(scaler_statements, task_statements=None):
    def role(stmts):
        return {"role_name": "r", "policies": [{"Version": "2012-10-17", "Statement": stmts}], "managed_policy_arns": []}

    return {
        "account": ACCOUNT, "region": REGION, "partition": "aws",
        "roles": {"backlog_scaler": role(scaler_statements), "task": role(task_statements or [])},
        "resources": {
            "jobs_queue_arn": JOBS, "dlq_arn": JOBS + "-dlq", "results_queue_arn": JOBS + "-results",
            "cluster_arn": CLUSTER_ARN, "cluster_name": "facerec", "service_name": "facerec-worker",
            "asg_arn": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:u:autoScalingGroupName/facerec",
            "state_parameter_name": "/facerec/state", "input_s3_prefixes": ["s3://in/images/"],
            "result_s3_prefix": "s3://out/v1/", "backlog_scaler_function_name": "scaler",
            "worker_log_group_name": "/ecs/facerec",
        },
    }


LOGS = {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/scaler:*"}
TASK_MIN = [{"Sid": "Receive", "Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": JOBS},
            {"Sid": "Protect", "Effect": "Allow", "Action": "ecs:UpdateTaskProtection",
             "Resource": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/facerec/*",
             "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}}}]
LIST_TASKS = request("facerec-backlog-scaler", "ecs", "AmazonEC2ContainerServiceV20141113.ListTasks",
                     {"cluster": "test-cluster", "serviceName": "svc"})
RECEIVE = request("facerec-worker", "sqs", "AmazonSQS.ReceiveMessage",
                  {"QueueUrl": "http://127.0.0.1:5/123456789012/jobs"})


class ProveTest(unittest.TestCase):
    def run_proof(self, records, policies):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "1.jsonl"), "w") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
            return prove.prove(d, policies, out=io.StringIO())

    def test_list_tasks_on_container_instances_is_denied_and_named(self):
        stmt = {"Sid": "ListServiceTasks", "Effect": "Allow", "Action": "ecs:ListTasks",
                "Resource": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/facerec/*",
                "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}}}
        failures = self.run_proof([LIST_TASKS, RECEIVE], rendered([stmt, LOGS], TASK_MIN))
        self.assertIn("role backlog_scaler: ecs:ListTasks on * is ImplicitDeny", "\n".join(failures))

    def test_list_tasks_on_star_with_cluster_condition_passes(self):
        stmt = {"Sid": "ListServiceTasks", "Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
                "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}}}
        self.assertEqual(self.run_proof([LIST_TASKS, RECEIVE], rendered([stmt, LOGS], TASK_MIN)), [])

    def test_unused_grant_fails(self):
        stmt = {"Sid": "Extra", "Effect": "Allow", "Action": "ecs:StopTask", "Resource": "*"}
        failures = self.run_proof([RECEIVE, LIST_TASKS], rendered([stmt, LOGS], TASK_MIN))
        self.assertTrue(any("statement Extra grants ecs:stoptask, which no recorded call" in f for f in failures), failures)

    def test_star_where_narrower_arn_applies_fails(self):
        task = [{"Sid": "Receive", "Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}] + TASK_MIN[1:]
        failures = self.run_proof([RECEIVE], rendered([LOGS], task))
        self.assertTrue(any("grants sqs:receivemessage on *, but its calls are authorised on " + JOBS in f
                            for f in failures), failures)

    def test_failed_calls_are_not_judged_but_unknown_operations_are(self):
        purge = request("facerec-worker", "sqs", "AmazonSQS.PurgeQueue", {"QueueUrl": "http://h/1/jobs"})
        denied_but_failed = request("facerec-worker", "sqs", "AmazonSQS.DeleteMessage",
                                    {"QueueUrl": "http://h/1/jobs"}, status=400)
        failures = self.run_proof([RECEIVE, purge, denied_but_failed], rendered([LOGS], TASK_MIN))
        text = "\n".join(failures)
        self.assertIn("role task: sqs PurgeQueue has no row in tools/iam/authorization.py", text)
        self.assertNotIn("sqs:DeleteMessage on", text)

    def test_harness_requests_are_not_judged_and_silent_components_fail(self):
        harness = request("", "sqs", "AmazonSQS.CreateQueue", {"QueueName": "jobs"})
        failures = self.run_proof([harness, LIST_TASKS], rendered([LOGS], TASK_MIN))
        text = "\n".join(failures)
        self.assertNotIn("CreateQueue", text)
        self.assertIn("component app/facerec-worker: no recorded call", text)

    def test_query_protocol_terminate_is_authorised_on_the_group(self):
        term = request("facerec-backlog-scaler", "autoscaling", "TerminateInstanceInAutoScalingGroup",
                       {"InstanceId": "i-1", "ShouldDecrementDesiredCapacity": "true"})
        stmt = {"Sid": "SizeGroup", "Effect": "Allow", "Action": "autoscaling:TerminateInstanceInAutoScalingGroup",
                "Resource": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/facerec"}
        self.assertEqual(self.run_proof([term, RECEIVE], rendered([stmt, LOGS], TASK_MIN)), [])
        stmt["Resource"] = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/other"
        failures = self.run_proof([term, RECEIVE], rendered([stmt, LOGS], TASK_MIN))
        self.assertTrue(any("autoscaling:TerminateInstanceInAutoScalingGroup on arn:aws:autoscaling" in f
                            and "ImplicitDeny" in f for f in failures), failures)

    def test_cbor_protocol_get_metric_data_needs_cloudwatch_on_star(self):
        # CloudWatch's RPC v2 CBOR: the operation is the path's last segment, the body CBOR.
        get = request("facerec-cli", "monitoring", "", {})
        get["headers"].pop("HTTP_X_AMZ_TARGET")
        get["headers"]["HTTP_SMITHY_PROTOCOL"] = "rpc-v2-cbor"
        get["path"] = "/service/GraniteServiceVersion20100801/operation/GetMetricData"
        get["body"] = "\ufffd"
        list_tasks = {"Sid": "ListServiceTasks", "Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
                      "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}}}
        policies = rendered([list_tasks, LOGS], TASK_MIN)
        stmt = {"Sid": "ReadQueueAge", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"}
        policies["roles"]["producer"] = {"role_name": "p", "managed_policy_arns": [],
                                         "policies": [{"Version": "2012-10-17", "Statement": [stmt]}]}
        # (The producer's other cited needs are not granted here: only CloudWatch is judged.)
        failures = self.run_proof([get, RECEIVE, LIST_TASKS], policies)
        self.assertEqual([f for f in failures if "cloudwatch" in f.lower()], [], failures)
        stmt["Action"] = "cloudwatch:GetMetricStatistics"
        failures = self.run_proof([get, RECEIVE, LIST_TASKS], policies)
        self.assertTrue(any("role producer: cloudwatch:GetMetricData on * is ImplicitDeny" in f for f in failures),
                        failures)


if __name__ == "__main__":
    unittest.main()
