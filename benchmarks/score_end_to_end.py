"""`aurora-sw score` end to end at the study's 240 px, against the study's per-image loop, same frames, same run.

Both run as a user runs them, each in its own process, process start included:

- the study's loop: import torch/torchvision/timm, build EfficientNet-B1 and load the weights,
  then per frame PIL open, torchvision Resize/ToTensor/Normalize, the model on a batch of one;
- ``aurora-sw score --archive A --model M --out I.zarr``: the manifest, reduced-scale JPEG
  decode, physical indices, keogram strips, ONNX Runtime in batches, the Zarr store; once with
  an empty ONNX cache (the graph exported) and once with the graph cached;
- the network alone: ONNX Runtime on the cached graph, ``--frames`` inputs in `score`'s batches
  (its default size, never spanning two nights), timed in-process from the sessions' creation,
  both ways it can use the cores: as `score` runs it (one thread a core, each running its own
  batches through one session of one thread: ``score.in_lanes``) and as one session with torch's
  thread count running the batches one after another (its threads spinning). The faster, with
  the imports, bounds what any scorer built on this network could do here (the ceiling printed
  last).

The frames are the synthetic sky's 720x720 JPEGs (three nights, the first ``--frames`` of them
ingested); the checkpoint is EfficientNet-B1 at 240 px (speed only: its weights do not matter).

    python benchmarks/score_end_to_end.py [--frames 2000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDY_LOOP = """
import sys
import torch, timm
from PIL import Image
from torchvision import transforms
from aurora_sw.model.checkpoint import load_checkpoint
from aurora_sw.ingest import read_manifest
ckpt = load_checkpoint(sys.argv[1])
model = ckpt.build_model()
tf = transforms.Compose([transforms.Resize((240, 240)), transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
paths = list(read_manifest(sys.argv[2])["path"])
ps = []
with torch.inference_mode():
    for p in paths:
        ps.append(torch.softmax(model(tf(Image.open(p).convert("RGB")).unsqueeze(0)), 1)[0, 1].item())
print(len(ps))
"""


NETWORK_ALONE = """
import sys, time
import numpy as np
from aurora_sw.index.score import in_lanes
from aurora_sw.model.runtime import onnx_session
graph, batch, threads, lanes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
nights = [int(k) for k in sys.argv[5].split(",")]  # frames a night: score's batches never span two nights
sizes = [min(batch, n - start) for n in nights for start in range(0, n, batch)]
x = np.random.default_rng(0).standard_normal((batch, 3, 240, 240)).astype(np.float32)
t0 = time.perf_counter()
session = onnx_session(graph, threads)
for _ in in_lanes(lambda i: session.run(None, {"x": x[: sizes[i]]}), len(sizes), lanes=lanes, ahead=2 * lanes):
    pass
print(time.perf_counter() - t0)
"""


def run(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=None, help="folder (default: a new temporary one); an archive already there is reused")
    args = ap.parse_args()
    from aurora_sw.ingest import ingest, read_manifest
    from aurora_sw.model import Checkpoint, create_model, save_checkpoint
    from aurora_sw.synthetic import generate_archive

    work = args.work or Path(tempfile.mkdtemp(prefix="score_e2e_"))
    archive = work / "archive"
    if not (archive / "manifest.parquet").exists():
        syn = generate_archive(work / "synthetic", "2024-02-05", n_nights=3, seed=0, size=720, progress=False)
        ingest([syn.frames_dir], work / "all", progress=False)
        m = read_manifest(work / "all").sort_values("time_utc").head(args.frames)
        archive.mkdir(parents=True, exist_ok=True)
        m.to_parquet(archive / "manifest.parquet")  # absolute paths: a manifest of the first --frames frames
    n = len(read_manifest(archive))
    model = save_checkpoint(Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 240), work / "b1_240.pt")
    import shutil

    for stale in ("cold.zarr", "warm.zarr", "onnx_cache"):
        shutil.rmtree(work / stale, ignore_errors=True)
    cache = {"AURORA_SW_CACHE": str(work / "onnx_cache")}
    t_study = run([sys.executable, "-c", STUDY_LOOP, str(model), str(archive)])
    score = [sys.executable, "-m", "aurora_sw", "score", "--archive", str(archive), "--model", str(model)]
    t_cold = run([*score, "--out", str(work / "cold.zarr")], cache)
    t_warm = run([*score, "--out", str(work / "warm.zarr")], cache)
    t_import = run([sys.executable, "-c", "import aurora_sw.cli, aurora_sw.index.pipeline, aurora_sw.model.runtime, onnxruntime"])
    (graph,) = (work / "onnx_cache" / "onnx").glob("*.onnx")
    import torch

    from aurora_sw.index.score import default_batch_size

    nights = ",".join(str(k) for k in read_manifest(archive).groupby("night").size())
    batch, cores = default_batch_size(240), torch.get_num_threads()  # as `score` runs it

    def network_alone(threads: int, lanes: int) -> float:
        args = [str(graph), str(batch), str(threads), str(lanes), nights]
        return float(subprocess.run([sys.executable, "-c", NETWORK_ALONE, *args], capture_output=True, text=True, check=True).stdout.split()[-1])

    t_lanes, t_session = network_alone(1, cores), network_alone(cores, 1)
    print(f"{n} frames of 720x720 JPEG at 240 px, {cores} cores, each command in its own process")
    print(f"  study's loop (PIL, torchvision, batch of 1)   {t_study:6.1f} s  {n / t_study:5.1f} frames/s  1.0x")
    print(f"  aurora-sw score, ONNX graph exported         {t_cold:6.1f} s  {n / t_cold:5.1f} frames/s  {t_study / t_cold:.2f}x")
    print(f"  aurora-sw score, ONNX graph cached           {t_warm:6.1f} s  {n / t_warm:5.1f} frames/s  {t_study / t_warm:.2f}x")
    print(f"  of which the imports alone (process start, torch, onnxruntime, zarr): {t_import:.1f} s")
    print(f"  the network alone (ONNX Runtime, same graph, batches of {batch} within each night, {n} frames):")
    print(f"    {cores} threads each running its own batches (as score runs it) {t_lanes:.1f} s; one session of {cores} threads {t_session:.1f} s")
    ceiling = t_import + min(t_lanes, t_session)
    print(f"ceiling: imports + the network alone = {ceiling:.1f} s = {t_study / ceiling:.2f}x the study's loop, if decoding, indices and the store cost nothing")
    per_frame = (t_warm - t_import) / n
    print(f"archive: 215,000 frames (331 nights) at this rate ~{215_000 * per_frame / 3600:.1f} h of scoring (study's loop ~{215_000 * t_study / n / 3600:.1f} h)")


if __name__ == "__main__":
    main()
