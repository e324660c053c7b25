"""Shared fixtures: a tiny synthetic archive and one quick demo run per test session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # timm must never wait on the hub in tests
# Exported ONNX graphs go to a cache of this run, not the user's ~/.cache (aurora_sw.model.runtime).
os.environ.setdefault("AURORA_SW_CACHE", tempfile.mkdtemp(prefix="aurora_sw_test_cache_"))


@pytest.fixture(scope="session")
def catalog():
    from aurora_sw.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def small_archive(tmp_path_factory, catalog):
    """Two nights of 128 px synthetic frames (fast), with OMNI CDFs and truth."""
    from aurora_sw.synthetic import generate_archive

    return generate_archive(tmp_path_factory.mktemp("synthetic"), "2024-02-05", n_nights=2, seed=1, size=128, catalog=catalog, progress=False)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, catalog):
    """The quick demo, run once: (output folder, summary dict).

    ``AURORA_SW_TEST_DEMO=DIR`` reuses a quick demo already made in DIR (for iterating on the
    Explorer's tests; CI always makes a fresh one).
    """
    import json
    import os

    from aurora_sw.demo import DemoConfig, run_demo

    if os.environ.get("AURORA_SW_TEST_DEMO"):
        reuse = Path(os.environ["AURORA_SW_TEST_DEMO"])
        return reuse, json.loads((reuse / "summary.json").read_text())

    out = tmp_path_factory.mktemp("demo")
    summary = run_demo(out, DemoConfig.quick(), catalog, progress=False)
    return out, summary


@pytest.fixture(scope="session")
def demo_live(demo_run, tmp_path_factory):
    """The quick demo's output with two minutes run live into its ``live/`` store: `aurora-sw live`'s
    cycle against a 127.0.0.1 server holding SWPC-format solar wind and a camera still."""
    import json

    import pandas as pd

    from aurora_sw.catalog import load_catalog
    from aurora_sw.forecast import load_forecast_model
    from aurora_sw.layout import ProjectLayout
    from aurora_sw.model.checkpoint import load_checkpoint
    from aurora_sw.workflows.live import live_cycle
    from test_live import AT, Server, catalog_with, still_jpeg, swpc_products

    out, s = demo_run
    files = {k: json.dumps(v).encode() for k, v in swpc_products(AT).items()}
    files["/recent_1080p.jpg"] = still_jpeg(sorted((out / "synthetic" / "frames" / s["nights"][2]).iterdir())[300])
    server = Server(files)
    try:
        cat = load_catalog(catalog_with(tmp_path_factory.mktemp("live_catalog"), server.url))
        ckpt, model = load_checkpoint(out / "model" / "best.pt"), load_forecast_model(out / "forecast")
        for minute in range(2):
            live_cycle(checkpoint=ckpt, forecast=model, store=ProjectLayout(out, cat.outputs).live, catalog=cat, at=AT + pd.Timedelta(minutes=minute))
    finally:
        server.close()
    return out
