# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Offline by design: timm must not wait for the hub, pyspedas must not try to download.
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install demo test clean

$(BIN)/aurora-sw: pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, exactly this pair: it is on local disk; a newer one is a multi-GB download.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import aurora_sw, torch, timm, pyspedas" # fail here, not later, if the install broke
	touch $@

install: $(BIN)/aurora-sw

demo: install
	$(BIN)/aurora-sw demo --out demo_out

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo_out
