# The two commands a new user needs: `make run` and `make test`.
# Needs only python3 (>= 3.11) and make; uv is optional (`make lock` uses it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck bench lock clean help

help:
	@echo "make run        set up .venv and start the sandbox Discord (the MCP server lands with issue #5)"
	@echo "make test       set up .venv and run the linters, the type checker and the whole suite"
	@echo "make bench      run every benchmark in bench/ (runtime, store, agents, sandbox, pacing)"
	@echo "make lock       re-resolve dependencies (needs uv) into uv.lock and requirements.lock"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mcp-discord needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Until the MCP edge lands (issue #5), `make run` starts the sandbox Discord: the local Discord
# that the server will embed as its default. It prints its URL and the demo bots' tokens.
run: $(STAMP)
	$(BIN)/mcp-discord sandbox

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# Each scenario prints a Markdown report; `.venv/bin/python -m bench --help` lists them.
BENCH_SCENARIOS := runtime store agents sandbox pacing

bench: $(STAMP)
	@for scenario in $(BENCH_SCENARIOS); do $(BIN)/python -m bench $$scenario || exit 1; done

lock:
	uv lock
	uv export --frozen --no-emit-project --group dev --format requirements-txt -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
