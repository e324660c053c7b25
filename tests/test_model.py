"""Classifier pieces: checkpoints are weights-only and round-trip exactly; the head starts at zero."""

import pickle

import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model import Checkpoint, create_model, load_checkpoint, save_checkpoint
from aurora_sw.model.data import normalize


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
