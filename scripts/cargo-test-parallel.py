#!/usr/bin/env python3
"""Run the workspace's test binaries a few at a time instead of one after another.

`cargo test` runs its ~80 test binaries one by one. Most of their time is spent waiting
(moto answering, visibility timeouts, backoffs, child processes), so on 2 cores the
suite's wall time is mostly idle. This builds every test binary with cargo (`--no-run`),
then runs them JOBS at a time, each as cargo would (its package's folder as the working
directory, CARGO_MANIFEST_DIR set), prints each binary's output whole when it ends, runs
the doc tests, and ends with the slowest binaries and every failure.

    scripts/cargo-test-parallel.py [--jobs N] [--cargo CARGO] [cargo test arguments...]

JOBS defaults to $FACEREC_TEST_JOBS or 3. Exit status 1 if any binary failed (every
binary still runs, as with --no-fail-fast), 101 if the build failed.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def build(cargo, cargo_args):
    """Build the test binaries; return (name, executable, package dir) for each."""
    cmd = [cargo, "test", "--no-run", "--message-format=json-render-diagnostics"] + cargo_args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    binaries = []
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue  # a binary target built for the integration tests, not a test
        target = msg["target"]
        package_dir = os.path.dirname(msg["manifest_path"])
        package = os.path.basename(package_dir)
        name = f"{package} {target['kind'][0]} {target['name']}"
        binaries.append((name, msg["executable"], package_dir))
    if proc.wait() != 0:
        sys.exit(101)
    return binaries


def main():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("FACEREC_TEST_JOBS", "3")))
    # The cargo to build with (make test: scripts/cargo-clippy-build); the doc tests too,
    # so they link the libraries that build made.
    parser.add_argument("--cargo", default="cargo")
    ours, cargo_args = parser.parse_known_args()
    started = time.monotonic()
    binaries = build(ours.cargo, cargo_args)
    print(f"cargo-test-parallel: {len(binaries)} test binaries, {ours.jobs} at a time", flush=True)

    lock = threading.Lock()
    results = []

    def run(entry):
        name, exe, package_dir = entry
        env = dict(os.environ, CARGO_MANIFEST_DIR=package_dir)
        t0 = time.monotonic()
        out = subprocess.run([exe], cwd=package_dir, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors="replace")
        took = time.monotonic() - t0
        with lock:
            print(f"\n     Running {name} ({os.path.relpath(exe)}) — {took:.1f} s", flush=True)
            sys.stdout.write(out.stdout)
            sys.stdout.flush()
            results.append((name, took, out.returncode))

    # Longest first would be ideal; cargo's order (by package) is fine when JOBS > 1
    # because the long binaries sit in different packages.
    with ThreadPoolExecutor(max_workers=max(1, ours.jobs)) as pool:
        list(pool.map(run, binaries))

    # The doc tests (cargo compiles and runs them itself).
    t0 = time.monotonic()
    doc = subprocess.run([ours.cargo, "test", "--doc"] + cargo_args)
    results.append(("doc tests", time.monotonic() - t0, doc.returncode))

    print("\ncargo-test-parallel: slowest binaries")
    for name, took, _ in sorted(results, key=lambda r: -r[1])[:10]:
        print(f"  {took:7.1f} s  {name}")
    failed = [name for name, _, code in results if code != 0]
    print(f"cargo-test-parallel: {len(results)} runs in {time.monotonic() - started:.0f} s, "
          f"{len(failed)} failed")
    for name in failed:
        print(f"  FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
