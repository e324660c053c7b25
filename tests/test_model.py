"""Classifier pieces: checkpoints are weights-only and round-trip exactly; the head starts at zero."""

import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model import Checkpoint, create_model, load_checkpoint, save_checkpoint
from aurora_sw.model.data import normalize
from aurora_sw.model.train import TrainConfig, train_classifier, validation_check


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = create_model("efficientnet_b1").eval()
    with torch.no_grad():  # give the head non-zero weights so the round trip is a real test
        m.get_classifier().weight.normal_()
    return m


def test_fresh_head_is_zero_so_the_first_loss_is_ln2():
    m = create_model("efficientnet_b1").eval()
    with torch.no_grad():
        logits = m(torch.randn(2, 3, 64, 64))
    assert torch.all(logits == 0)


def test_checkpoint_round_trip_gives_identical_logits(model, tmp_path):
    x = torch.randn(3, 3, 64, 64)
    ckpt = Checkpoint(model_name="efficientnet_b1", state_dict=model.state_dict(), input_size=64, metrics={"val_accuracy": 0.9})
    path = save_checkpoint(ckpt, tmp_path / "c.pt")
    back = load_checkpoint(path)
    assert back.metrics["val_accuracy"] == 0.9 and back.normalization == "sky_background"
    with torch.no_grad():
        assert torch.equal(model(x), back.build_model()(x))


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "aurora-sw-classifier/1", "payload": Evil()}, path)
    with pytest.raises(AuroraSWError, match="refused"):
        load_checkpoint(path)
    (tmp_path / "notckpt.pt").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(AuroraSWError):
        load_checkpoint(tmp_path / "notckpt.pt")


def test_sky_background_normalisation_removes_uniform_brightening():
    img = torch.randint(0, 60, (3, 32, 32), dtype=torch.uint8)
    brighter = img + 40  # moonlight raises the whole sky
    assert torch.allclose(normalize(img), normalize(brighter), atol=1e-6)


def test_offline_pretrained_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from aurora_sw.errors import NetworkUnavailableError

    with pytest.raises(NetworkUnavailableError, match="--weights FILE"):
        create_model("efficientnet_b1", pretrained=True)


def test_sky_background_median_from_histograms_equals_torch_median():
    torch.manual_seed(1)
    for shape in [(3, 240, 240), (2, 3, 64, 64), (3, 5, 4)]:
        img = torch.randint(0, 256, shape, dtype=torch.uint8)
        expected = 2.0 * (img.float() / 255 - (img.float() / 255).flatten(-2).median(-1).values[..., None, None]) / torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)
        assert torch.allclose(normalize(img, "sky_background"), expected, atol=1e-6), shape


def test_normalisation_tables_give_the_tensor_paths_values_bit_for_bit():
    """uint8 frames on the CPU go through a 256-entry table per channel; every value, in either
    mode, any leading shape and a permuted (HWC-backed) view, equals the float tensor path's."""
    from aurora_sw.model.data import _MEAN, _STD, _channel_median

    torch.manual_seed(2)
    every_value = torch.arange(256, dtype=torch.uint8).repeat(3, 4, 1)  # all 256 levels in every channel
    for img in (every_value, torch.randint(0, 256, (240, 240, 3), dtype=torch.uint8).permute(2, 0, 1), torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)):
        x = img.float() / 255.0
        expected = {"imagenet": (x - _MEAN) / _STD, "sky_background": 2.0 * (x - _channel_median(img) / 255.0) / _STD}
        for mode, want in expected.items():
            got = normalize(img, mode)
            assert got.dtype == torch.float32 and got.shape == img.shape and torch.equal(got, want), (mode, img.shape)
    with pytest.raises(ValueError, match="unknown normalization"):
        normalize(every_value, "zscore")
    for odd in (torch.randint(0, 256, (2, 1, 6, 6), dtype=torch.uint8), torch.zeros((0, 3, 6, 6), dtype=torch.uint8)):  # one channel; no frames
        x = odd.float() / 255.0
        torch.testing.assert_close(normalize(odd), 2.0 * (x - _channel_median(odd) / 255.0) / _STD, rtol=0, atol=0)
        torch.testing.assert_close(normalize(odd, "imagenet"), (x - _MEAN) / _STD, rtol=0, atol=0)


def _unlearnable_frames(tmp_path, per_night: int = 16) -> pd.DataFrame:
    """Two nights of 64 px frames (the strict reader refuses smaller), half labelled aurora, every one the very same image: no model
    can tell the classes apart, so whatever it learns calls every frame one class."""
    import cv2

    sky = np.random.default_rng(0).normal(30, 3, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    rows = []
    for night, start in (("2024-02-05", "2024-02-06T04:00Z"), ("2024-02-06", "2024-02-07T04:00Z")):
        for i in range(per_night):
            aurora = i % 2 == 1
            time = pd.Timestamp(start) + pd.Timedelta(minutes=i)
            path = tmp_path / night / f"{time:%Y%m%dT%H%M%SZ}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), sky)
            rows.append({"path": str(path), "time_utc": time, "night": night, "label": "yes" if aurora else "no"})
    return pd.DataFrame(rows)


def _split(frames: pd.DataFrame) -> pd.DataFrame:
    return frames.assign(split=np.where(frames["night"] == "2024-02-05", "train", "val"))


TINY = dict(input_size=32, epochs_head=0, epochs_full=2, lr_full=1e-3, batch_size=8)


def test_validation_check_flags_constant_and_one_sided_predictors():
    y = np.repeat([True, False], 20)
    constant = validation_check(y, np.full(40, 0.51))
    assert constant["degenerate"] and constant["balanced_accuracy"] == 0.5
    assert "calls 100% of the frames aurora" in constant["problem"]
    # Ranks the classes perfectly (AUC 1) but never says "aurora" at the threshold: still useless for scoring.
    one_sided = validation_check(y, np.where(y, 0.45, 0.05))
    assert one_sided["degenerate"] and one_sided["roc_auc"] == 1.0 and "recall: aurora 0.00" in one_sided["problem"]
    weak = validation_check(y, np.where(np.arange(40) % 4 == 0, 1 - y, y).astype(float))  # right 3 times in 4... on each class
    assert not weak["degenerate"] and weak["balanced_accuracy"] == 0.75
    with pytest.raises(ValueError, match="both classes"):
        validation_check(np.ones(5, bool), np.full(5, 0.9))


def test_training_that_cannot_learn_restarts_then_fails_with_the_validation_numbers(tmp_path):
    split = _split(_unlearnable_frames(tmp_path / "frames"))
    with pytest.raises(AuroraSWError, match=r"no usable classifier.*16 frames, 8 aurora, 8 no aurora.*2 run\(s\).*balanced accuracy 0\.50"):
        train_classifier(split, TrainConfig(**TINY, restarts=1), tmp_path / "model", progress=False)
    assert not (tmp_path / "model" / "best.pt").exists()  # nothing a scorer could pick up
    last = load_checkpoint(tmp_path / "model" / "last.pt")
    assert [r["run"] for r in last.metrics["restarted_runs"]] == [0, 1]
    assert last.metrics["restarted_runs"][1]["lr_scale"] == 0.5
    assert last.metrics["degenerate_epochs"] == [[0, 1], [0, 2], [1, 1], [1, 2]]
    assert last.metrics["validation_check"]["degenerate"]


def test_train_command_refuses_a_constant_classifier(tmp_path):
    """How the problem was found: a quick demo whose classifier called every frame aurora. The
    command now stops with one line that gives the validation numbers, and writes no best.pt."""
    import subprocess
    import sys

    from aurora_sw.labels import LabelStore

    LabelStore(tmp_path / "labels.parquet").add(_unlearnable_frames(tmp_path / "frames"))
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "train", "--labels", str(tmp_path / "labels.parquet"), "--out", str(tmp_path / "model"),
         "--val-fraction", "0.5", "--from-scratch", "--input-size", "32", "--epochs-full", "1", "--lr-full", "1e-3", "--batch-size", "8"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert res.returncode == 1, res.stdout + res.stderr
    err = res.stderr.strip().splitlines()
    assert err[-1].startswith("aurora-sw: error: ") and "no usable classifier" in err[-1] and "balanced accuracy 0.50" in err[-1]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "model" / "best.pt").exists()
