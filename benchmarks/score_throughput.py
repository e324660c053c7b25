"""Scoring throughput: the pipeline against a seed-style baseline, same frames, same CPU, same run.

Baseline (the seed's loop): for each frame, PIL open, torchvision Resize/ToTensor/Normalize, the
model on a batch of one. Pipeline: `aurora_sw.index.score.score_frames` (reduced-scale JPEG decode,
physical indices, batches sized to the input). Also: where the pipeline's time goes (decode vs network), and
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

import torch

from aurora_sw.index.score import score_frames
from aurora_sw.ingest import ingest
from aurora_sw.model import Checkpoint, create_model, save_checkpoint
from aurora_sw.model.data import read_frame
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
    arch = generate_archive(work / "one", "2024-02-05", 1, seed=0, size=720, progress=False)
    paths = sorted(str(p) for p in arch.frames_dir.rglob("*.jpg"))[: args.frames]
    print(f"{len(paths)} frames of 720x720 JPEG, CPU threads {torch.get_num_threads()}")
    for size in args.sizes:
        model = create_model("efficientnet_b1").eval()
        ckpt = Checkpoint("efficientnet_b1", model.state_dict(), size)
        base = baseline(paths, model, size)
        t0 = time.perf_counter()
        score_frames(paths, ckpt, progress=False)  # default batch size for the input size
        pipe = len(paths) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for p in paths:
            read_frame(p, max(180, size))
        decode = len(paths) / (time.perf_counter() - t0)
        print(f"input {size:3d}px: baseline {base:6.1f} frames/s | pipeline {pipe:6.1f} frames/s ({pipe / base:.1f}x) | "
              f"pipeline decode alone {decode:6.0f} frames/s -> decode {100 * pipe / decode:.0f}% of the time, network and indices the rest")

    if args.skip_rss:
        return
    # Peak memory does not grow with the number of nights: each night is scored and written alone.
    ckpt_path = save_checkpoint(Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 64), work / "m.pt")
    for nights in (1, 10):
        syn = generate_archive(work / f"n{nights}", "2024-02-05", nights, seed=1, size=128, progress=False)
        ingest([syn.frames_dir], work / f"a{nights}", progress=False)
        rss = peak_rss_mb([sys.executable, "-m", "aurora_sw", "score", "--archive", str(work / f"a{nights}"), "--model", str(ckpt_path), "--out", str(work / f"i{nights}.zarr")])
        print(f"{nights:2d} night(s), {syn.n_frames} frames: peak RSS of `aurora-sw score` {rss:6.0f} MB")


if __name__ == "__main__":
    main()
