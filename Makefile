# Every target sets itself up first, so a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MNIST := layers/mnist/mnist/mnist.npz

.PHONY: setup data run test test-unit bench lint clean

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

run: setup
	$(BIN)/hng generate --number 2026 --augment 1 --image_width 140 --count 4 --seed 2026 --out out/

test: setup
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit

bench: setup
	$(BIN)/python bench/bench_generate.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) layers/mnist/mnist out .pytest_cache .ruff_cache
