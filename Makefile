# The newcomer contract: `make run` runs the service, `make test` passes the tests.
# Needs only Python 3.11 and make: everything else is installed into .venv from pinned versions.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run demo test check-live lint fmt audit bench bench-smoke clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@

run: install  ## API :8000, workers, Flower :5555; embedded Redis when none answers at REDIS_URL
	$(BIN)/python -m scripts.run

demo: install  ## `make run` plus fakes of REGOS and the providers, seeded for a full offline round trip
	$(BIN)/python -m scripts.run --demo

test: install  ## the whole suite against its own private Redis, a real worker and HTTP fakes
	$(BIN)/python -m pytest

check-live: install  ## real credentials in the environment: each configured service accepts them (not in CI; docs/contracts.md)
	$(BIN)/python -m scripts.check_live

lint: install  ## ruff, and import-linter's layering contracts (pyproject.toml, README "Layout and layering")
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

audit: install  ## known vulnerabilities in the pinned dependencies (needs pypi.org's JSON API; not in CI, see README)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip-audit==2.10.1
	$(BIN)/pip-audit -r requirements.txt -r requirements-dev.txt --progress-spinner off

bench: install  ## all benchmarks; figures in bench/results/*.json and a table
	$(BIN)/python -m bench.run

bench-smoke: install  ## tiny counts, < 60 s: keeps the benchmark scripts working
	$(BIN)/python -m bench.run --smoke

clean:
	rm -rf $(VENV) .run .pytest_cache .ruff_cache
