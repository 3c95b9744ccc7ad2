#!/usr/bin/env bash
# The local path (`make demo`: facerec-cli --no-default-features) must build no AWS SDK
# and no tract: they are most of a cold build and the local commands never run them
# (docs/benchmarks.md, "Build times"). `make lint` runs this; it fails naming the crate
# and the path that pulled it in.
#
#   scripts/check-local-build.sh              the check
#   scripts/check-local-build.sh --self-test  show that the check fails on a build that
#                                             has them (the default, full facerec)
set -euo pipefail
cd "$(dirname "$0")/.."

# Crates only the fleet (AWS SDK and its HTTP/TLS stack) or RetinaFace (tract) need.
forbidden='^(aws-[a-z0-9-]+|hyper|rustls|h2|tract-[a-z]+|lambda_runtime) v'

offenders() { # cargo features... -> the forbidden crates in that build, one per line
    cargo tree --locked -p facerec-cli -e normal,build --prefix none "$@" |
        grep -E "$forbidden" | sed 's/ (\*)$//' | LC_ALL=C sort -u || true
}

if [[ "${1:-}" == "--self-test" ]]; then
    found="$(offenders)"
    if [[ -z "$found" ]]; then
        echo "check-local-build: self-test FAILED: the full facerec shows no AWS SDK or tract," \
            "so the pattern no longer matches what they are called" >&2
        exit 1
    fi
    echo "check-local-build: self-test ok: the full build has $(wc -l <<<"$found") of them"
    exit 0
fi

found="$(offenders --no-default-features)"
if [[ -n "$found" ]]; then
    echo "check-local-build: the local facerec (--no-default-features) builds what only the" \
        "fleet or RetinaFace needs:" >&2
    sed 's/^/  /' <<<"$found" >&2
    first="$(head -1 <<<"$found" | cut -d' ' -f1)"
    echo "check-local-build: what pulls in $first:" >&2
    cargo tree --locked -p facerec-cli -e normal,build --no-default-features -i "$first" >&2 || true
    exit 1
fi
echo "check-local-build: the local facerec builds no AWS SDK and no tract"
