"""On a GPU machine: `aurora-sw score` end to end and the 12-epoch fine-tune at 240 px (issue #17, item 6).

One run, same frames, same machine:

1. Frames: synthetic nights (720x720 JPEG, the camera's size) generated in parallel, then ingested.
2. Baseline: the study's per-image loop on the same GPU (PIL open, torchvision Resize/ToTensor/
   Normalize, the network on a batch of one, fp32).
3. `aurora-sw score` as a user runs it (a new process: imports, CUDA start, decode in --workers
   DataLoader processes, bf16 channels_last network, physical indices, Zarr), frames/s end to end.
4. Where its time goes: the CPU decode + indices alone in the same DataLoader, the network alone
   (bf16, channels_last, batch 128), and nvJPEG batch decode on the GPU (torchvision.io.decode_jpeg
   on CUDA) with an antialiased resize to 240 px, the candidate for a GPU decode path.
5. The fine-tune: `train_classifier` on 2,048 labelled frames (+512 validation frames of another
   night), 12 epochs at 240 px. Without ImageNet weights (none offline) all 12 epochs train the
   whole network: an upper bound of the 6 head + 6 full schedule, whose head epochs skip the
   backbone's gradients.

    python benchmarks/gpu_end_to_end.py [--nights 5] [--workers 12] [--quick]

``--quick`` (a CPU smoke test of this script): one night at 240 px, few frames, 1 epoch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def _night(args: tuple[str, str, int, int]) -> str:
    root, start, seed, size = args
    from aurora_sw.synthetic import generate_archive

    return str(generate_archive(root, start, n_nights=1, seed=seed, size=size, progress=False).root)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def study_loop(paths: list[str], model: torch.nn.Module, size: int, dev: torch.device) -> float:
    """The study's loop: one frame at a time, PIL + torchvision transforms, fp32."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                             transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    with torch.inference_mode():
        model(tf(Image.open(paths[0]).convert("RGB")).unsqueeze(0).to(dev))
        _sync()
        t0 = time.perf_counter()
        for p in paths:
            torch.softmax(model(tf(Image.open(p).convert("RGB")).unsqueeze(0).to(dev)), 1)[0, 1].item()
        return len(paths) / (time.perf_counter() - t0)


def gpu_decode(paths: list[str], model: torch.nn.Module, size: int, dev: torch.device, batch: int = 128) -> tuple[float, float, float]:
    """(file read frames/s, nvJPEG decode + resize frames/s, decode + resize + network frames/s)."""
    from torchvision.io import decode_jpeg

    t0 = time.perf_counter()
    data = [torch.frombuffer(bytearray(Path(p).read_bytes()), dtype=torch.uint8) for p in paths]
    read_fps = len(paths) / (time.perf_counter() - t0)

    def prep(chunk):
        imgs = decode_jpeg(chunk, device=dev)
        x = torch.stack(imgs).float().div_(255.0)
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)

    prep(data[:batch])  # warm-up (nvJPEG handles)
    _sync()
    t0 = time.perf_counter()
    for i in range(0, len(data), batch):
        prep(data[i:i + batch])
    _sync()
    dec_fps = len(data) / (time.perf_counter() - t0)
    model = model.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        for i in range(0, len(data), batch):
            x = prep(data[i:i + batch])
            x = (x - x.flatten(2).median(-1).values[..., None, None]) * 2.0 / torch.tensor([0.229, 0.224, 0.225], device=dev).view(1, 3, 1, 1)
            torch.softmax(model(x.contiguous(memory_format=torch.channels_last)).float(), 1)[:, 1].cpu()
    _sync()
    return read_fps, dec_fps, len(data) / (time.perf_counter() - t0)


def network_alone(model: torch.nn.Module, size: int, dev: torch.device, batch: int = 128, steps: int = 20) -> float:
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        model(x)
        _sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        _sync()
    return steps * batch / (time.perf_counter() - t0)


def cpu_pipeline_alone(paths: list[str], size: int, workers: int) -> float:
    """The scoring DataLoader (strict decode, physical indices, maps, network input) with no network."""
    from torch.utils.data import DataLoader

    from aurora_sw.index.score import _ScoreDataset

    dl = DataLoader(_ScoreDataset(paths, size, "sky_background"), 128, num_workers=workers)
    t0 = time.perf_counter()
    for _ in dl:
        pass
    return len(paths) / (time.perf_counter() - t0)


def trained_checkpoint(truth: pd.DataFrame, nights: int, size: int, workers: int, work: Path, epochs: int):
    """A classifier trained for the precision check (2,048 frames of the first nights, 512 of the
    last for validation; lr 2e-3, the recipe that trains EfficientNet-B1 from scratch on the
    synthetic sky), so that its probabilities are confident and a change in the input shows."""
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.model.train import train_classifier

    tr = truth[truth["night"] < nights - 1].sample(n=min(2048, int((truth["night"] < nights - 1).sum())), random_state=0)
    va = truth[truth["night"] == nights - 1].sample(n=min(512, int((truth["night"] == nights - 1).sum())), random_state=0)
    split = pd.concat([tr.assign(split="train"), va.assign(split="val")])
    split["label"] = np.where(split["aurora_visible"], "yes", "no")
    cfg = TrainConfig(input_size=size, epochs_head=0, epochs_full=epochs, lr_full=2e-3, batch_size=32, num_workers=workers, restarts=0)
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.model import load_checkpoint

    t0 = time.perf_counter()
    try:
        ckpt = train_classifier(split[["path", "label", "split"]], cfg, work / "trained", progress=False)
        result = f"val balanced accuracy {ckpt.metrics['val_balanced_accuracy']:.3f}"
    except AuroraSWError:  # the check still needs a network: its last epoch
        ckpt, result = load_checkpoint(work / "trained" / "last.pt"), "no epoch passed the validation check: its last epoch"
    print(f"trained for the precision check: {epochs} epochs x {len(tr)} frames at {size} px in {time.perf_counter() - t0:.0f} s; {result}", flush=True)
    return ckpt


def precision_check(ckpt, paths: list[str], visible: np.ndarray, workers: int, dev: torch.device) -> None:
    """P(aurora) of held-out frames through each GPU path against fp32 (TF32 off) on the CPU path's
    input: TF32, bf16 autocast (the default before), and the nvJPEG decode path."""
    from torch.utils.data import DataLoader

    from aurora_sw.index.device_frames import prepare_batch
    from aurora_sw.index.score import _EncodedDataset, _joined, _ScoreDataset, _split

    cpu_in = torch.cat([b[0] for b in DataLoader(_ScoreDataset(paths, ckpt.input_size, ckpt.normalization), 128, num_workers=workers)])
    dev_in = []
    for i, (joined, lengths, problems) in zip(range(0, len(paths), 128), DataLoader(_EncodedDataset(paths), 128, num_workers=workers, collate_fn=_joined)):
        dev_in.append(prepare_batch(paths[i:i + 128], _split(joined, lengths), problems, input_size=ckpt.input_size, normalization=ckpt.normalization, device=dev)[0].cpu())
    dev_in = torch.cat(dev_in)
    model = ckpt.build_model().to(dev).eval().to(memory_format=torch.channels_last)
    aurora = list(ckpt.classes).index("yes") if "yes" in ckpt.classes else 1

    def probs(x: torch.Tensor, mode: str) -> np.ndarray:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = mode != "fp32"
        out = []
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            for i in range(0, len(x), 128):
                out.append(torch.softmax(model(x[i:i + 128].to(dev).contiguous(memory_format=torch.channels_last)).float(), 1)[:, aurora].cpu())
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default for convolutions
        torch.backends.cuda.matmul.allow_tf32 = False
        return torch.cat(out).numpy()

    ref = probs(cpu_in, "fp32")
    cpu_model = ckpt.build_model().eval()
    with torch.inference_mode():
        p_cpu = torch.softmax(cpu_model(cpu_in[:256]), 1)[:, aurora].numpy()
    print(f"precision on {len(paths)} held-out frames (threshold {ckpt.threshold:.3f}); reference: fp32 on the GPU, TF32 off, CPU decode; "
          f"accuracy {np.mean((ref >= ckpt.threshold) == visible):.3f}; fp32 on the CPU (256 frames) max |dp| {np.abs(p_cpu - ref[:256]).max():.1e}", flush=True)
    for name, p in (("TF32 (cuDNN's default)", probs(cpu_in, "tf32")), ("bf16 autocast", probs(cpu_in, "bf16")),
                    ("nvJPEG decode, fp32", probs(dev_in, "fp32")), ("nvJPEG decode, TF32", probs(dev_in, "tf32")), ("nvJPEG decode, bf16", probs(dev_in, "bf16"))):
        d = np.abs(p - ref)
        flips = int(((p >= ckpt.threshold) != (ref >= ckpt.threshold)).sum())
        print(f"  {name:24s} max |dp| {d.max():.4f}  p99 {np.percentile(d, 99):.4f}  median {np.median(d):.5f}  decisions changed {flips:3d}  "
              f"accuracy {np.mean((p >= ckpt.threshold) == visible):.3f}", flush=True)
    for mode in ("fp32", "tf32", "bf16"):
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = mode != "fp32"
        x = torch.randn(128, 3, ckpt.input_size, ckpt.input_size, device=dev).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            model(x)
            _sync()
            t0 = time.perf_counter()
            for _ in range(20):
                model(x)
            _sync()
        print(f"  network alone {mode}: {20 * 128 / (time.perf_counter() - t0):8.1f} frames/s", flush=True)
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = True, False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nights", type=int, default=5)
    ap.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1))
    ap.add_argument("--size", type=int, default=240)
    ap.add_argument("--quick", action="store_true", help="CPU smoke test: 1 night, small frames, 1 epoch")
    ap.add_argument("--skip", nargs="*", default=[], help="steps to skip: precision score profile train decode")
    ap.add_argument("--precision-epochs", type=int, default=12)
    args = ap.parse_args()
    import zarr  # noqa: F401  (fail here, not after the frames, if the index stack is missing)
    from aurora_sw.ingest import ingest
    from aurora_sw.model import Checkpoint, create_model, save_checkpoint
    from aurora_sw.model.config import TrainConfig
    from aurora_sw.model.train import train_classifier

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "CPU"
    size, frame_px = (64, 240) if args.quick else (args.size, 720)
    nights = 2 if args.quick else max(args.nights, 4)
    print(f"device {name}; {os.cpu_count()} CPU cores; torch {torch.__version__}; input {size} px; frames {frame_px} px", flush=True)

    work = Path(tempfile.mkdtemp(prefix="gpu_bench_"))
    t0 = time.perf_counter()
    jobs = [(str(work / f"syn{i}"), str((pd.Timestamp("2024-02-05") + pd.Timedelta(days=i)).date()), i, frame_px) for i in range(nights)]
    with ProcessPoolExecutor(min(nights, os.cpu_count() or 1)) as pool:
        roots = [Path(r) for r in pool.map(_night, jobs)]
    truth = pd.concat([pd.read_csv(r / "truth" / "frames.csv").assign(path=lambda d, r=r: [str(r / p) for p in d["path"]], night=i)
                       for i, r in enumerate(roots)], ignore_index=True)
    if args.quick:
        truth = truth.groupby("night").sample(60, random_state=0)
    print(f"{len(truth)} synthetic frames of {nights} nights generated in {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    ingest([r / "frames" for r in roots], work / "archive", progress=False)
    print(f"ingested in {time.perf_counter() - t0:.0f} s", flush=True)
    paths = sorted(truth["path"])
    if "precision" not in args.skip:
        trained = trained_checkpoint(truth, nights, size, args.workers, work, 1 if args.quick else args.precision_epochs)
        held = truth[truth["night"] == nights - 1]
        precision_check(trained, list(held["path"]), held["aurora_visible"].to_numpy(bool), args.workers, dev)
        model = trained.build_model().eval().to(dev)
    else:
        model = create_model("efficientnet_b1").eval().to(dev)
    ckpt_path = save_checkpoint(Checkpoint("efficientnet_b1", {k: v.cpu() for k, v in model.state_dict().items()}, size), work / "m.pt")

    base = study_loop(paths[: min(len(paths), 600)], model, size, dev)
    print(f"baseline, the study's per-image loop ({min(len(paths), 600)} frames): {base:8.1f} frames/s", flush=True)

    if "score" not in args.skip:
        n_manifest = len(pd.read_parquet(work / "archive" / "manifest.parquet"))
        stores = {}
        for decode in ("cpu", "gpu") if dev.type == "cuda" else ("cpu",):
            out = stores[decode] = work / f"index_{decode}.zarr"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "aurora_sw", "score", "--archive", str(work / "archive"), "--model", str(ckpt_path),
                            "--out", str(out), "--workers", str(args.workers), "--decode", decode], check=False, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
            dt = time.perf_counter() - t0
            if proc.returncode:
                print(f"`aurora-sw score` failed: {proc.stderr[-2000:]}", flush=True)
                continue
            print(f"`aurora-sw score --workers {args.workers} --decode {decode}` end to end, {n_manifest} minutes: {dt:6.1f} s = "
                  f"{n_manifest / dt:8.1f} frames/s ({n_manifest / dt / base:.1f}x the study's loop)", flush=True)
        if len(stores) == 2 and all(p.exists() for p in stores.values()):
            from aurora_sw import open_index

            a, b = (open_index(stores[k]) for k in ("cpu", "gpu"))
            for name in ("p_aurora", "green_excess", "aurora_area", "aurora_area_night", "arc_orientation"):
                d = np.abs(a[name].values - b[name].values)
                print(f"  stores --decode gpu vs cpu: {name:18s} max |d| {np.nanmax(d):.4f}  p99 {np.nanpercentile(d, 99):.4f}  "
                      f"median {np.nanmedian(d):.5f}; NaN alike {bool((np.isnan(a[name].values) == np.isnan(b[name].values)).all())}", flush=True)
        start = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import aurora_sw.index.pipeline, torch; a = time.perf_counter() - t; "
                                "torch.zeros(1).cuda() if torch.cuda.is_available() else None; print(f'{a:.1f} s, with CUDA started {time.perf_counter() - t:.1f} s')"],
                               capture_output=True, text=True)
        print(f"  a new process's imports: {start.stdout.strip()}", flush=True)
        cpu = cpu_pipeline_alone(paths, size, args.workers)
        print(f"  its CPU side alone (strict decode + indices, {args.workers} workers): {cpu:8.1f} frames/s", flush=True)
        net = network_alone(model, size, dev)
        print(f"  the network alone in bf16 (channels_last, batch 128; scoring runs it in fp32/TF32 since 2026-12-04): {net:8.1f} frames/s", flush=True)

    if "profile" not in args.skip:
        import cProfile
        import pstats

        from aurora_sw.index.pipeline import score_archive

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        score_archive(work / "archive", ckpt_path, work / "index_prof.zarr", num_workers=args.workers, progress=False)
        prof.disable()
        print(f"profile of score_archive in this process (imports and CUDA start already paid): {time.perf_counter() - t0:.1f} s", flush=True)
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats("aurora_sw|zarr|torchvision", 30)
        stats.sort_stats("tottime").print_stats(20)

    if "decode" not in args.skip and (dev.type == "cuda" or args.quick):
        read_fps, dec_fps, all_fps = gpu_decode(paths, model, size, dev)
        print(f"nvJPEG on the GPU: file read {read_fps:8.1f} frames/s; decode + resize {dec_fps:8.1f} frames/s; "
              f"decode + resize + median normalisation + network {all_fps:8.1f} frames/s", flush=True)

    if "train" not in args.skip:
        n_train, n_val = (96, 32) if args.quick else (2048, 512)
        tr = truth[truth["night"] < nights - 1].sample(n=min(n_train, int((truth["night"] < nights - 1).sum())), random_state=0)
        va = truth[truth["night"] == nights - 1].sample(n=min(n_val, int((truth["night"] == nights - 1).sum())), random_state=0)
        split = pd.concat([tr.assign(split="train"), va.assign(split="val")])
        split["label"] = np.where(split["aurora_visible"], "yes", "no")
        epochs = 1 if args.quick else 12
        for w in (args.workers, 0):
            cfg = TrainConfig(input_size=size, epochs_head=0, epochs_full=epochs, num_workers=w, restarts=0)
            t0 = time.perf_counter()
            try:
                ck = train_classifier(split[["path", "label", "split"]], cfg, work / f"train_w{w}", progress=False)
                result = f"val balanced accuracy {ck.metrics['val_balanced_accuracy']:.3f}"
            except Exception as exc:  # a failed validation check still timed the epochs
                result = f"no usable epoch ({str(exc)[:80]})"
            dt = time.perf_counter() - t0
            print(f"fine-tune {epochs} epochs x {len(tr)} frames (+{len(va)} val) at {size} px, num_workers {w}: {dt:6.1f} s "
                  f"({dt / 60:.2f} min); {result}", flush=True)


if __name__ == "__main__":
    main()
