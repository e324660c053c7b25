"""Inference runtimes for a checkpoint: PyTorch (GPU, or CPU fallback) and ONNX Runtime (CPU).

On the 2-core CPU the network is ~70 % of `aurora-sw score` at 240 px end to end (and alone
caps it at 3.8-4.3x the study's per-image loop: benchmarks/score_end_to_end.py). ONNX Runtime runs the same
fp32 graph 1.5x faster than PyTorch with channels_last, with probabilities equal to 1e-5;
PyTorch's bf16 autocast is faster still but moves probabilities by up to 0.14, so it is used
nowhere, the GPU included (see benchmarks/RESULTS.md and :func:`torch_runner`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.checkpoint import Checkpoint
from aurora_sw.model.embedding import pooled_features

log = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "onnx"]
#: The ONNX opset the graphs are exported with (part of the cache key).
ONNX_OPSET = 17
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx")

#: A runner maps a float32 batch (N, 3, H, W), normalised, to the class probabilities (N, K) as
#: numpy, in the checkpoint's class order (:func:`aurora_sw.model.tasks.aurora_probability` sums the
#: aurora classes), and the pooled features before the classifier (N, d) float32
#: (:func:`aurora_sw.model.embedding.pooled_features`; what the stored embedding is made of).
Runner = Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]


class _WithFeatures(torch.nn.Module):
    """The classifier with two outputs, logits and pooled features (one forward pass)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = pooled_features(self.model, x)
        return self.model.get_classifier()(pooled), pooled


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def resolve_backend(backend: Backend, device: torch.device) -> str:
    """``auto``: PyTorch on CUDA; ONNX Runtime on the CPU when it is installed, else PyTorch."""
    if backend not in BACKENDS:
        raise AuroraSWError(f"unknown inference backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "onnx" and device.type != "cpu":
        raise AuroraSWError("the onnx backend runs on the CPU; use --backend torch on a GPU")
    if backend != "auto":
        return backend
    if device.type != "cpu":
        return "torch"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "torch"
    return "onnx"


def torch_runner(ckpt: Checkpoint, device: torch.device, *, fixed_shape: bool | None = None) -> Runner:
    """PyTorch, channels_last, fp32 (on CUDA, cuDNN's default TF32 convolutions).

    Not bf16: on an H200, a classifier trained at 240 px (held-out accuracy 0.961) moved by up to
    0.036 in P(aurora) under bf16 autocast against fp32 (p99 0.024, 789 held-out frames), outside
    the 0.01 the scale issue allows another runtime; TF32 moved it by 0.002 at most and runs the
    network at ~8,700 frames/s (bf16 ~11,900), far above what decoding feeds it
    (benchmarks/RESULTS.md, "On a GPU"). Training keeps AMP: it is judged by its validation.

    ``fixed_shape`` (default: on CUDA) pads a batch smaller than the largest seen so far with zeros
    up to that size and drops the padding's outputs, so the network only ever sees one or two input
    shapes. On the GPU, cuDNN builds its execution plans on the first batch of each new shape: a
    profile of `aurora-sw score` on an H200 spent 8.9 s of 24 s in the convolutions of 21 batches,
    because every night's last, shorter batch was a new shape. Eval-mode outputs of a frame do not
    depend on the other frames of its batch, so the padding changes no probability.
    """
    model = _WithFeatures(ckpt.build_model()).to(device).to(memory_format=torch.channels_last).eval()
    pad = device.type == "cuda" if fixed_shape is None else fixed_shape
    largest = 0

    def run(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        nonlocal largest
        n = len(x)
        largest = max(largest, n)
        if pad and n < largest:
            x = torch.cat([x, x.new_zeros((largest - n, *x.shape[1:]))])
        x = x.to(device, non_blocking=True).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            logits, pooled = model(x)
        return torch.softmax(logits[:n].float(), 1).cpu().numpy(), pooled[:n].float().cpu().numpy()

    return run


def onnx_cache_dir() -> Path:
    """Where exported ONNX graphs are kept: ``$AURORA_SW_CACHE/onnx``, else
    ``$XDG_CACHE_HOME/aurora-sw/onnx`` (``~/.cache/aurora-sw/onnx``)."""
    root = os.environ.get("AURORA_SW_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aurora-sw"
    return Path(root) / "onnx"


def onnx_graph_path(ckpt: Checkpoint) -> Path:
    """Where ``ckpt``'s graph is cached (:func:`onnx_graph`): keyed by the architecture, the
    weights' hash and their shapes, the number of classes, the input size and the opset. A file
    there was exported from the model the checkpoint names (its classes included) built with
    exactly these weights, so they fit it."""
    fit = [f"{k}:{tuple(v.shape)}" for k, v in sorted(ckpt.state_dict.items())] + [f"classes:{len(ckpt.classes)}"]
    shapes = hashlib.sha256(";".join(fit).encode()).hexdigest()[:8]
    return onnx_cache_dir() / f"{ckpt.model_name}-{ckpt.sha256}-{shapes}-{ckpt.input_size}px-opset{ONNX_OPSET}-features.onnx"


def onnx_graph(ckpt: Checkpoint, *, cache: bool = True) -> tuple[str | bytes, bool]:
    """The checkpoint's fp32 ONNX graph (TorchScript exporter, opset 17, dynamic batch; outputs
    ``logits`` and the pooled ``features``): the cached
    file's path, or the bytes of a fresh export (then cached, when the cache can be written).

    Keyed by the weights' hash and shapes, the class count, the architecture and the input size
    (:func:`onnx_graph_path`), so a retrained model never meets a stale graph. Exporting takes
    0.6-1.6 s at 240 px; each ``aurora-sw score`` process paid it once before the cache.

    Parameters
    ----------
    cache
        ``False``: export in memory, neither reading nor writing the cache.

    Returns
    -------
    graph, cached
        The path (``str``) or bytes, and whether it came from the cache.
    """
    path = onnx_graph_path(ckpt)
    if cache and path.is_file():
        return str(path), True
    size = ckpt.input_size
    buf = io.BytesIO()
    torch.onnx.export(
        _WithFeatures(ckpt.build_model()).eval(), (torch.zeros(1, 3, size, size),), buf, dynamo=False, opset_version=ONNX_OPSET,
        input_names=["x"], output_names=["logits", "features"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}, "features": {0: "n"}},
    )
    if not cache:
        return buf.getvalue(), False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)  # whole or absent: a second process racing here writes the same bytes
    except OSError as exc:
        log.info("ONNX graph not cached (%s): exported again next time", exc)
    return buf.getvalue(), False


def _onnxruntime():
    """The onnxruntime module, or one line saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise AuroraSWError("the onnx backend needs onnxruntime: pip install onnxruntime onnx") from exc
    return onnxruntime


def onnx_session(graph: str | bytes, threads: int | None = None):
    """An ONNX Runtime CPU session on ``graph`` (a path or the bytes of :func:`onnx_graph`) with
    ``threads`` intra-op threads (default: torch's count) and one inter-op thread: how scoring runs
    the network (and how benchmarks/score_end_to_end.py times it alone).

    A session may run in several threads at once. With ``threads=1`` each call computes in its
    caller's thread alone, which is how scoring uses the cores (:func:`aurora_sw.index.score.score_nights`:
    one thread a core, each decoding and scoring its own batches).
    """
    ort = _onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])


def onnx_runner(ckpt: Checkpoint, threads: int | None = None) -> Runner:
    """ONNX Runtime on the CPU: the checkpoint's graph (:func:`onnx_graph`: cached after the first
    export), one session (:func:`onnx_session`) with ``threads`` intra-op threads (default: torch's
    count). The runner may be called from several threads at once."""
    _onnxruntime()  # before any export
    graph, cached = onnx_graph(ckpt)
    try:
        session = onnx_session(graph, threads)
    except Exception as exc:  # noqa: BLE001 - a damaged cache file, whatever ONNX Runtime calls it: export again
        if not cached:
            raise
        log.warning("%s: unreadable cached ONNX graph (%s); exporting again", graph, str(exc).splitlines()[0][:200])
        try:
            Path(graph).unlink(missing_ok=True)
            graph, _ = onnx_graph(ckpt)
        except OSError:  # a cache we may read but not change: use a fresh export, in memory
            graph, _ = onnx_graph(ckpt, cache=False)
        session = onnx_session(graph, threads)

    def run(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        logits, pooled = session.run(None, {"x": x.float().contiguous().numpy()})
        return torch.softmax(torch.from_numpy(logits), 1).numpy(), pooled

    return run


_RUNNERS: OrderedDict[tuple[str, int, str, str, int], Runner] = OrderedDict()


def make_runner(
    ckpt: Checkpoint, backend: Backend = "auto", device: str | torch.device | None = None, *, threads: int | None = None,
) -> tuple[Runner, str]:
    """The runner for ``ckpt`` and the name of the backend chosen (see :func:`resolve_backend`).

    ``threads``: ONNX Runtime's intra-op threads (default: torch's count); ``1`` for a caller that
    runs the network in several threads of its own (scoring, one a core). PyTorch has one thread
    count for the whole process, and ignores it. The last two runners are kept, keyed by the
    weights' hash, the input size, the backend, the device and ``threads``, so scoring night after
    night builds (and, for ONNX, exports) the model once.
    """
    dev = default_device(device)
    name = resolve_backend(backend, dev)
    threads = (threads or torch.get_num_threads()) if name == "onnx" else 0  # only ONNX Runtime's sessions have their own
    key = (ckpt.sha256, ckpt.input_size, name, str(dev), threads)  # one set of weights may be scored at two input sizes
    if key not in _RUNNERS:
        _RUNNERS[key] = onnx_runner(ckpt, threads) if name == "onnx" else torch_runner(ckpt, dev)
        while len(_RUNNERS) > 2:
            _RUNNERS.popitem(last=False)
    _RUNNERS.move_to_end(key)
    return _RUNNERS[key], name
