"""Training and inference throughput of the aurora classifier (EfficientNet-B1) on this machine.

Times the same forward/backward step `aurora-sw train` runs (AdamW, cross-entropy, grad clipping;
channels_last, bf16 autocast on CUDA) at several input sizes, on random frames already in memory
(decode is measured by the scoring benchmark, not here). The baseline in the same run is the
default (contiguous) memory layout that training used before channels_last on every device.

    python benchmarks/train_throughput.py [--sizes 64 128 240] [--batch 32] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from aurora_sw.model.factory import create_model


def _sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def measure(size: int, batch: int, steps: int, dev: torch.device, channels_last: bool) -> tuple[float, float]:
    """(train frames/s, inference frames/s) of EfficientNet-B1 at ``size`` px."""
    cuda = dev.type == "cuda"
    layout = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    model = create_model("efficientnet_b1").to(dev).to(memory_format=layout)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size, device=dev).to(memory_format=layout)
    y = torch.randint(0, 2, (batch,), device=dev)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        opt.step()

    model.train()
    step()  # warm-up
    _sync(cuda)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(cuda)
    train_fps = steps * batch / (time.perf_counter() - t0)
    model.eval()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
        model(x)
        _sync(cuda)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        _sync(cuda)
        infer_fps = steps * batch / (time.perf_counter() - t0)
    return train_fps, infer_fps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 240])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = dev.type == "cuda"
    print(f"device: {torch.cuda.get_device_name() if cuda else f'CPU, {torch.get_num_threads()} threads'}; batch {args.batch}")
    print(f"{'input':>6} {'layout':>15} {'train frames/s':>15} {'inference frames/s':>19}  seed schedule (12 epochs x 2,048 frames)")
    for size in args.sizes:
        base = None
        for channels_last in (False, True):
            train_fps, infer_fps = measure(size, args.batch, args.steps, dev, channels_last)
            ratio = f"  ({train_fps / base:.2f}x train)" if base else ""
            base = base or train_fps
            name = "channels_last" if channels_last else "contiguous"
            print(f"{size:>6} {name:>15} {train_fps:>15.1f} {infer_fps:>19.1f}  {12 * 2048 / train_fps / 60:8.1f} min{ratio}")


if __name__ == "__main__":
    main()
