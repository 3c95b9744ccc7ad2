# facerec-fleet: the two commands of README.md are `make demo` and `make test`.
#
# Everything a target needs is installed or started by the target itself (Python venv
# with pinned moto and checkov, dlib's models from PyPI, moto on a free loopback port),
# so both work on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# One fixed target dir outside the clone: CI and later runs on the same machine reuse
# the compiled AWS SDK instead of spending minutes rebuilding it.
export CARGO_TARGET_DIR ?= /var/tmp/facerec-fleet/target
export CARGO_TERM_COLOR ?= never

# No test may reach AWS or the instance metadata service: static test credentials, a
# region and no IMDS. Tests that need an AWS API start moto on 127.0.0.1 themselves.
export AWS_EC2_METADATA_DISABLED := true
export AWS_ACCESS_KEY_ID := test
export AWS_SECRET_ACCESS_KEY := test
export AWS_REGION := us-east-1
export AWS_DEFAULT_REGION := us-east-1
unexport AWS_PROFILE AWS_SESSION_TOKEN
export FACEREC_MOTO_PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: help
help:
	@echo "make demo        run the main job on this machine (embedded queue, no AWS)"
	@echo "make install     an optimised facerec in ~/.cargo/bin (PREFIX=...), models beside it"
	@echo "make test        the whole test suite (Rust, Terraform, moto, checkov, the IAM proof)"
	@echo "make lint        cargo fmt --check, clippy -D warnings (full and local builds, the full one as make test's build), terraform fmt -check"
	@echo "make scaling-docs  regenerate docs/scaling.md and its plots"
	@echo "make scaling-docs-check  check docs/scaling.md and its plots regenerate byte for byte (release build)"
	@echo "make spot-drill  Spot interruption drill: workers on moto, one gets a notice (docs/spot.md)"
	@echo "make lambda-zip  build both Lambdas' bootstrap.zip (scripts/build-lambda.sh spot-handler|backlog-scaler)"
	@echo "make worker-image  build the worker's image root filesystem natively (scripts/build-worker.sh)"
	@echo "make bench       engine and worker benchmarks, Python baseline side by side (docs/benchmarks.md)"

.PHONY: venv
venv:
	scripts/bootstrap-venv.sh

.PHONY: models
models:
	scripts/fetch-models.sh

.PHONY: demo
demo: models
	scripts/demo.sh

# An optimised `facerec` on the PATH: the binary in $(PREFIX)/bin (cargo's own bin folder
# by default, already on the PATH of a rustup install), the models beside it in
# $(PREFIX)/share/facerec/models, where the binary looks for them.
PREFIX ?= $(HOME)/.cargo
.PHONY: install
install: models
	cargo install --locked --path crates/cli --root $(PREFIX)
	install -d $(PREFIX)/share/facerec/models
	install -m 0644 models/*.dat models/*.svm models/*.onnx $(PREFIX)/share/facerec/models/
	@echo "installed $(PREFIX)/bin/facerec; models in $(PREFIX)/share/facerec/models"

# The Rust suite and the Terraform suite are independent and mostly wait (on moto, on
# timeouts), so they run side by side; the IAM proof needs both. Their output is not
# synchronised: make would hold each command's output until it ends (no sign of life
# for ten minutes); both write whole lines, the Rust runner whole blocks per binary.
.PHONY: test
test: venv models
	@start=$$SECONDS; \
	$(MAKE) --no-print-directory -j2 test-rust test-terraform; \
	$(MAKE) --no-print-directory test-iam test-tools; \
	echo "make test: all suites passed in $$((SECONDS - start)) s"

# Every AWS request moto serves during the Rust suite is recorded here for the IAM proof.
AWS_CALL_LOG := $(CURDIR)/.tmp/aws-calls

# The test binaries run three at a time (scripts/cargo-test-parallel.py says why), built
# through clippy (scripts/cargo-clippy-build says why).
.PHONY: test-rust
test-rust: venv models
	cargo fmt --all -- --check
	rm -rf $(AWS_CALL_LOG)
	FACEREC_AWS_CALL_LOG=$(AWS_CALL_LOG) scripts/cargo-test-parallel.py \
	  --cargo scripts/cargo-clippy-build --workspace --locked --no-fail-fast

# Needs test-rust's recorded calls and test-terraform's rendered policies.
.PHONY: test-iam
test-iam: venv
	FACEREC_AWS_CALL_LOG=$(AWS_CALL_LOG) scripts/test-iam.sh

# The moto layer's own unit tests (tools/moto/test_*.py; the IAM tools' run in test-iam).
.PHONY: test-tools
test-tools: venv
	.venv/bin/python -m unittest discover -s tools/moto -p 'test_*.py'

.PHONY: lint
lint:
	cargo fmt --all -- --check
	# The workspace, every target, through clippy: test-rust's build (same arguments, so
	# the same artifacts: scripts/cargo-clippy-build says why), then the two benches
	# that `cargo test` leaves out.
	scripts/cargo-clippy-build test --workspace --locked --no-run
	scripts/cargo-clippy-build test --workspace --locked --no-run --benches
	# The local build (make demo's): warning-free too, and without the AWS SDK and tract.
	# Its code only: with --all-targets the tests' dev-dependencies brought the SDK and
	# tract back, checked a second time with one crate's features (2.5 min cold).
	cargo clippy -p facerec-cli --no-default-features --locked -- -D warnings
	scripts/check-local-build.sh --self-test
	scripts/check-local-build.sh
	terraform fmt -check -recursive terraform

.PHONY: test-terraform
test-terraform: venv
	scripts/test-terraform.sh

.PHONY: scaling-docs
scaling-docs:
	cargo run -p facerec-fleet-sim --release --locked -- report --out docs

# The whole report, compared byte for byte (about 35 CPU-seconds in release; `make test`
# runs the cheaper --no-tuning comparison: crates/fleet-sim/tests/scaling_doc.rs).
.PHONY: scaling-docs-check
scaling-docs-check:
	cargo test -p facerec-fleet-sim --release --locked --test scaling_doc -- --ignored

.PHONY: spot-drill
spot-drill: venv
	cargo run -p facerec-spot-drill --release --locked -- --jobs 120 --workers 3

.PHONY: lambda-zip
lambda-zip:
	scripts/build-lambda.sh spot-handler
	scripts/build-lambda.sh backlog-scaler

.PHONY: worker-image
worker-image: models
	scripts/build-worker.sh

.PHONY: bench
bench: venv models
	scripts/bench-engine.sh
	scripts/bench-worker.sh
