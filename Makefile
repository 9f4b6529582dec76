# Quick start: `make run` serves the assistant on the bundled corpus; `make test` runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install tools run test build eval bench lint lock clean

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

# Debian packages the tests need: Chromium (and a CJK font for screenshots) for the browser tests,
# wrk for the benchmark's load test. Installed when missing.
tools:
	@command -v chromium >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { \
	  echo "==> installing Chromium and wrk"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-wqy-zenhei wrk; }

build: install
	$(BIN)/qa build

run: install
	$(BIN)/qa serve --build

# The test suite, then the evaluation gate: fails when quality regressed against eval/baseline.json.
test: install tools
	$(BIN)/python -m pytest
	$(BIN)/qa eval --build

eval: install
	$(BIN)/qa eval --build --ablate

# Speed, scale and quality against peers: eval/bench/results.md (about 25 min the first time, with
# the 100,000-entry corpus to embed; BENCH_FLAGS=--million adds 1,000,000 entries, hours the first time).
bench: install tools
	$(BIN)/qa bench $(BENCH_FLAGS)

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch==' > requirements.lock.tmp
	(echo "# Exact versions of every package, used as pip constraints by \`make install\`."; \
	 echo "# Regenerate after changing pyproject.toml: make lock"; cat requirements.lock.tmp; echo "torch==2.13.0") \
	 > requirements.lock && rm requirements.lock.tmp

lint: install
	$(BIN)/ruff check qa ui tests
	$(BIN)/mypy qa ui

clean:
	rm -rf $(VENV) index/builds index/CURRENT index/models
