"""Read the requests moto recorded (tools/moto/recorder.py) into AWS operations.

One recorded line is an HTTP request as moto saw it. This module names its caller (the
`app/<name>` the SDK puts in the user agent), its service and region (the SigV4
credential scope), its operation and its parameters, for the three protocols our
components use:

* JSON (`X-Amz-Target: <prefix>.<Operation>`, parameters in the JSON body): SQS, ECS, SSM;
* query (`Action=<Operation>` in a form body): EC2 Auto Scaling;
* REST-XML: S3, where the method, the path (path-style `/<bucket>/<key>`, as the SDK
  sends it to an overridden endpoint) and the query name the operation;
* Smithy RPC v2 CBOR (`smithy-protocol: rpc-v2-cbor`, the operation the path's last
  segment): CloudWatch. Its CBOR body is not decoded: the one operation of ours that uses
  it (GetMetricData) is authorised against "*" whatever its parameters.
"""
import glob
import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
# RFC 7230 token characters, as the SDK allows in an app name.
_APP = re.compile(r"(?:^|\s)app/([A-Za-z0-9!#$%&'*+\-.^_`|~]+)")


@dataclass
class Request:
    """One AWS API request: who made it, what it asked, what moto answered."""

    app: str  # the SDK's app name ("" when the caller set none: the test harness)
    service: str  # signing name: sqs, ecs, autoscaling, ssm, s3, ...
    region: str
    operation: str  # API operation name, e.g. "ListTasks"; "" when not recognised
    params: dict = field(default_factory=dict)
    status: int = 0
    source: str = ""  # file:line, for messages

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


def _s3_operation(method: str, path: str, query: dict, headers: dict):
    """(operation, params) of a path-style S3 request."""
    parts = path.lstrip("/").split("/", 1)
    bucket = urllib.parse.unquote(parts[0])
    key = urllib.parse.unquote(parts[1]) if len(parts) > 1 and parts[1] else ""
    params = {"Bucket": bucket}
    if key:
        params["Key"] = key
        op = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method, "")
        if op == "PutObject" and "HTTP_X_AMZ_COPY_SOURCE" in headers:
            op = "CopyObject"
        if any(q in query for q in ("uploads", "uploadId", "tagging", "acl", "retention")):
            op = ""  # sub-resources we do not use: unrecognised, so the proof fails on them
        return op, params
    if method == "GET" and query.get("list-type") == ["2"]:
        params["Prefix"] = query.get("prefix", [""])[0]
        return "ListObjectsV2", params
    if method == "GET" and not query:
        return "ListObjects", params
    if method == "HEAD":
        return "HeadBucket", params
    if method == "PUT" and not query:
        return "CreateBucket", params
    return "", params


def parse(record: dict, source: str = "") -> Request:
    headers = record.get("headers", {})
    scope = _SCOPE.search(headers.get("HTTP_AUTHORIZATION", ""))
    region, service = scope.groups() if scope else ("", "")
    ua = headers.get("HTTP_X_AMZ_USER_AGENT", "") + " " + headers.get("HTTP_USER_AGENT", "")
    app = _APP.search(ua)
    body = record.get("body", "")
    query = urllib.parse.parse_qs(record.get("query", ""), keep_blank_values=True)
    operation, params = "", {}
    target = headers.get("HTTP_X_AMZ_TARGET", "")
    if headers.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        operation = record.get("path", "").rsplit("/operation/", 1)[-1]
    elif target:
        operation = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            params = {}
    elif service == "s3":
        operation, params = _s3_operation(record.get("method", ""), record.get("path", ""), query, headers)
    else:
        form = urllib.parse.parse_qs(body, keep_blank_values=True) if body else {}
        form.update(query)
        operation = form.pop("Action", [""])[0]
        # Query-protocol lists arrive as Name.member.N; keep the first value of each.
        params = {k: v[0] for k, v in form.items()}
    return Request(
        app=app.group(1) if app else "",
        service=service,
        region=region,
        operation=operation,
        params=params,
        status=int(record.get("status", 0)),
        source=source,
    )


def load(directory: str):
    """Every request recorded under `directory` (one JSON line each)."""
    for path in sorted(glob.glob(os.path.join(directory, "*.jsonl"))):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a moto killed mid-write
                yield parse(record, f"{os.path.basename(path)}:{n}")
