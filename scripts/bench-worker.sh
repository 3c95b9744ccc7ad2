#!/usr/bin/env bash
# Worker benchmarks (docs/benchmarks.md § Worker):
#   1. SQS requests per job at steady load, against moto (crate facerec-worker-runtime,
#      bench sqs_requests; production polling settings, requests counted by an SDK
#      interceptor).
#   2. facerec-worker start-to-ready time with models loaded, and peak resident memory
#      while recognising real photos (crate facerec-worker, bench worker_process).
# Needs: .venv (scripts/bootstrap-venv.sh) for moto, models (scripts/fetch-models.sh),
# testdata/faces. Both benches build in release (cargo's bench profile).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
echo "## sqs_requests"
cargo bench -p facerec-worker-runtime --bench sqs_requests
echo "## worker_process"
cargo bench -p facerec-worker --bench worker_process
