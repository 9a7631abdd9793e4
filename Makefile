# The two commands a new user needs: `make run` and `make test`.
# Needs only python3 (>= 3.11) and make; uv is optional (`make lock` uses it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck bench lock clean help

help:
	@echo "make run        set up .venv and serve MCP over HTTP at http://127.0.0.1:8765/mcp on the sandbox Discord"
	@echo "make test       set up .venv and run the linters, the type checker and the whole suite"
	@echo "make bench      run every benchmark in bench/ (python -m bench --help lists them)"
	@echo "make lock       re-resolve dependencies (needs uv) into uv.lock and requirements.lock"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mcp-discord needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# `make run` serves MCP over HTTP on 127.0.0.1:8765 against the embedded sandbox Discord (no
# token needed) and prints the URL, the demo agents' API keys and a client config to paste.
run: $(STAMP)
	$(BIN)/mcp-discord serve --transport http --host 127.0.0.1 --port 8765

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# Each scenario prints a Markdown report; `.venv/bin/python -m bench --help` lists them.
BENCH_SCENARIOS := runtime store agents sandbox pacing edge floor latency swarm-send swarm-chat bulk idle

bench: $(STAMP)
	@for scenario in $(BENCH_SCENARIOS); do $(BIN)/python -m bench $$scenario || exit 1; done

lock:
	uv lock
	uv export --frozen --no-emit-project --group dev --format requirements-txt -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
