"""Record every AWS request moto serves, for the IAM proof (tools/iam/prove.py).

A WSGI middleware around moto's application rather than moto's own recorder
(`/moto-api/recorder/`): that one writes one file per server only when switched on
through its API, and keeps request bodies but not the answer's status. Here each
moto process appends one JSON line per request to DIR/<pid>.jsonl: method, path,
query, the headers that identify the caller and the operation (Authorization's
credential scope, X-Amz-Target, the SDK's user agent with its `app/<name>`), the
body of non-S3 requests (the operation's parameters), and the status moto answered.
S3 bodies are image bytes and not needed: S3 operations are named by method, path
and query.
"""
import io
import json
import os
import threading

# Headers worth keeping (WSGI names).
_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_TARGET", "HTTP_USER_AGENT", "HTTP_X_AMZ_USER_AGENT",
            "CONTENT_TYPE", "HTTP_HOST", "HTTP_X_AMZ_COPY_SOURCE", "HTTP_SMITHY_PROTOCOL")
_MAX_BODY = 256 * 1024


class Recorder:
    def __init__(self, app, directory):
        self.app = app
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{os.getpid()}.jsonl")
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        is_s3 = "/s3/aws4_request" in auth
        body = b""
        if not is_s3:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length:
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
        record = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k: environ[k] for k in _HEADERS if k in environ},
        }
        if body:
            record["body"] = body[:_MAX_BODY].decode("utf-8", "replace")
        status = {}

        def recording_start_response(st, headers, exc_info=None):
            status["code"] = int(st.split(" ", 1)[0])
            return start_response(st, headers, exc_info) if exc_info else start_response(st, headers)

        try:
            return self.app(environ, recording_start_response)
        finally:
            record["status"] = status.get("code", 0)
            line = json.dumps(record, separators=(",", ":")) + "\n"
            with self.lock, open(self.path, "a") as f:
                f.write(line)
