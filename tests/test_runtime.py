"""Inference runtimes: ONNX Runtime on the CPU gives PyTorch's probabilities."""

import numpy as np
import pytest
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model import Checkpoint, create_model
from aurora_sw.model.runtime import make_runner, resolve_backend, torch_runner

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


X = torch.randn(12, 3, 64, 64) * torch.linspace(0.2, 3, 12).view(-1, 1, 1, 1) + torch.linspace(-2, 2, 12).view(-1, 1, 1, 1)


@pytest.fixture(scope="module")
def confident_ckpt():
    """A small model whose head is aimed along the spread of X's features, so that the
    probabilities on X spread over (0, 1) as a trained classifier's do."""
    torch.manual_seed(0)
    model = create_model("efficientnet_b0").eval()
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(X), pre_logits=True)
        direction = feats[-1] - feats[0]
        head = model.get_classifier()
        head.weight[1] = 8 * direction / direction.norm() ** 2
        head.bias[1] = -(head.weight[1] * feats.mean(0)).sum()
    return Checkpoint("efficientnet_b0", model.state_dict(), 64)


def test_onnx_probabilities_match_torch(confident_ckpt):
    x = X
    probs_torch, f_torch = make_runner(confident_ckpt, "torch", "cpu")[0](x)
    probs_onnx, f_onnx = make_runner(confident_ckpt, "onnx", "cpu")[0](x)
    p_torch, p_onnx = probs_torch[:, 1], probs_onnx[:, 1]
    assert p_torch.std() > 0.1, "the test needs probabilities spread over (0, 1)"
    assert np.abs(p_onnx - p_torch).max() < 1e-4
    # the pooled features (what the stored embedding is made of) agree too, and are the timm model's own
    with torch.no_grad():
        model = confident_ckpt.build_model()
        reference = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
    assert f_torch.shape == f_onnx.shape == reference.shape == (12, 1280)
    assert np.abs(f_onnx - reference).max() < 1e-3 * np.abs(reference).max() and np.abs(f_torch - reference).max() < 1e-5 * np.abs(reference).max()
    # a batch of a different size runs on the same session (dynamic batch axis)
    assert np.allclose(make_runner(confident_ckpt, "onnx", "cpu")[0](x[:5])[0][:, 1], p_onnx[:5], atol=1e-6)


def test_fixed_shape_padding_changes_no_probability(confident_ckpt, monkeypatch):
    """The GPU path pads a night's short last batch to the largest batch seen (one cuDNN plan per
    shape); the padded frames' outputs are dropped and the real frames' are unchanged."""
    seen = []
    build = Checkpoint.build_model

    def recording_build(self):
        model = build(self)
        model.conv_stem.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0])))
        return model

    monkeypatch.setattr(Checkpoint, "build_model", recording_build)
    plain = torch_runner(confident_ckpt, torch.device("cpu"), fixed_shape=False)
    padded = torch_runner(confident_ckpt, torch.device("cpu"), fixed_shape=True)
    full = plain(X)[0]
    assert np.abs(padded(X)[0] - full).max() < 1e-5
    short = padded(X[7:10])[0]  # a batch of 3 after one of 12: run as 12, three outputs returned
    assert short.shape == (3, 2) and np.abs(short - full[7:10]).max() < 1e-5
    plain(X[7:10])
    assert seen == [12, 12, 12, 3], seen  # plain, padded, padded (3 -> 12), plain (3)


def test_auto_picks_onnx_on_cpu_and_runners_are_reused(confident_ckpt):
    assert resolve_backend("auto", torch.device("cpu")) == "onnx"
    assert resolve_backend("auto", torch.device("cuda")) == "torch"
    first, name = make_runner(confident_ckpt, "auto", "cpu")
    assert name == "onnx" and make_runner(confident_ckpt, "auto", "cpu")[0] is first


def test_bad_backend_is_named():
    with pytest.raises(AuroraSWError, match="unknown inference backend 'tensorrt'"):
        resolve_backend("tensorrt", torch.device("cpu"))
    with pytest.raises(AuroraSWError, match="runs on the CPU"):
        resolve_backend("onnx", torch.device("cuda"))


def test_the_onnx_graph_is_cached_and_a_damaged_cache_is_exported_again(confident_ckpt, tmp_path, monkeypatch):
    """The second runner of a checkpoint reads the cached graph (no export: torch.onnx.export is broken here),
    with the same probabilities; a damaged cache file is replaced by a fresh export, never an error."""
    from aurora_sw.model import runtime

    monkeypatch.setenv("AURORA_SW_CACHE", str(tmp_path))
    p_first = runtime.onnx_runner(confident_ckpt)(X)[0]
    (cached,) = (tmp_path / "onnx").glob("*.onnx")
    assert confident_ckpt.sha256 in cached.name and cached.stat().st_size > 1_000_000
    real_export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported again"))
    assert np.array_equal(runtime.onnx_runner(confident_ckpt)(X)[0], p_first)
    cached.write_bytes(b"not an onnx graph")
    monkeypatch.setattr(torch.onnx, "export", real_export)
    from pathlib import Path

    def refused(self, missing_ok=False):
        raise PermissionError(13, "read-only cache", str(self))

    with monkeypatch.context() as m:  # a cache we may read but not change: a fresh export in memory
        m.setattr(Path, "unlink", refused)
        assert np.allclose(runtime.onnx_runner(confident_ckpt)(X)[0], p_first, atol=1e-6)
    assert np.allclose(runtime.onnx_runner(confident_ckpt)(X)[0], p_first, atol=1e-6)
    assert cached.stat().st_size > 1_000_000
    other = Checkpoint(confident_ckpt.model_name, {k: v + 1e-3 if v.is_floating_point() else v for k, v in confident_ckpt.state_dict.items()}, 64)
    runtime.onnx_runner(other)
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 2  # other weights, another graph


def test_one_set_of_weights_at_two_input_sizes_gets_two_runners(confident_ckpt):
    """The runner cache was keyed by the weights' hash alone: scoring the same weights at another
    input size in the same process fed the first size's ONNX graph and failed."""
    other = Checkpoint(confident_ckpt.model_name, confident_ckpt.state_dict, 32)
    assert other.sha256 == confident_ckpt.sha256
    run64, _ = make_runner(confident_ckpt, "onnx", "cpu")
    run32, _ = make_runner(other, "onnx", "cpu")
    assert run64 is not run32
    assert run32(torch.zeros(2, 3, 32, 32))[0].shape == (2, 2) and run64(X[:2])[0].shape == (2, 2)


def test_a_one_thread_runner_is_its_own_and_runs_in_several_threads_at_once_with_the_same_probabilities(confident_ckpt, tmp_path, monkeypatch):
    """Scoring runs the network in one thread per core, each through one session of one intra-op
    thread: that runner is cached apart from the default one, its session has one thread, and
    called from four threads at once it gives, bit for bit, what the default runner gives."""
    from concurrent.futures import ThreadPoolExecutor

    from aurora_sw.model.runtime import onnx_graph, onnx_session

    monkeypatch.setenv("AURORA_SW_CACHE", str(tmp_path))
    graph, _ = onnx_graph(confident_ckpt)
    assert onnx_session(graph, 1).get_session_options().intra_op_num_threads == 1
    assert onnx_session(graph).get_session_options().intra_op_num_threads == torch.get_num_threads()
    default, _ = make_runner(confident_ckpt, "onnx", "cpu")
    single, _ = make_runner(confident_ckpt, "onnx", "cpu", threads=1)
    assert make_runner(confident_ckpt, "onnx", "cpu", threads=1)[0] is single
    assert (single is default) == (torch.get_num_threads() == 1)  # keyed by the session's thread count
    xs = [X[i % len(X) : i % len(X) + 3] for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda x: single(x)[0], xs))
    assert all(np.array_equal(t, default(x)[0]) for t, x in zip(together, xs))
    assert make_runner(confident_ckpt, "torch", "cpu", threads=1)[0] is make_runner(confident_ckpt, "torch", "cpu")[0]  # one count per process
