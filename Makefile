# Developer entry points. `make test` is what CI runs (.ci/run); see README.md.
# Local tools come from PyPI, pinned in requirements-dev.txt, installed into .venv/ only.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)

.PHONY: test demo demo-check serve-local venv lint unit sign-events clean template

## demo: every sample event through `cargo lambda watch`, moto_server and the Entra + Graph stand-in
demo: $(STAMP)
	$(VENV)/bin/python scripts/demo.py

## test: format check, clippy, every test (against a private moto_server), the demo's table, the template
test: lint unit demo-check template

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

unit: $(STAMP)
	$(VENV)/bin/python scripts/with_moto.py -- cargo test --workspace

## serve-local: moto_server on :5000 and the stand-in on :4010 with the demo data (events/env.json), until Ctrl-C
serve-local: $(STAMP)
	$(VENV)/bin/python scripts/demo.py --serve

demo-check: $(STAMP)
	$(VENV)/bin/python scripts/demo.py --check

## template: cfn-lint and sam validate --lint template.yaml, hold it against src/, sam build (arm64)
template: $(STAMP)
	$(VENV)/bin/python scripts/check_template.py

## sign-events: re-sign events/*.json with the demo secret (timestamps go stale after 5 minutes)
sign-events:
	cargo run --quiet --example sign-event -- events/*.json

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam
