#!/usr/bin/env python3
"""Start moto_server on 127.0.0.1 with the patches this project needs.

Usage: launch.py [--port N] [--port-file PATH]

--port 0 (the default) binds a free port chosen by the kernel, so several moto servers
(other projects, parallel test binaries) never collide. Once the socket is listening the
launcher prints one line, `MOTO_READY http://127.0.0.1:PORT`, and writes PORT to
--port-file if given; callers wait for either.

Each patch in tools/moto/patches.py restores a behaviour of real AWS that moto (pinned in
tools/moto/requirements.txt) lacks and that Terraform or our Rust code depends on.

With FACEREC_AWS_CALL_LOG=DIR in the environment, every request is also appended to
DIR/<pid>.jsonl (tools/moto/recorder.py): the IAM proof (tools/iam/prove.py) replays what
each component really called against the policies Terraform renders.
"""
import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()

    # Loopback only, never the instance metadata service, whatever the environment says.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # Real IAM has AWS-managed policies (AmazonEC2ContainerServiceforEC2Role, ...); moto
    # loads them only when asked.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    import patches  # noqa: E402  (after sys.path tweak)

    patches.apply_all()

    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    import cloudwatch_cbor  # noqa: E402

    # CloudWatch over RPC v2 CBOR (the Rust SDK's protocol), which moto does not parse.
    app = cloudwatch_cbor.Middleware(DomainDispatcherApplication(create_backend_app))
    if os.environ.get("FACEREC_AWS_CALL_LOG"):
        import recorder  # noqa: E402

        app = recorder.Recorder(app, os.environ["FACEREC_AWS_CALL_LOG"])
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.socket.getsockname()[1]
    os.environ["MOTO_PORT"] = str(port)  # moto builds queue URLs etc. from this
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    print(f"MOTO_READY http://127.0.0.1:{port}", flush=True)

    # SystemExit unwinds serve_forever(); server.shutdown() here would deadlock, since it
    # waits for the very loop this handler interrupts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
