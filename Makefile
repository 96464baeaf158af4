# The two commands: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
PYTEST_ARGS ?=

.PHONY: run test test-coverage install install-dev migrate demo lint clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The secret key is made once, random, readable by its owner only.
instance/secret_key:
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $@

migrate: install instance/secret_key
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo

# Failed-login counters go to Redis when one answers locally, so the limit holds across workers.
run: demo
	@if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then \
	  echo "Rate-limit counters: redis://127.0.0.1:6379/0"; \
	  export ANNOTATOR_RATELIMIT_STORAGE_URI=$${ANNOTATOR_RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/0}; \
	else echo "Rate-limit counters: per worker (no Redis found; see README)"; fi; \
	echo "Serving on http://$${ANNOTATOR_BIND:-127.0.0.1:8000}"; \
	exec $(BIN)/gunicorn -c gunicorn.conf.py app:app

# Debian's chromium drives the browser tests; it is installed when missing (as root, with apt).
chromium:
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium to run the browser tests"; fi; }

test: install-dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# CI's run: the same suite under coverage, then the summary (files below 100%, lowest first).
test-coverage: install-dev chromium
	$(BIN)/python -m coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m coverage report

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
