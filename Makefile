# Two commands set everything up: `make run` and `make test` each create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test eval eval-adapted bench lint format index clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

eval: $(STAMP)
	$(PY) -m tools.evaluation

eval-adapted: $(STAMP)
	$(PY) -m tools.evaluation --adapted

bench: $(STAMP)
	$(PY) -m tools.bench
	$(PY) -m tools.bench_sources

index: $(STAMP)
	$(PY) -m bot index

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) embeddings/index-* embeddings/CURRENT
