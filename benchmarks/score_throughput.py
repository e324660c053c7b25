"""Scoring throughput: the pipeline against a seed-style baseline, same frames, same CPU, same run.

Baseline (the seed's loop): for each frame, PIL open, torchvision Resize/ToTensor/Normalize, the
model on a batch of one. Pipeline: `aurora_sw.index.score.score_frames` (reduced-scale JPEG decode,
physical indices, batches sized to the input) with PyTorch (channels_last) and with ONNX Runtime.
The classifier's head is fitted to the frames' truth first, so its probabilities are confident
and any precision loss shows in max |dp|. Also: where the pipeline's time goes (decode vs network), and
peak RSS of `aurora-sw score` for a 1-night and a 10-night archive.

    python benchmarks/score_throughput.py [--frames 256] [--sizes 64 240]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aurora_sw.index.score import score_frames
from aurora_sw.ingest import ingest
from aurora_sw.model import Checkpoint, create_model, save_checkpoint
from aurora_sw.model.data import normalize, read_frame
from aurora_sw.model.runtime import make_runner
from aurora_sw.synthetic import generate_archive


def baseline(paths: list[str], model, size: int) -> float:
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    t0 = time.perf_counter()
    with torch.inference_mode():
        for p in paths:
            x = tf(Image.open(p).convert("RGB")).unsqueeze(0)
            model(x)
    return len(paths) / (time.perf_counter() - t0)


def fit_head(model, paths: list[str], labels: np.ndarray, size: int):
    """Fit the classifier head (logistic regression on pooled features) to the frames' truth, so the
    probabilities are as confident as a trained model's and precision losses show."""
    with torch.inference_mode():
        x = torch.stack([normalize(torch.from_numpy(read_frame(p, size)).permute(2, 0, 1), "sky_background") for p in paths])
        feats = torch.cat([model.forward_head(model.forward_features(x[i:i + 32]), pre_logits=True) for i in range(0, len(x), 32)])
    feats = feats.clone()
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    head = torch.nn.Linear(feats.shape[1], 2)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=200)
    y = torch.from_numpy(labels)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head((feats - mu) / sd), y) + 1e-3 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        model.get_classifier().weight.copy_(head.weight / sd)
        model.get_classifier().bias.copy_(head.bias - (head.weight * mu / sd).sum(1))
    return model


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS of ``cmd``, measured from a fresh parent (RUSAGE_CHILDREN is a running maximum)."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True).stdout
    return int(out.strip()) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 240])
    ap.add_argument("--skip-rss", action="store_true", help="only the throughput comparison")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="score_bench_"))
    arch = generate_archive(work / "one", "2024-02-05", n_nights=1, seed=0, size=720, progress=False)
    paths = sorted(str(p) for p in arch.frames_dir.rglob("*.jpg"))
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(args.frames, len(paths))).astype(int)]  # the whole night
    print(f"{len(paths)} frames of 720x720 JPEG, CPU threads {torch.get_num_threads()}")
    truth = pd.read_csv(arch.truth_csv).set_index("path")["aurora_visible"]
    labels = np.array([truth[str(Path(p).relative_to(arch.root))] for p in paths], dtype=np.int64)
    for size in args.sizes:
        model = fit_head(create_model("efficientnet_b1").eval(), paths, labels, size)
        ckpt = Checkpoint("efficientnet_b1", model.state_dict(), size)
        base = baseline(paths, model, size)
        rates, probs = {}, {}
        for backend in ("torch", "onnx"):
            make_runner(ckpt, backend, "cpu")  # build (and export) outside the timing, as a night-by-night run does once
            t0 = time.perf_counter()
            probs[backend] = score_frames(paths, ckpt, progress=False, backend=backend)["p_aurora"].to_numpy()
            rates[backend] = len(paths) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for p in paths:
            read_frame(p, max(180, size))
        decode = len(paths) / (time.perf_counter() - t0)
        dp = np.abs(probs["onnx"] - probs["torch"]).max()
        print(f"input {size:3d}px: baseline {base:6.1f} frames/s | pipeline torch {rates['torch']:6.1f} ({rates['torch'] / base:.1f}x) | "
              f"pipeline onnx {rates['onnx']:6.1f} ({rates['onnx'] / base:.1f}x) | max |p_onnx - p_torch| {dp:.1e} | "
              f"decode alone {decode:6.0f} frames/s = {100 * rates['onnx'] / decode:.0f}% of the onnx pipeline's time")
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            x = torch.stack([normalize(torch.from_numpy(read_frame(p, size)).permute(2, 0, 1), ckpt.normalization) for p in paths])
            p16 = torch.cat([torch.softmax(model(x[i:i + 16]).float(), 1)[:, 1] for i in range(0, len(x), 16)]).numpy()
        print(f"           accuracy of the fitted head {np.mean((probs['torch'] > 0.5) == labels):.3f}; "
              f"torch bf16 autocast (rejected): max |p_bf16 - p_fp32| {np.abs(p16 - probs['torch']).max():.3f}")

    if args.skip_rss:
        return
    # Peak memory does not grow with the number of nights: each night is scored and written alone.
    ckpt_path = save_checkpoint(Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 64), work / "m.pt")
    for nights in (1, 10):
        syn = generate_archive(work / f"n{nights}", "2024-02-05", n_nights=nights, seed=1, size=128, progress=False)
        ingest([syn.frames_dir], work / f"a{nights}", progress=False)
        rss = peak_rss_mb([sys.executable, "-m", "aurora_sw", "score", "--archive", str(work / f"a{nights}"), "--model", str(ckpt_path), "--out", str(work / f"i{nights}.zarr")])
        print(f"{nights:2d} night(s), {syn.n_frames} frames: peak RSS of `aurora-sw score` {rss:6.0f} MB")


if __name__ == "__main__":
    main()
