# The project's front door: `make run` and `make test` each bootstrap .venv on a fresh machine,
# installing exactly what uv.lock pins (with hashes) and nothing the index happens to serve today.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv itself, pinned by hash in tools/uv.txt, lives in a small venv of its own.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# Never download a Python: the machine's own (3.11+) is the one the venv is made from.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
SYNC := $(UV) sync --frozen --python $(PYTHON)

.PHONY: run test test-latest lock lint typecheck unit bench reliability migrate translations clean

# With the machine's pip it takes a few seconds; without one, a venv brings pip (slower).
$(UV): tools/uv.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	rm -rf $(TOOLS)
	if $(PYTHON) -m pip --version >/dev/null 2>&1; then \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
			--target $(TOOLS) -r tools/uv.txt; \
	else \
		$(PYTHON) -m venv $(TOOLS) && \
		$(TOOLS)/bin/python -m pip install --quiet --require-hashes --no-deps -r tools/uv.txt; \
	fi
	touch $@

# Inexact: a `make run` after `make test` keeps the test extras instead of removing them.
$(STAMP_RUN): uv.lock pyproject.toml | $(UV)
	$(SYNC) --quiet --inexact
	touch $@

$(STAMP_TEST): uv.lock pyproject.toml | $(UV)
	$(SYNC) --quiet --extra test
	touch $@ $(STAMP_RUN)

# Refresh the lock to the newest versions pyproject.toml allows (run `make test-latest` first).
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

# The canary: the suite on the newest versions the ranges allow, in a throw-away venv, so a
# lock refresh is tried before it is committed. Not part of CI.
test-latest: | $(UV)
	@latest=$$(mktemp -d /tmp/untoc-latest.XXXXXX) && trap 'rm -rf "$$latest"' EXIT && \
	$(UV) venv --quiet --python $(PYTHON) "$$latest" && \
	VIRTUAL_ENV="$$latest" $(UV) pip install --quiet --upgrade -e '.[test]' && \
	echo "Newest versions that differ from uv.lock:" && \
	VIRTUAL_ENV="$$latest" $(UV) pip freeze --exclude-editable | $(PYTHON) tools/lock_diff.py uv.lock && \
	"$$latest/bin/python" -m pytest $(PYTEST_ARGS)

migrate: $(STAMP_RUN)
	$(BIN)/untoc-watch db upgrade

run: migrate
	$(BIN)/untoc-watch run

# The layers and "no import cycles" are contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

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
	$(BIN)/python -m bot.text.i18n_extract --write
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 --ignore-obsolete -i bot/text/locales/messages.pot -d bot/text/locales

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
