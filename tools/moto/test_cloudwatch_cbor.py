"""cloudwatch_cbor.Middleware in process, over moto's own CloudWatch backend.

Run: .venv/bin/python -m unittest discover -s tools/moto -p 'test_*.py' (make test does).
"""
import datetime
import io
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cbor2  # noqa: E402

from cloudwatch_cbor import Middleware  # noqa: E402

AUTH = ("AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/monitoring/aws4_request, "
        "SignedHeaders=host, Signature=0")


def passthrough(environ, start_response):
    start_response("299 Passed", [])
    return [b"moto"]


def call(operation, body, protocol="rpc-v2-cbor"):
    """(status, decoded CBOR or raw bytes) of one request through the middleware."""
    raw = cbor2.dumps(body, datetime_as_timestamp=True, timezone=datetime.timezone.utc)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/service/GraniteServiceVersion20100801/operation/{operation}",
        "HTTP_AUTHORIZATION": AUTH,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    if protocol:
        environ["HTTP_SMITHY_PROTOCOL"] = protocol
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    out = b"".join(Middleware(passthrough)(environ, start_response))
    if seen["headers"].get("Content-Type") == "application/cbor":
        return seen["status"], cbor2.loads(out)
    return seen["status"], out


class CloudWatchCbor(unittest.TestCase):
    def test_a_put_datapoint_comes_back_from_get_metric_data(self):
        queue = f"q-{uuid.uuid4().hex[:8]}"
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        metric = {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": queue}],
        }
        put = [{"MetricName": metric["MetricName"], "Dimensions": metric["Dimensions"],
                "Timestamp": now - datetime.timedelta(seconds=120), "Value": 245.0}]
        status, answer = call("PutMetricData", {"Namespace": "AWS/SQS", "MetricData": put})
        self.assertEqual(status, "200 OK", answer)

        query = {"Id": "age", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Maximum"}}
        status, answer = call("GetMetricData", {
            "MetricDataQueries": [query],
            "StartTime": now - datetime.timedelta(minutes=15),
            "EndTime": now + datetime.timedelta(minutes=1),
        })
        self.assertEqual(status, "200 OK", answer)
        [result] = answer["MetricDataResults"]
        self.assertEqual((result["Id"], result["Values"]), ("age", [245.0]))
        [when] = result["Timestamps"]
        # CBOR tag 1 (epoch seconds) decodes to an aware datetime: UTC, not local time.
        self.assertLess(abs((when - (now - datetime.timedelta(seconds=120))).total_seconds()), 61)

    def test_an_operation_not_served_is_a_400_naming_this_file(self):
        status, answer = call("DescribeAlarms", {})
        self.assertEqual(status, "400 Bad Request")
        self.assertEqual(answer["__type"], "UnknownOperationException")
        self.assertIn("DescribeAlarms", answer["message"])
        self.assertIn("tools/moto/cloudwatch_cbor.py", answer["message"])

    def test_other_requests_go_to_moto(self):
        self.assertEqual(call("GetMetricData", {}, protocol=None), ("299 Passed", b"moto"))
        self.assertEqual(call("GetMetricData", {}, protocol="awsJson1_0"), ("299 Passed", b"moto"))


if __name__ == "__main__":
    unittest.main()
