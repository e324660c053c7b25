"""Reading the index, the solar wind and the analyses never loads the classifier's libraries.

Found: `import aurora_sw.index` took 5 s and loaded torch (index/store.py took the Grad-CAM
attributes from model/gradcam, index/keogram.py read frames through model/data), so `aurora-sw
query`, `summary` and the analyses paid for a model they never use. Each check runs in a fresh
interpreter, since this test session has imported torch long ago.
"""

import subprocess
import sys
import textwrap

from test_store import NIGHTS, scored_frames  # a store written from made-up scores, in seconds

HEAVY = ("torch", "torchvision", "timm", "onnxruntime")


def loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = textwrap.dedent(code) + f"\nimport sys\nprint('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return [m for m in res.stdout.strip().splitlines()[-1].removeprefix("loaded:").split(",") if m]


READERS = (  # every module that reads the index or the solar wind, or analyses them
    "aurora_sw.index", "aurora_sw.index.schema", "aurora_sw.index.summary", "aurora_sw.index.keogram", "aurora_sw.index.physical",
    "aurora_sw.index.background", "aurora_sw.analysis", "aurora_sw.analysis.merge", "aurora_sw.analysis.epochs",
    "aurora_sw.analysis.recurrence", "aurora_sw.analysis.causality", "aurora_sw.solarwind", "aurora_sw.solarwind.variables",
    "aurora_sw.solarwind.events",
)


def test_index_analysis_and_solarwind_import_without_torch():
    assert loaded_after("import aurora_sw.index, aurora_sw.analysis, aurora_sw.solarwind") == []
    assert loaded_after(f"import {', '.join(READERS)}") == []


def test_scoring_still_loads_the_model_when_asked():
    """The probe can see torch: scoring (imported on its own, not by the package) loads it."""
    assert "torch" in loaded_after("import aurora_sw.index.score")


def run_cli(*args: str) -> str:
    """Code that runs ``aurora-sw ARGS`` as the console script does (for :func:`loaded_after`)."""
    return f"""
        import sys
        sys.argv = ["aurora-sw", *{list(args)!r}]
        from aurora_sw.cli import main
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        """


def test_help_does_not_load_torch():
    assert loaded_after(run_cli("--help")) == []
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "query" in res.stdout, res.stderr


def test_query_summary_and_indices_do_not_load_torch(tmp_path):
    """The commands a user runs on an index, and on single frames, work without the model."""
    import cv2
    import numpy as np

    from aurora_sw.index.store import init_store, write_night

    store = tmp_path / "index.zarr"
    init_store(store, NIGHTS[0], NIGHTS[0], 0.5, {"model_sha256": "test"})
    write_night(store, NIGHTS[0], scored_frames(NIGHTS[0], 0, n=30))
    assert loaded_after(run_cli("summary", "--index", str(store))) == []
    assert loaded_after(run_cli("query", "--index", str(store), "--out", str(tmp_path / "q.csv"))) == []
    assert (tmp_path / "q.csv").read_text().count("\n") == 31  # header + 30 scored minutes
    frame = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "sky.jpg"), frame)
    assert loaded_after(run_cli("indices", str(tmp_path / "sky.jpg"))) == []
