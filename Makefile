# Quick start: `make run` serves the assistant on the bundled corpus; `make test` runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test build lint clean

install: $(STAMP)

# One stamp per set of inputs: a changed pyproject.toml or lock reinstalls.
$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing torch==2.13.0 (CPU build) and the pinned dependencies"
	$(BIN)/python -m pip install --progress-bar on torch==2.13.0
	$(BIN)/python -m pip install --progress-bar on -c requirements.lock -e '.[dev]'
	@touch $(STAMP)
	@echo "==> set-up done"

build: install
	$(BIN)/qa build

run: install
	$(BIN)/qa serve --build

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check qa tests
	$(BIN)/mypy qa

clean:
	rm -rf $(VENV) index/builds index/CURRENT index/models
