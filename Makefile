# Two commands set everything up: `make run` and `make test` each create .venv on first use.
# `make install` (and run, index) installs what the bot needs to run; test, lint, format, eval and bench add the
# test and lint tools (.[dev]).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PYTHON ?= python3
TORCH := torch==2.13.0
# PyTorch's CPU-only wheels: the default index has the CUDA build, with gigabytes of NVIDIA libraries nobody uses here
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# a short reachability probe (timeout bounds a slow DNS too): without that index, torch comes from the default one
PROBE := timeout 10 $(PYTHON) -c "import urllib.request; urllib.request.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)"

.PHONY: install run test eval eval-adapted tune bench lint format index clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	if $(PROBE) >/dev/null 2>&1; then \
		$(PIP) install --quiet --timeout 30 --index-url $(TORCH_CPU_INDEX) $(TORCH) || $(PIP) install --quiet $(TORCH); \
	else \
		$(PIP) install --quiet $(TORCH); \
	fi
	$(PIP) install --quiet -c constraints.txt -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $(DEV_STAMP)

run: $(STAMP)
	$(PY) -m bot run

test: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

eval: $(DEV_STAMP)
	$(PY) -m tools.evaluation

eval-adapted: $(DEV_STAMP)
	$(PY) -m tools.evaluation --adapted

# fits the weights that choose the first quote (bot/tuned/) from tests/eval/train.jsonl, choosing on dev.jsonl
tune: $(DEV_STAMP)
	$(PY) -m tools.tune

bench: $(DEV_STAMP)
	$(PY) -m tools.bench
	$(PY) -m tools.bench_sources

index: $(STAMP)
	$(PY) -m bot index

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# the venv and everything built in embeddings/ (index builds, CURRENT, the build lock, the encoder cache); never data/
clean:
	rm -rf $(VENV) embeddings/build-* embeddings/index-* embeddings/CURRENT embeddings/.CURRENT.* embeddings/.lock \
		embeddings/encoder
