"""The labelling and training commands, end to end on a tiny synthetic archive (in-process)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aurora_sw.cli import app
from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import import_folders

runner = CliRunner()


def invoke(args):
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def labelled(small_archive, tmp_path_factory):
    """A CSV of truth labels: 60 frames a night, as a person would have labelled them."""
    truth = pd.read_csv(small_archive.truth_csv)
    picks = truth.groupby("night", group_keys=False).apply(lambda g: g.iloc[:: max(len(g) // 60, 1)])
    folder = tmp_path_factory.mktemp("labels")
    csv = folder / "labels.csv"
    pd.DataFrame({"path": [str(small_archive.root / p) for p in picks["path"]], "label": np.where(picks["aurora_visible"], "yes", "no")}).to_csv(csv, index=False)
    return csv


def test_label_sample_import_and_report(small_archive, labelled, tmp_path):
    from aurora_sw.ingest import ingest

    ingest([small_archive.frames_dir], tmp_path / "arch", progress=False)
    out = invoke(["label", "sample", "--archive", tmp_path / "arch", "--out", tmp_path / "s.csv", "--per-night", 10, "--sun", "Night,Astro,Nautical", "--moon", "NoMoon,Moon_Quarter,Moon_Full"])
    assert "frames from 2 nights" in out
    assert len(pd.read_csv(tmp_path / "s.csv")) == 20
    out = invoke(["label", "import", labelled, "--store", tmp_path / "labels.parquet", "--labeller", "ana"])
    assert "from 2 nights" in out
    assert "val" in invoke(["label", "report", "--store", tmp_path / "labels.parquet", "--val-fraction", 0.5])


def test_folder_sets_import_with_times_and_given_split(small_archive, tmp_path):
    first = sorted((small_archive.frames_dir / small_archive.nights[0]).iterdir())[:4]
    for i, f in enumerate(first):
        dest = tmp_path / ("train" if i < 2 else "val") / ("yes" if i % 2 else "no")
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f.name).write_bytes(f.read_bytes())
    rows = import_folders(tmp_path)
    assert sorted(rows.given_split) == ["train", "train", "val", "val"]
    assert set(rows.night) == {small_archive.nights[0]}
    (tmp_path / "val" / "no" / "IMG_0001.jpg").write_bytes(first[0].read_bytes())
    with pytest.raises(AuroraSWError, match="no UTC time"):
        import_folders(tmp_path)


def test_train_resume_evaluate_gradcam(labelled, tmp_path, monkeypatch):
    # One epoch on a few dozen frames tests the plumbing, not a classifier: let every epoch through the
    # validation check here (tests/test_model.py tests the check and the refusal it leads to).
    monkeypatch.setattr("aurora_sw.model.train.MIN_BALANCED_ACCURACY", 0.0)
    monkeypatch.setattr("aurora_sw.model.train.MIN_CLASS_RECALL", 0.0)
    invoke(["label", "import", labelled, "--store", tmp_path / "labels.parquet"])
    with pytest.raises(AuroraSWError, match="choose the initial weights"):
        runner.invoke(app, ["train", "--labels", str(tmp_path / "labels.parquet")], catch_exceptions=False)
    common = ["train", "--labels", tmp_path / "labels.parquet", "--out", tmp_path / "model", "--val-fraction", 0.5, "--input-size", 32,
              "--from-scratch", "--lr-full", 1e-3, "--batch-size", 16]
    invoke(common + ["--epochs-full", 1])
    invoke(common + ["--epochs-full", 2, "--resume"])
    last = torch_load(tmp_path / "model" / "last.pt")
    assert last["epoch"] == 2 and len(last["metrics"]["history"]) == 2  # the resumed run continued, not restarted
    invoke(common + ["--epochs-full", 5, "--resume", "--max-seconds", 1e-6])  # a budget already spent: one more epoch, then stop
    assert torch_load(tmp_path / "model" / "last.pt")["epoch"] == 3

    out = invoke(["evaluate", "--model", tmp_path / "model" / "best.pt", "--labels", tmp_path / "model" / "split.parquet", "--out", tmp_path / "report"])
    assert "accuracy" in out
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["n"] > 0 and {"tp", "fp", "fn", "tn"} <= set(metrics["confusion"])
    for name in ("per_condition.csv", "reliability.png", "softmax_by_condition.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0

    frames = pd.read_parquet(tmp_path / "model" / "split.parquet")["path"].iloc[:3].tolist()
    invoke(["gradcam", *frames, "--model", tmp_path / "model" / "best.pt", "--out", tmp_path / "cam", "--size", 64])
    stats = pd.read_csv(tmp_path / "cam" / "cam_stats.csv")
    assert len(stats) == 3 and stats["cam_fraction_above_0_5"].between(0, 1).all()
    assert len(list((tmp_path / "cam").glob("*_cam.png"))) == 3


def torch_load(path):
    import torch

    return torch.load(path, weights_only=True)
