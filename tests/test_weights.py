"""`train --weights FILE`: local ImageNet weights are read weights-only and must fit the backbone.

Found as: timm 1.0.9-1.0.25 unpickle a `pretrained_cfg_overlay` file with weights_only=False,
so a crafted .pth handed to `train --weights` ran code; and a file for another EfficientNet
(B0 into B1) loaded half its tensors without a word.
"""

import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import LabelStore
from aurora_sw.model import create_model


class WritesMarker:
    """Unpickling this writes a file: the proof that a loader ran code from the weights file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.write_text, (self.marker, "code ran while loading weights"))


@pytest.fixture(scope="module")
def b0_weights(tmp_path_factory):
    """A genuine efficientnet_b0 state dict (1000-class ImageNet head), as .pth and .safetensors."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(7)
    sd = {k: v.clone() for k, v in create_model("efficientnet_b0", num_classes=1000).state_dict().items()}
    with torch.no_grad():  # not the default init (BN is 1/0 there): loaded tensors must be told apart from fresh ones
        for k, v in sd.items():
            if v.is_floating_point():
                v.add_(0.01 * torch.randn_like(v))
            if k.endswith("running_var"):
                v.abs_()
    torch.save(sd, folder / "b0.pth")
    save_file(sd, str(folder / "b0.safetensors"))
    torch.save({"state_dict": sd, "epoch": 3}, folder / "b0_wrapped.pth")  # as timm's train.py writes it
    return folder, sd


@pytest.fixture(scope="module")
def label_store(tmp_path_factory):
    """8 tiny frames of 2 nights, labelled yes/no: enough for `train` to reach the model."""
    folder = tmp_path_factory.mktemp("labels")
    rng = np.random.default_rng(0)
    rows = []
    for night, day in (("2024-02-05", "20240206"), ("2024-02-06", "20240207")):
        for i, label in enumerate(["yes", "no"] * 2):
            path = folder / f"{day}0{i}0000.jpg"
            cv2.imwrite(str(path), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
            rows.append({"path": str(path), "time_utc": pd.Timestamp(f"{day}T0{i}:00", tz="UTC"), "night": night, "label": label})
    store = LabelStore(folder / "labels.parquet")
    store.add(pd.DataFrame(rows))
    return store.path


def aurora_sw(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "aurora_sw", *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def train_args(labels, out, weights, model="efficientnet_b0"):
    return ["train", "--labels", labels, "--out", out, "--weights", weights, "--model", model, "--input-size", 32,
            "--epochs-head", 1, "--epochs-full", 0, "--batch-size", 4, "--val-fraction", 0.5]


def test_crafted_pickle_is_not_run_and_train_refuses_it_in_one_line(tmp_path, label_store):
    marker = tmp_path / "marker.txt"
    crafted = tmp_path / "crafted.pth"
    torch.save({"conv_stem.weight": WritesMarker(marker)}, crafted)
    with pytest.raises(AuroraSWError, match="refused"):
        create_model("efficientnet_b0", weights=crafted)
    assert not marker.exists()

    res = aurora_sw(*train_args(label_store, tmp_path / "model", crafted))
    assert not marker.exists(), "unpickling the weights file ran code"
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("aurora-sw: error: ") and str(crafted) in res.stderr and "refused" in res.stderr
    assert not (tmp_path / "model" / "best.pt").exists()


@pytest.mark.parametrize("suffix", ["b0.pth", "b0.safetensors", "b0_wrapped.pth"])
def test_genuine_weights_are_in_the_model(b0_weights, suffix):
    folder, sd = b0_weights
    model = create_model("efficientnet_b0", weights=folder / suffix)
    got = model.state_dict()
    backbone = [k for k in got if not k.startswith("classifier.")]
    assert len(backbone) > 300
    for k in backbone:
        assert torch.equal(got[k], sd[k]), k
    assert got["classifier.weight"].shape == (2, 1280) and torch.all(got["classifier.weight"] == 0)  # our fresh head, not ImageNet's


def test_train_with_genuine_weights_starts_from_them(b0_weights, label_store, tmp_path):
    folder, sd = b0_weights
    res = aurora_sw(*train_args(label_store, tmp_path / "model", folder / "b0.pth"))
    # Whether 8 tiny frames give a head that passes the validation check depends on the CPU's
    # numerics (the CI's refused it); last.pt is written every epoch either way, and is what this test reads.
    assert res.returncode == 0 or "training gave no usable classifier" in res.stderr, res.stderr
    trained = torch.load(tmp_path / "model" / "last.pt", weights_only=True)["state_dict"]
    # stage 1 trains only the head: the backbone leaves training exactly as the file gave it
    assert torch.equal(trained["conv_stem.weight"], sd["conv_stem.weight"])
    assert torch.equal(trained["blocks.6.0.conv_pwl.weight"], sd["blocks.6.0.conv_pwl.weight"])


def test_weights_of_another_architecture_are_refused(b0_weights, label_store, tmp_path):
    folder, _ = b0_weights
    # every B0 tensor has a same-shaped twin in B1: without the check, B1 would load half of it
    with pytest.raises(AuroraSWError, match="not efficientnet_b1 weights"):
        create_model("efficientnet_b1", weights=folder / "b0.safetensors")
    torch.save(create_model("resnet18").state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(AuroraSWError, match="not efficientnet_b0 weights"):
        create_model("efficientnet_b0", weights=tmp_path / "resnet18.pth")

    res = aurora_sw(*train_args(label_store, tmp_path / "model", folder / "b0.pth", model="efficientnet_b1"))
    assert res.returncode == 1 and res.stderr.strip().count("\n") == 0, res.stderr
    assert "b0.pth: not efficientnet_b1 weights" in res.stderr and "Traceback" not in res.stderr


def test_files_that_are_not_state_dicts_are_refused(tmp_path):
    (tmp_path / "text.pth").write_text("not a checkpoint")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    for name in ("text.pth", "list.pth", "bad.safetensors", "absent.pth"):
        with pytest.raises(AuroraSWError, match=name) as err:
            create_model("efficientnet_b0", weights=tmp_path / name)
        assert "\n" not in str(err.value)
