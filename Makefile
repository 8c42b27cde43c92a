# The project's front door: `make run` and `make test` each bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck unit bench reliability migrate translations clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

migrate: $(STAMP_RUN)
	$(BIN)/untoc-watch db upgrade

run: migrate
	$(BIN)/untoc-watch run

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_TEST)
	$(BIN)/mypy .

# Mozilla's ical.js, one of the independent parsers the calendar tests read our feeds with.
PARSERS := tests/calendar_parsers
$(PARSERS)/node_modules/.installed: $(PARSERS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(PARSERS) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the ical.js calendar test will be skipped"; fi

unit: $(STAMP_TEST) $(PARSERS)/node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(STAMP_RUN)
	for f in bench/bench_*.py; do $(BIN)/python -m bench.$$(basename $$f .py) || exit 1; done

# The whole service under load, faults and hostile input; rewrites the figures in
# docs/RELIABILITY.md (several minutes; the tests run a short form of each part).
reliability: $(STAMP_TEST)
	$(BIN)/python -m reliability --write-docs

# Re-extract every message into the template and merge it into each catalog.
translations: $(STAMP_RUN)
	$(BIN)/pybabel extract --no-location --sort-output --width 100 -F babel.cfg -k texts -k words -k t -k N_ -k plural:1,2 \
		-o bot/locales/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 --ignore-obsolete -i bot/locales/messages.pot -d bot/locales

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
