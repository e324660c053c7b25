"""Shared fixtures: a tiny synthetic archive and one quick demo run per test session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # timm must never wait on the hub in tests
# Exported ONNX graphs go to a cache of this run, not the user's ~/.cache (aurora_sw.model.runtime).
os.environ.setdefault("AURORA_SW_CACHE", tempfile.mkdtemp(prefix="aurora_sw_test_cache_"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each (torch's OpenMP pool spins when oversubscribed).
    # Set before torch is first imported; the commands tests start in subprocesses inherit it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# Under pytest-xdist (``make test`` runs ``-n 2``) every test that uses the quick demo runs on one
# worker, so the session's demo is made once, not once per worker. (xdist's own ``xdist_group``
# renames node ids, which pytest 9 no longer lets it do.) Each worker lists its demo tests in a file
# the controller named; the controller's scheduler, which never collects, reads it.
DEMO_FIXTURES = {"demo_run", "demo_live"}


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["AURORA_SW_DEMO_TESTS"] = tempfile.mkstemp(prefix="aurora_sw_demo_tests_", suffix=".txt")[1]


def pytest_unconfigure(config):
    if not os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("AURORA_SW_DEMO_TESTS"):
        Path(os.environ.pop("AURORA_SW_DEMO_TESTS")).unlink(missing_ok=True)


def pytest_collection_modifyitems(config, items):
    listing = os.environ.get("AURORA_SW_DEMO_TESTS")
    if os.environ.get("PYTEST_XDIST_WORKER") and listing:
        ids = [item.nodeid for item in items if DEMO_FIXTURES & set(getattr(item, "fixturenames", ()))]
        Path(listing).write_text("\n".join(ids))  # every worker collects the same tests: the same list


def pytest_xdist_make_scheduler(config, log):
    """Load scheduling in which the demo's tests are one unit of work (one worker), the rest one each."""
    from xdist.scheduler import LoadScopeScheduling

    class DemoTestsTogether(LoadScopeScheduling):
        demo: set[str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.demo is None:
                listing = Path(os.environ.get("AURORA_SW_DEMO_TESTS", "/nonexistent"))
                self.demo = set(listing.read_text().split("\n")) if listing.is_file() else set()
            return "quick demo" if nodeid in self.demo else nodeid

    return DemoTestsTogether(config, log)


@pytest.fixture(autouse=True)
def _main_module_restored():
    """Streamlit's AppTest runs the app as ``__main__`` and leaves it there; a spawn process pool
    started later in the same process (the synthetic sky's renderer) would then run that script
    again in every child and break. The real ``__main__`` is put back after each test."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    yield
    sys.modules["__main__"] = main
    if path is None:
        main.__dict__.pop("__file__", None)
    else:
        main.__file__ = path


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
def tiny_archive(small_archive, tmp_path_factory):
    """Every 25th frame of the small archive's two nights, ingested."""
    import shutil

    from aurora_sw.ingest import ingest

    root = tmp_path_factory.mktemp("tiny")
    for night in small_archive.nights:
        (root / "frames" / night).mkdir(parents=True)
        for f in sorted((small_archive.frames_dir / night).iterdir())[::25]:
            shutil.copy(f, root / "frames" / night / f.name)
    ingest([root / "frames"], root / "arch", progress=False)
    return root / "arch"


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
