#!/usr/bin/env bash
# The Spot-interruption handler's zip: `scripts/build-lambda.sh spot-handler`, kept under
# its old name. Usage: scripts/build-spot-handler.sh [--no-verify] [OUTPUT_ZIP]
#                      scripts/build-spot-handler.sh --check-glibc BINARY [MAX_VERSION]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${1:-}" == "--check-glibc" ]]; then
    exec "$here/build-lambda.sh" "$@"
fi
exec "$here/build-lambda.sh" spot-handler "$@"
