# Two commands do all set-up: `make run` and `make test` (see README).
# Each installs only what is missing: system packages (when root), the .venv, pip packages.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS := deploy,live,gui,tools,test
# Re-run pip only when the package metadata changed.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export OPENCV_IO_ENABLE_OPENEXR := 1

.PHONY: run test lint setup system bench clean

run: setup
	$(VENV)/bin/avatar-app

test: setup lint
	$(PY) -m pytest -q -n auto --dist loadfile

# ruff's version is pinned in pyproject.toml's test extra; `ruff format .` fixes what --check finds.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) tools/bench.py

setup: system $(STAMP)

system:
	@bash tools/install_system_deps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch 2.13.0 first: its CPU wheel is on local disk here; a bare `torch` would pull CUDA builds.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0" numpy
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@$(PY) -c "import mediapipe" 2>/dev/null || $(PY) -m pip install -q --no-deps "mediapipe>=1.2,<2"
	@rm -f $(VENV)/.installed-*
	@touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
