"""Faster scoring runtimes on the CPU, and whether they keep the probabilities: INT8 and bf16 against fp32.

The scale issue's rule: a faster runtime is kept only where max |p - p_fp32| <= 0.01 on held-out
frames and the held-out accuracy is unchanged. Same frames, same model, same run:

- ONNX Runtime fp32 (the default on the CPU): the reference;
- ONNX Runtime INT8, post-training static quantization (``onnxruntime.quantization``: QDQ and
  QOperator, per-channel int8 weights, uint8 activations, MinMax calibration on 64 archive frames
  that are not evaluated);
- OpenVINO fp32 and bf16 (when ``openvino`` is installed: ``pip install openvino``).

The model is EfficientNet-B1 at 240 px with its head fitted to the frames' truth (as in
``score_throughput.py``: no pretrained weights offline), so its probabilities are confident and
a precision loss shows.

    python benchmarks/score_runtimes.py [--size 240]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aurora_sw.model import create_model
from aurora_sw.model.data import normalize, read_frame
from aurora_sw.synthetic import generate_archive

from score_throughput import fit_head  # noqa: E402 - run from benchmarks/


def _softmax1(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e[:, 1] / e.sum(1)


def _timed(run, x: np.ndarray, batch: int = 16) -> tuple[np.ndarray, float]:
    run(x[:batch])  # warm
    t0 = time.perf_counter()
    logits = np.concatenate([run(x[i : i + batch]) for i in range(0, len(x), batch)])
    return _softmax1(logits), len(x) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=240)
    args = ap.parse_args()
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    work = Path(tempfile.mkdtemp(prefix="score_runtimes_"))
    arch = generate_archive(work / "one", "2024-02-05", n_nights=1, seed=0, size=720, progress=False)
    paths = sorted(str(p) for p in arch.frames_dir.rglob("*.jpg"))
    truth = pd.read_csv(arch.truth_csv).set_index("path")["aurora_visible"]
    order = np.random.default_rng(0).permutation(len(paths))
    fit, calib, held = ([paths[i] for i in order[a:b]] for a, b in ((0, 256), (256, 320), (320, 576)))
    label = lambda ps: np.array([truth[str(Path(p).relative_to(arch.root))] for p in ps], dtype=np.int64)  # noqa: E731
    model = fit_head(create_model("efficientnet_b1").eval(), fit, label(fit), args.size)
    frames = lambda ps: torch.stack([normalize(torch.from_numpy(read_frame(p, args.size)).permute(2, 0, 1), "sky_background") for p in ps]).numpy()  # noqa: E731
    x, xc, y = frames(held), frames(calib), label(held)
    onnx = work / "fp32.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, args.size, args.size),), str(onnx), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})

    def ort_run(path: Path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = torch.get_num_threads(), 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return lambda b: session.run(None, {"x": b})[0]

    p32, r32 = _timed(ort_run(onnx), x)
    print(f"{len(held)} held-out frames at {args.size} px, {torch.get_num_threads()} threads")
    print(f"  ONNX Runtime fp32 (default)   {r32:6.1f} frames/s  1.00x  accuracy {np.mean((p32 > 0.5) == y):.3f}")

    def report(name: str, p: np.ndarray, rate: float) -> None:
        dp = np.abs(p - p32)
        same = dp.max() <= 0.01 and np.mean((p > 0.5) == y) >= np.mean((p32 > 0.5) == y)
        verdict = ("kept" if rate > r32 else "within the budget, but not faster") if same else "rejected (outside the 0.01 budget)"
        print(f"  {name:29s} {rate:6.1f} frames/s  {rate / r32:.2f}x  accuracy {np.mean((p > 0.5) == y):.3f}  "
              f"max |dp| {dp.max():.3f}, median {np.median(dp):.4f}: {verdict}")

    pre = work / "pre.onnx"
    quant_pre_process(str(onnx), str(pre))

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter({"x": xc[i : i + 1]} for i in range(len(xc)))

        def get_next(self):
            return next(self._it, None)

    for fmt in (QuantFormat.QDQ, QuantFormat.QOperator):
        q = work / f"int8_{fmt.name}.onnx"
        quantize_static(str(pre), str(q), Calibration(), quant_format=fmt, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        report(f"ONNX Runtime INT8 {fmt.name}", *_timed(ort_run(q), x))
    try:
        import openvino as ov
    except ImportError:
        print("  OpenVINO: not installed (pip install openvino)")
        return
    core = ov.Core()
    for precision in ("f32", "bf16"):
        compiled = core.compile_model(core.read_model(str(onnx)), "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads(),
                                                                          "INFERENCE_PRECISION_HINT": precision})
        request = compiled.create_infer_request()
        report(f"OpenVINO {precision}", *_timed(lambda b: request.infer({0: b})[0].copy(), x))


if __name__ == "__main__":
    main()
