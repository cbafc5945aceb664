# Every target sets itself up first, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MNIST := layers/mnist/mnist/mnist.npz
PORT ?= 3000

.PHONY: setup data browser run samples screenshots test test-fast bench bench-dataset bench-styles bench-api bench-aws lint docs docs-build clean

setup: $(INSTALLED) $(MNIST)

$(INSTALLED): pyproject.toml requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("hng needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -e '.[dev]'
	touch $@

# Order-only: reinstalling packages must not rebuild the data; `hng data fetch` is itself idempotent.
$(MNIST): | $(INSTALLED)
	$(BIN)/hng data fetch

data: setup

# The local API (hng serve): the deployed handler, an embedded S3, http://127.0.0.1:3000. Ctrl-C stops it.
run: setup
	$(BIN)/hng serve --port $(PORT)

# Sample images with the CLI, written to out/.
samples: setup
	$(BIN)/hng generate --number 2026 --augment 1 --image_width 140 --count 4 --seed 2026 --out out/

# The browser tests (tests/browser) drive Debian's chromium with its chromedriver. Installed with apt when
# missing, which needs root (CI and these machines run as root); otherwise the line to run is printed.
CHROMIUM_PACKAGES := chromium chromium-driver
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(CHROMIUM_PACKAGES) with apt-get (for tests/browser)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; \
	else \
		echo "tests/browser need chromium and chromedriver: sudo apt-get install $(CHROMIUM_PACKAGES)" >&2; exit 1; \
	fi

# Everything: lint, format and type checks first (seconds), then every tier of tests (markers in
# pyproject.toml). The README's test command; CI runs it (.ci/run).
test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The README's pictures of the pages: the browser tests save them under build/screenshots/.
screenshots: setup browser
	$(BIN)/python -m pytest tests/browser -q
	cp build/screenshots/playground.png docs/playground.png

# The quick tier, for the edit-test loop: everything but the slow, browser, sam and network tests, with the
# "fast" Hypothesis profile (a fifth of the property examples; HYPOTHESIS_PROFILE=default for all of them).
# About a minute and a half on two cores; no browser, SAM CLI, network or full MNIST build needed.
FAST_MARKERS := not slow and not browser and not sam and not network and not scanners
test-fast: setup
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-fast} $(BIN)/python -m pytest -m "$(FAST_MARKERS)"

# The targets first (bench/bench_targets.py: each figure beside its target; --readme rewrites README.md's
# table from it), then the detailed benchmarks.
bench: setup
	$(BIN)/python bench/bench_targets.py
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_dataset.py
	$(BIN)/python bench/bench_styles.py

bench-dataset: setup
	$(BIN)/python bench/bench_dataset.py

# hng's document styles beside TRDG (issue 16): TRDG gets its own virtual environment, made on first use
# under build/bench-venvs/trdg (from PyPI) and reused.
bench-styles: setup
	$(BIN)/python bench/bench_styles.py

bench-api: setup
	$(BIN)/python bench/bench_api.py

# Shard times here, then what a dataset job costs on AWS (Lambda, Step Functions, S3) and its wall time.
bench-aws: setup
	$(BIN)/python bench/bench_aws_cost.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/): served on http://127.0.0.1:8000 and rebuilt as pages change.
# It needs the packages only (the dev extra includes docs), not the MNIST data.
docs: $(INSTALLED)
	$(BIN)/mkdocs serve

# The site as files, in build/site; --strict fails on broken links and on docstrings mkdocstrings cannot render.
docs-build: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir build/site

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(BANDIT_VENV) build .aws-sam layers/mnist/mnist out .pytest_cache .ruff_cache

# --- AWS SAM: template lint, the image's content (see template.yaml and tools/build_bundle.py) ---------
# The SAM CLI pins many packages, so it gets its own virtual environment. `sam validate --lint` needs no AWS
# credentials (it transforms the template locally); the region is fixed so every machine lints alike, and
# telemetry stays off.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM_INSTALLED := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

.PHONY: sam-cli validate bundle build-image deploy

$(SAM_INSTALLED):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	echo '*' > $(SAM_VENV)/.gitignore
	touch $@

sam-cli: $(SAM_INSTALLED)

# `make test` lints the template too (tests/deploy/test_template.py), so it installs the SAM CLI.
test: $(SAM_INSTALLED)

# --- security scanners: checkov on the template, bandit on the code, each in its own virtual environment
# (they pin many packages, as the SAM CLI does). tests/deploy/test_scanners.py runs them in `make test`:
# a finding fails the tests unless it is fixed or skipped where it stands with the reason (a checkov skip
# in the resource's Metadata, a `# nosec BXXX` under a `# Security (BXXX): why` comment).
CHECKOV_VERSION := 3.3.30
BANDIT_VERSION := 1.9.4
CHECKOV_VENV := .venv-checkov
BANDIT_VENV := .venv-bandit
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
BANDIT_INSTALLED := $(BANDIT_VENV)/.installed-$(BANDIT_VERSION)

.PHONY: scanners scan

$(CHECKOV_INSTALLED):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	echo '*' > $(CHECKOV_VENV)/.gitignore
	touch $@

$(BANDIT_INSTALLED):
	test -x $(BANDIT_VENV)/bin/python || $(PYTHON) -m venv $(BANDIT_VENV)
	$(BANDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check bandit==$(BANDIT_VERSION)
	echo '*' > $(BANDIT_VENV)/.gitignore
	touch $@

scanners: $(CHECKOV_INSTALLED) $(BANDIT_INSTALLED)

test: scanners

# Both scanners' reports, as people run them.
scan: scanners
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet
	$(BANDIT_VENV)/bin/bandit -r hng functions -q

validate: $(SAM_INSTALLED)
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# build/bundle/: exactly what the generator's container image holds (functions/api/Dockerfile copies it),
# with the wheels for ARCH (below).
bundle: setup
	$(BIN)/python tools/build_bundle.py --arch $(ARCH)

# --- make deploy: the bundle, the image (sam build) and the stack (sam deploy), for one architecture ---
# ARCH is the template's Architecture parameter: x86_64 (the default) or arm64 (AWS Graviton, about 20 %
# cheaper per GB-second). It picks the bundle's wheels; tools/sam_parameters.py writes samconfig.toml's
# deploy parameter_overrides with Architecture=$(ARCH) to build/sam-parameters.yaml, which both sam build
# (it builds the image for the functions' Architectures: docker build --platform linux/arm64) and sam
# deploy get, so the image and the functions agree; on the command line sam's --parameter-overrides would
# replace samconfig.toml's list, not add to it. ARCH comes from the command line only (:= rather than ?=,
# so an ARCH that other build tools export cannot pick it). First deploy: make deploy DEPLOY_ARGS=--guided.
# DEPLOY_ARGS go to sam deploy; CONFIG_ENV is samconfig.toml's environment for both (--config-env). Deploying
# uses your own AWS region and credentials, so SAM_ENV's fixed region is not used here.
ARCH := x86_64
ARCHITECTURES := x86_64 arm64
DEPLOY_ARGS ?=
CONFIG_ENV ?= default
SAM_PARAMETERS := build/sam-parameters.yaml
SAM_RUN := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam

ifneq ($(words $(ARCH)) $(filter $(ARCHITECTURES),$(ARCH)),1 $(ARCH))
$(error ARCH must be one of: $(ARCHITECTURES) (not '$(ARCH)'))
endif
# sam build runs docker build: without Docker (or Finch), stop at once, before any work.
ifneq ($(filter build-image deploy,$(MAKECMDGOALS)),)
ifeq ($(shell command -v docker 2>/dev/null || command -v finch 2>/dev/null),)
$(error make $(firstword $(filter build-image deploy,$(MAKECMDGOALS))) needs Docker to build the image (sam build runs docker build), and docker is not on PATH)
endif
endif

build-image: bundle $(SAM_INSTALLED)
	$(BIN)/python tools/build_bundle.py --check --arch $(ARCH)
	$(SAM_VENV)/bin/python tools/sam_parameters.py --arch $(ARCH) --config-env $(CONFIG_ENV) --out $(SAM_PARAMETERS)
	$(SAM_RUN) build --config-env $(CONFIG_ENV) --parameter-overrides file://$(SAM_PARAMETERS)

deploy: build-image
	$(SAM_RUN) deploy --config-env $(CONFIG_ENV) --parameter-overrides file://$(SAM_PARAMETERS) $(DEPLOY_ARGS)
