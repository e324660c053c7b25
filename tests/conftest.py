"""Shared fixtures: a tiny synthetic archive and one quick demo run per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # timm must never wait on the hub in tests


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
