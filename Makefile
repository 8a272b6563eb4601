# Two commands on a fresh machine: `make run` (the app with demo data) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app survey
HOST ?= 127.0.0.1
PORT ?= 5000
# The app builds its printed and encoded address (QR codes, posters, tickets) from these
# unless PUBLIC_BASE_URL is set.
export HOST PORT

.PHONY: run test install install-dev lint translations bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[postgres,dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# A random secret key for this machine, written once; never committed (instance/ is ignored).
instance/config.py:
	@mkdir -p instance
	@$(PYTHON) -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" > $@
	@echo "Wrote $@ with a new random SECRET_KEY."

run: install instance/config.py
	$(FLASK) init
	$(FLASK) demo
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 1 --threads 8 --access-logfile - 'survey:create_app()'

test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

translations: install-dev
	$(BIN)/python tools/i18n.py build

bench: install-dev
	$(BIN)/python -m benchmarks.engine

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
