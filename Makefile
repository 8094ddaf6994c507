# tiersim — quick start:  make forecast   (sets up .venv, runs the default forecast)
#                         make test       (sets up .venv, runs the test suite)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# the default forecast (README): Shandong, baseline policy, 100 replicates
SCENARIO ?= shandong
POLICY   ?= baseline
N        ?= 100
SEED     ?= 1

.PHONY: setup forecast test lint bench bench-all lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

forecast: $(STAMP)
	$(PY) -m experiments.forecast scenario=$(SCENARIO) policy=$(POLICY) n_replicates=$(N) seed=$(SEED)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) benchmarks/run.py

# bench plus the 200-replicate national forecast, 5 runs (~40 min more)
bench-all: $(STAMP)
	$(PY) benchmarks/run.py --ensemble

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache
