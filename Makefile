# The two contracts: `make run` serves every API with the embedded database; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup db lint typecheck pytest bench bench-events bench-orchestration clean

run: setup
	# Local development: callbacks to loopback and private addresses are allowed (production leaves this off).
	TMF_ALLOW_PRIVATE_CALLBACKS=$${TMF_ALLOW_PRIVATE_CALLBACKS:-1} $(BIN)/tmf-server serve

test: setup lint typecheck pytest

setup: $(STAMP) db

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
	touch $(STAMP)

# Builds FerretDB once into .cache/ unless a mongod is on PATH or TMF_MONGODB_URI points elsewhere.
db: $(STAMP)
	@if [ -z "$$TMF_MONGODB_URI" ] && ! command -v mongod >/dev/null 2>&1; then $(BIN)/tmf-server build-db; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
pytest: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

bench: setup
	$(BIN)/python -m bench

bench-events: setup
	$(BIN)/python -m bench.events

# The full run (1,000 completions) takes over half an hour on the embedded database; see --help for smaller runs.
bench-orchestration: setup
	$(BIN)/python -m bench.orchestration

clean:
	rm -rf $(VENV) .cache var *.egg-info
