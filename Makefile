# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Offline by design: timm must not wait for the hub.
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install system demo demo-quick test clean

# The venv is ~7 GB (torch's CUDA build alone is 5.5 GB): say so up front rather than die mid-install.
NEED_GB ?= 8
$(BIN)/aurora-sw: pyproject.toml
	@free_gb=$$(df -Pk . | awk 'NR==2 {printf "%d", $$4/1048576}'); \
	if [ "$$free_gb" -lt $(NEED_GB) ]; then \
	  echo "error: installing aurora-sw needs about $(NEED_GB) GB free disk in $$(pwd) (the torch CUDA build is 5.5 GB); only $$free_gb GB free. Free some space (old clones' .venv folders?) and re-run."; exit 1; fi
	$(PY) -m venv $(VENV)
	@# torch first, exactly this pair: it is on local disk; a newer one is a multi-GB download.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1 > $(VENV)/pip-torch.log 2>&1 || (tail -n 25 $(VENV)/pip-torch.log; exit 1)
	$(BIN)/pip install -q -e ".[dev]" > $(VENV)/pip.log 2>&1 || (tail -n 25 $(VENV)/pip.log; exit 1)
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
