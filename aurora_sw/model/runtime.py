"""Inference runtimes for a checkpoint: PyTorch (GPU, or CPU fallback) and ONNX Runtime (CPU).

On the 2-core CPU the classifier is 96 % of the scoring time at 240 px. ONNX Runtime runs the same
fp32 graph 1.5x faster than PyTorch with channels_last, with probabilities equal to 1e-5;
PyTorch's bf16 autocast is faster still but moves probabilities by up to 0.14, so it is not used
on the CPU (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Callable, Literal

import numpy as np
import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.checkpoint import Checkpoint

Backend = Literal["auto", "torch", "onnx"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx")

#: A runner maps a float32 batch (N, 3, H, W), normalised, to P(aurora) (N,) as numpy.
Runner = Callable[[torch.Tensor], np.ndarray]


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


def torch_runner(ckpt: Checkpoint, device: torch.device) -> Runner:
    """PyTorch, channels_last; bf16 autocast on CUDA only (AMP is how the GPU path is trained)."""
    model = ckpt.build_model().to(device).to(memory_format=torch.channels_last)

    def run(x: torch.Tensor) -> np.ndarray:
        x = x.to(device, non_blocking=True).to(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x)
        return torch.softmax(logits.float(), 1)[:, 1].cpu().numpy()

    return run


def onnx_runner(ckpt: Checkpoint, threads: int | None = None) -> Runner:
    """ONNX Runtime on the CPU: the checkpoint exported in memory (TorchScript exporter, fp32,
    dynamic batch), one session with ``threads`` intra-op threads (default: torch's count)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise AuroraSWError("the onnx backend needs onnxruntime: pip install onnxruntime onnx") from exc
    model = ckpt.build_model()
    size = ckpt.input_size
    buf = io.BytesIO()
    torch.onnx.export(
        model, (torch.zeros(1, 3, size, size),), buf, dynamo=False, opset_version=17,
        input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> np.ndarray:
        logits = session.run(None, {"x": x.float().contiguous().numpy()})[0]
        return torch.softmax(torch.from_numpy(logits), 1)[:, 1].numpy()

    return run


_RUNNERS: OrderedDict[tuple[str, str, str], Runner] = OrderedDict()


def make_runner(ckpt: Checkpoint, backend: Backend = "auto", device: str | torch.device | None = None) -> tuple[Runner, str]:
    """The runner for ``ckpt`` and the name of the backend chosen (see :func:`resolve_backend`).

    The last two runners are kept, keyed by the weights' hash, so scoring night after night
    builds (and, for ONNX, exports) the model once.
    """
    dev = default_device(device)
    name = resolve_backend(backend, dev)
    key = (ckpt.sha256, name, str(dev))
    if key not in _RUNNERS:
        _RUNNERS[key] = onnx_runner(ckpt) if name == "onnx" else torch_runner(ckpt, dev)
        while len(_RUNNERS) > 2:
            _RUNNERS.popitem(last=False)
    _RUNNERS.move_to_end(key)
    return _RUNNERS[key], name
