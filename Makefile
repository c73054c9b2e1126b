# `make run`: set up and start the app (builds the index first if needed).
# `make test`: set up and run the tests.
# Set-up is a virtualenv in .venv, redone when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test index chromium clean

# Browser tests drive Debian's Chromium (never a downloaded browser build).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) app.py

index: setup
	$(VENV)/bin/rag index

chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: setup chromium
	$(PY) -m pytest

clean:
	rm -rf $(VENV) index/current index/gen-* index/.tmp-* index/.current-* index/.lock
