# Two commands matter: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo needs only the two distributions (the exporter and the gateway simulator in
# simulator/), not the test and dev tools: its own stamp, which the full install also satisfies.
DEMO_STAMP := $(VENV)/.installed-demo
DEMO_ADDR ?= 127.0.0.1:9865
# One pip command for both, so the simulator's dependency on ccgw-exporter is met by the
# checkout (editable) and never looked up in an index. Built without build isolation, against
# the setuptools installed first (the build-system requirement of both pyproject.toml files):
# two isolated build environments cost a fresh machine more time than the whole demo start.
INSTALL := $(BIN)/python -m pip install -q
BUILD_DEPS := 'setuptools>=77'
INSTALL_EDITABLE := $(INSTALL) --no-build-isolation

.PHONY: demo test lint typecheck unit clean bench soak soak-ci fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the projects' metadata changes; editable, so code changes need nothing.
$(STAMP): pyproject.toml simulator/pyproject.toml | $(BIN)/python
	$(INSTALL) --upgrade pip $(BUILD_DEPS)
	$(INSTALL_EDITABLE) -e '.[test,dev]' -e ./simulator
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml simulator/pyproject.toml | $(BIN)/python
	$(INSTALL) $(BUILD_DEPS)
	$(INSTALL_EDITABLE) -e . -e ./simulator
	touch $(DEMO_STAMP)

# `make demo DEMO_ADDR=127.0.0.1:9999` serves the exporter elsewhere.
demo: $(DEMO_STAMP)
	$(BIN)/ccgw-exporter --demo --web.listen-address=$(DEMO_ADDR)

lint: $(STAMP)
	$(BIN)/ruff check exporter simulator tests grafana prometheus bench soak deploy
	$(BIN)/ruff format --check exporter simulator tests grafana prometheus bench soak deploy

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite in PYTEST_WORKERS processes (pytest-xdist), each test module in one of them and the
# end-to-end stack's modules together (tests/conftest.py groups them, longest first). Most of
# the suite's time is spent waiting on child processes, Prometheus and timers, not on the CPU,
# so more workers than cores pays; PYTEST_WORKERS=0 runs it in this one process. A test stuck
# for PYTEST_TIMEOUT seconds fails with every thread's stack instead of holding the run until
# CI's limit. Bytecode is cached even where the environment turns it off (as container images
# do): otherwise each worker and each exporter subprocess compiles the same sources again.
PYTEST_WORKERS ?= 4
PYTEST_TIMEOUT ?= 300
unit: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup \
		--timeout $(PYTEST_TIMEOUT) $(PYTEST_ARGS)

test: lint typecheck unit

# Performance floors of issues 5 and 18 against real processes (< 2 min): wall time, CPU (in
# process, and the whole exporter process against a naive aiohttp + json.loads client), RSS,
# gateway calls, serving. BENCH_ARGS=--full for the 1,000-scrape memory run. Table on stdout,
# JSON in bench/results/latest.json (bench/README.md says how each is measured).
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Issue 6: the exporter process under 30 minutes of cycling faults; RSS, fds, asyncio tasks
# and sessions at start and end (docs/reliability.md). soak-ci: 2 minutes, fails if tasks or
# fds grow, a scrape goes unanswered or shutdown is unclean (.ci/run calls it after `make test`).
soak: $(STAMP)
	$(BIN)/python soak/run.py --minutes 30 $(SOAK_ARGS)

soak-ci: $(STAMP)
	$(BIN)/python soak/run.py --minutes 2 --check $(SOAK_ARGS)

# Issue 12: the hostile-gateway property tests (tests/hostile/test_fuzz.py) with a large
# hypothesis budget: CCGW_FUZZ_EXAMPLES examples per vendor call (default 40, ~10 minutes);
# `make test` runs the same tests with 2 fixed examples each.
fuzz: $(STAMP)
	CCGW_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/hostile/test_fuzz.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
