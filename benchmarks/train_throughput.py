"""Training and inference throughput of the aurora classifier (EfficientNet-B1) on this machine.

Times the same forward/backward step `aurora-sw train` runs (AdamW, cross-entropy, grad clipping;
bf16 autocast and channels_last on CUDA) at several input sizes, on random frames already in
memory (decode is measured by the scoring benchmark, not here).

    python benchmarks/train_throughput.py [--sizes 64 128 240] [--batch 32] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from aurora_sw.model.factory import create_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 240])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = dev.type == "cuda"
    print(f"device: {torch.cuda.get_device_name() if cuda else f'CPU, {torch.get_num_threads()} threads'}; batch {args.batch}")
    print(f"{'input':>6} {'train frames/s':>15} {'inference frames/s':>19}  seed schedule (12 epochs x 2,048 frames)")
    for size in args.sizes:
        model = create_model("efficientnet_b1").to(dev)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.randn(args.batch, 3, size, size, device=dev)
        if cuda:
            x = x.to(memory_format=torch.channels_last)
        y = torch.randint(0, 2, (args.batch,), device=dev)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            opt.step()

        model.train()
        step()  # warm-up
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        train_fps = args.steps * args.batch / (time.perf_counter() - t0)
        model.eval()
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            model(x)
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                model(x)
            if cuda:
                torch.cuda.synchronize()
            infer_fps = args.steps * args.batch / (time.perf_counter() - t0)
        schedule_min = 12 * 2048 / train_fps / 60
        print(f"{size:>6} {train_fps:>15.1f} {infer_fps:>19.1f}  {schedule_min:8.1f} min")


if __name__ == "__main__":
    main()
