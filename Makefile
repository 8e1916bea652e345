# Developer entry points. `make test` is what CI runs (.ci/run); see README.md.
# Local tools come from PyPI, pinned in requirements-dev.txt, installed into .venv/ only.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)

.PHONY: test demo demo-check serve-local venv lint unit release-webhook sign-events clean template fuzz sam-local

## demo: every sample event through `cargo lambda watch`, moto_server and the Entra + Graph stand-in
demo: $(STAMP)
	$(VENV)/bin/python scripts/demo.py

## test: format check, clippy, every test (against a private moto_server), the demo's table, the template, sam local invoke
test: lint unit demo-check template sam-local

## venv: create .venv/ with the pinned local tools (moto_server, cargo-lambda) when missing or outdated
venv: $(STAMP)

$(STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	# the shipped build alone, without the dev-tools feature the tests switch on
	cargo clippy -p lost-device-revoker --lib --bins -- -D warnings

unit: $(STAMP) release-webhook
	$(VENV)/bin/python scripts/with_moto.py -- cargo test --workspace

# The shipped webhook binary (release profile: panic = "abort"), which
# bench/tests/shipped_webhook.rs drives through a Lambda Runtime API, and make bench measures.
release-webhook:
	cargo build --release --locked -p lost-device-revoker --bin webhook

## serve-local: moto_server on :5000 and the stand-in on :4010 with the demo data (events/env.json), until Ctrl-C
serve-local: $(STAMP)
	$(VENV)/bin/python scripts/demo.py --serve

demo-check: $(STAMP)
	$(VENV)/bin/python scripts/demo.py --check

## template: cfn-lint and sam validate --lint template.yaml, hold it against src/, sam build (arm64)
template: $(STAMP)
	$(VENV)/bin/python scripts/check_template.py

## sam-local: every sample event through `sam local invoke` in Docker (installs and starts an engine on Debian as root)
sam-local: $(STAMP)
	$(VENV)/bin/python scripts/sam_local.py

## fuzz: each cargo-fuzz target for FUZZ_SECONDS (default 60); installs cargo-fuzz into .venv/cargo
fuzz:
	bash scripts/fuzz.sh

## sign-events: re-sign events/*.json with the demo secret (timestamps go stale after 5 minutes)
sign-events:
	cargo run --quiet --example sign-event -- events/*.json

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam

# ---- make bench (bench/README.md) -------------------------------------------------------------
# The webhook against a hello-world lambda_http floor and a Python reference, side by side in one
# run: cold and warm CPU, wall, peak RSS, the arm64 zip, and a throttled burst. Writes
# bench/results/latest.{md,json}. BENCH_ARGS passes options to the harness (lambda-bench --help).
BENCH_VENV  := $(VENV)/bench-python
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cksum < bench/requirements.txt | cut -d' ' -f1)
BENCH_WORK  := target/bench
BENCH_ARGS  ?=

.PHONY: bench bench-build bench-artifact

## bench: measure the webhook against the floor and the Python reference (about 3 min after builds)
bench: $(STAMP) $(BENCH_STAMP) bench-build bench-artifact
	$(VENV)/bin/python scripts/with_moto.py -- target/release/lambda-bench \
		--artifact-dir target/lambda/webhook --artifact-log $(BENCH_WORK)/arm64-build.log $(BENCH_ARGS)

# The Python reference's own venv (awslambdaric, boto3, requests), never the system's.
$(BENCH_STAMP): bench/requirements.txt | $(STAMP)
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@rm -f $(BENCH_VENV)/.installed-*
	@touch $@

# Two builds, because features are resolved per selected package: the webhook measured is the
# webhook shipped, not one built with the harness's dependency features.
bench-build: release-webhook
	cargo build --release --locked -p lost-device-revoker --bin intune
	cargo build --release --locked -p lost-device-bench

# The deployment artifact, for its size only: a failed cross-build is reported as unavailable,
# with the reason from its log, and does not stop the run.
bench-artifact: $(STAMP)
	@mkdir -p $(BENCH_WORK)
	@rm -rf target/lambda/webhook
	@echo "cargo lambda build --release --arm64 --bin webhook (log: $(BENCH_WORK)/arm64-build.log)"
	@export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"; \
	{ cargo lambda build --release --arm64 --bin webhook --output-format zip \
	  && cargo lambda build --release --arm64 --bin webhook; } > $(BENCH_WORK)/arm64-build.log 2>&1 \
		|| echo "arm64 build failed: its size is reported as unavailable"
