# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Offline by design: timm must not wait for the hub.
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install system demo demo-quick test clean

$(BIN)/aurora-sw: pyproject.toml
	$(PY) -m venv $(VENV)
	@# torch first, exactly this pair: it is on local disk; a newer one is a multi-GB download.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1 > $(VENV)/pip-torch.log 2>&1 || (cat $(VENV)/pip-torch.log; exit 1)
	$(BIN)/pip install -q -e ".[dev]" > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(BIN)/python -c "import aurora_sw.cli, torch, timm, pyspedas, streamlit"
	touch $@

# tesseract reads the time burned into AuroraMAX movies (Debian package; installed when we are root).
system:
	@command -v tesseract >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends tesseract-ocr >/dev/null; \
	  else echo "note: movie ingest needs tesseract: sudo apt-get install tesseract-ocr (its tests are skipped until then)"; fi; }
	@command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	  else echo "note: the Explorer's browser test needs Chromium: sudo apt-get install chromium chromium-driver (skipped until then)"; fi; }

install: system $(BIN)/aurora-sw

demo: install
	$(BIN)/aurora-sw demo --out demo_out

demo-quick: install
	$(BIN)/aurora-sw demo --quick --out demo_out

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo_out
