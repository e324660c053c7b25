"""Scoring never gives a probability to a frame the strict reader refuses: NaN, a flag, a count."""

import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from aurora_sw.index.score import score_frames
from aurora_sw.index.store import open_index
from aurora_sw.ingest import ingest, read_manifest
from aurora_sw.index.schema import FLAG_BITS
from aurora_sw.model import Checkpoint, create_model, save_checkpoint


@pytest.fixture(scope="module")
def spoiled(small_archive, tmp_path_factory):
    """An archive of 30 frames of a night, three of them spoiled after the camera wrote them, and a
    small classifier that calls every frame aurora (p ~ 1): what a grey-filled frame once got."""
    root = tmp_path_factory.mktemp("score")
    frames = root / "frames"
    frames.mkdir()
    for f in sorted((small_archive.frames_dir / small_archive.nights[0]).iterdir())[:30]:
        shutil.copy(f, frames / f.name)
    paths = sorted(frames.iterdir())
    cut, tiny, grey = paths[10], paths[11], paths[12]
    cut.write_bytes(cut.read_bytes()[: int(0.4 * cut.stat().st_size)])
    cv2.imwrite(str(tiny), cv2.imread(str(tiny))[:1, :1])
    cv2.imwrite(str(grey), cv2.cvtColor(cv2.imread(str(grey)), cv2.COLOR_BGR2GRAY))
    ingest([frames], root / "arch", progress=False)
    torch.manual_seed(0)
    model = create_model("efficientnet_b0")
    with torch.no_grad():
        model.get_classifier().weight.zero_()
        model.get_classifier().bias.copy_(torch.tensor([-8.0, 8.0]))  # confident "aurora" for any input
    ckpt = save_checkpoint(Checkpoint("efficientnet_b0", model.state_dict(), 32), root / "model.pt")
    return root, ckpt, {cut.name: "truncated", tiny.name: "too_small", grey.name: "greyscale"}


def test_score_frames_gives_nan_and_the_reason(spoiled):
    root, ckpt, bad = spoiled
    m = read_manifest(root / "arch")
    from aurora_sw.model import load_checkpoint

    out = score_frames(list(m["path"]), load_checkpoint(ckpt), progress=False)
    names = [p.rsplit("/", 1)[-1] for p in m["path"]]
    problem = dict(zip(names, out["frame_problem"]))
    assert {n: r for n, r in problem.items() if r} == bad
    p = dict(zip(names, out["p_aurora"]))
    assert all(np.isnan(p[n]) for n in bad)
    assert all(p[n] > 0.99 for n in names if n not in bad)  # the model says aurora to whatever it is shown
    assert out["readable"].sum() == len(m) - 3


def test_score_command_stores_nan_with_the_flag_and_counts_them(spoiled):
    root, ckpt, bad = spoiled
    store = root / "index.zarr"
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(ckpt), "--out", str(store)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "(27 frames, 3 unreadable)" in res.stdout
    ds = open_index(store).load()
    m = read_manifest(root / "arch")
    for path, t in zip(m["path"], m["time_utc"]):
        at = np.datetime64(t.tz_localize(None).floor("1min"))
        p, flags = float(ds["p_aurora"].sel(time=at)), int(ds["flags"].sel(time=at))
        reason = bad.get(path.rsplit("/", 1)[-1])
        if reason:
            assert np.isnan(p) and flags & FLAG_BITS[reason], (reason, p, flags)
        else:
            assert p > 0.99 and not flags & (FLAG_BITS["truncated"] | FLAG_BITS["too_small"] | FLAG_BITS["greyscale"])
