"""CloudWatch's Smithy RPC v2 CBOR protocol in front of moto's CloudWatch model.

The Rust SDK's CloudWatch client (aws-sdk-cloudwatch 1.140, `facerec status`) speaks RPC
v2 CBOR: `POST /service/GraniteServiceVersion20100801/operation/<Operation>` with the
header `smithy-protocol: rpc-v2-cbor` and a CBOR body, timestamps as CBOR tag 1 (epoch
seconds), errors as a CBOR map with `__type` (Smithy's "RPC v2 CBOR protocol" spec).
moto 5.2.5 serves CloudWatch only over the query protocol (its botocore model has no
other), so without this it cannot answer those requests.

Only the operations our code and tests call are served: PutMetricData (tests put the
metric SQS would publish) and GetMetricData (`facerec status`). Both go straight to
moto's CloudWatch backend, so the datapoints, periods and statistics are moto's own;
this module only decodes and encodes. Any other operation is a 400 naming it.
"""
from __future__ import annotations

import datetime
import re
from typing import Any, Callable, Iterable

import cbor2

_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(\w+)$")
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/monitoring/aws4_request")


def _naive_utc(value: Any) -> Any:
    """moto keeps naive UTC datetimes; cbor2 decodes tag 1 as aware ones."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dict):
        return {k: _naive_utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_naive_utc(v) for v in value]
    return value


def _aware_utc(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


def _get_metric_data(backend: Any, request: dict) -> dict:
    results = backend.get_metric_data(
        queries=request.get("MetricDataQueries", []),
        start_time=request["StartTime"],
        end_time=request["EndTime"],
        scan_by=request.get("ScanBy") or "TimestampAscending",
    )
    return {
        "MetricDataResults": [
            {
                "Id": r["id"],
                "Label": r["label"],
                "Timestamps": [_aware_utc(t) for t in r["timestamps"]],
                "Values": [float(v) for v in r["values"]],
                "StatusCode": r["status_code"],
            }
            for r in results
        ],
        "Messages": [],
    }


def _put_metric_data(backend: Any, request: dict) -> dict:
    backend.put_metric_data(request["Namespace"], request.get("MetricData", []))
    return {}


OPERATIONS: dict[str, Callable[[Any, dict], dict]] = {
    "GetMetricData": _get_metric_data,
    "PutMetricData": _put_metric_data,
}


class Middleware:
    """WSGI: RPC v2 CBOR CloudWatch requests here, everything else to moto."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if environ.get("HTTP_SMITHY_PROTOCOL") != "rpc-v2-cbor" or not match:
            return self.app(environ, start_response)
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.exceptions import ServiceException

        region = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region.group(1) if region else "us-east-1"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        operation = OPERATIONS.get(match.group(1))
        if operation is None:
            status, answer = "400 Bad Request", {
                "__type": "UnknownOperationException",
                "message": f"CloudWatch {match.group(1)} over RPC v2 CBOR is not served by "
                "tools/moto/cloudwatch_cbor.py (only GetMetricData, PutMetricData)",
            }
        else:
            try:
                request = _naive_utc(cbor2.loads(body)) if body else {}
                status, answer = "200 OK", operation(backend, request)
            except ServiceException as e:
                status, answer = "400 Bad Request", {"__type": e.code, "message": e.message}
        out = cbor2.dumps(answer, datetime_as_timestamp=True, timezone=datetime.timezone.utc)
        start_response(status, [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(out))),
        ])
        return [out]

