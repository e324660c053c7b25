"""Two-stage fine-tuning of the aurora classifier (head first, then the whole network).

Seeded, a checkpoint every epoch (``last.pt``) plus the best by validation loss (``best.pt``),
resumable with ``resume=True``; AMP and channels_last on CUDA.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.checkpoint import Checkpoint, label_set_hash, load_checkpoint, save_checkpoint
from aurora_sw.model.data import NORMALIZATIONS, FrameDataset, train_transform
from aurora_sw.model.factory import CLASSES, DEFAULT_MODEL, create_model
from aurora_sw.model.runtime import default_device

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings; the defaults are the seed study's schedule at 240 px."""

    model_name: str = DEFAULT_MODEL
    input_size: int = 240
    epochs_head: int = 6
    epochs_full: int = 6
    lr_head: float = 3e-4
    lr_full: float = 3e-5
    batch_size: int = 32
    weight_decay: float = 1e-4
    jitter: float = 0.3
    normalization: str = "sky_background"  # or "imagenet" (see aurora_sw.model.data.normalize)
    seed: int = 0
    num_workers: int = 0
    pretrained: bool = False
    weights: str | None = None
    max_train_seconds: float | None = None  # stop after this wall time (demo budget), then keep the best

    def __post_init__(self) -> None:
        """Refuse settings that would crash deep inside torch or train nothing, naming the setting."""
        epochs = self.epochs_full + (self.epochs_head if self.pretrained or self.weights else 0)
        problems = [
            f"input_size={self.input_size} (pixels; at least 1)" if self.input_size < 1 else "",
            f"batch_size={self.batch_size} (at least 2: BatchNorm needs 2 frames a batch)" if self.batch_size < 2 else "",
            f"epochs_head={self.epochs_head}, epochs_full={self.epochs_full} (not negative, and at least one epoch to train; "
            "head epochs run only from ImageNet weights)"
            if min(self.epochs_head, self.epochs_full) < 0 or epochs < 1 else "",
            f"lr_head={self.lr_head}, lr_full={self.lr_full} (positive)" if not (self.lr_head > 0 and self.lr_full > 0) else "",
            f"weight_decay={self.weight_decay}, jitter={self.jitter} (not negative)" if not (self.weight_decay >= 0 and self.jitter >= 0) else "",
            f"normalization={self.normalization!r} (one of {', '.join(NORMALIZATIONS)})" if self.normalization not in NORMALIZATIONS else "",
            f"num_workers={self.num_workers} (0 or more)" if self.num_workers < 0 else "",
            f"max_train_seconds={self.max_train_seconds} (positive)" if self.max_train_seconds is not None and not self.max_train_seconds > 0 else "",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise AuroraSWError("training settings refused: " + "; ".join(problems))


def _head_params(model) -> list[str]:
    head = model.get_classifier()
    ids = {id(p) for p in head.parameters()}
    return [n for n, p in model.named_parameters() if id(p) in ids]


def _run_epoch(model, loader, device, optimizer=None, scheduler=None) -> tuple[float, np.ndarray, np.ndarray]:
    train = optimizer is not None
    model.train(train)
    losses, probs, ys = [], [], []
    amp = device.type == "cuda"
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        if amp:
            x = x.to(memory_format=torch.channels_last)
        y = torch.as_tensor(y, device=device)
        with torch.set_grad_enabled(train), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
        if train:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        losses.append(loss.item() * len(y))
        probs.append(torch.softmax(logits.float(), 1)[:, 1].detach().cpu().numpy())
        ys.append(y.cpu().numpy())
    n = sum(len(y) for y in ys)
    return float(sum(losses) / max(n, 1)), np.concatenate(probs), np.concatenate(ys)


def train_classifier(split: pd.DataFrame, config: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True) -> Checkpoint:
    """Train on ``split`` (rows with ``path``, ``label`` yes/no and ``split`` train/val).

    Stage 1 trains only the classifier head (``epochs_head`` at ``lr_head``) -- useful with
    ImageNet weights; from scratch it is skipped, since a random backbone cannot be frozen
    usefully. Stage 2 trains everything (``epochs_full`` at ``lr_full``).

    Returns the best checkpoint (lowest validation loss); also written to ``out_dir/best.pt``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    device = default_device()
    train_df, val_df = split[split["split"] == "train"], split[split["split"] == "val"]
    if train_df.empty or val_df.empty:
        raise AuroraSWError("training needs both a 'train' and a 'val' split with labelled frames")
    y_of = {c: i for i, c in enumerate(CLASSES)}
    train_ds = FrameDataset(train_df["path"], train_df["label"].map(y_of), config.input_size, train_transform(config.input_size, config.jitter), cache=True, normalization=config.normalization)
    val_ds = FrameDataset(val_df["path"], val_df["label"].map(y_of), config.input_size, None, cache=True, normalization=config.normalization)
    gen = torch.Generator().manual_seed(config.seed)
    train_dl = DataLoader(train_ds, config.batch_size, shuffle=True, generator=gen, num_workers=config.num_workers, drop_last=len(train_ds) > config.batch_size)
    val_dl = DataLoader(val_ds, config.batch_size * 2, num_workers=config.num_workers)

    pretrained = config.pretrained or config.weights is not None
    model = create_model(config.model_name, pretrained=config.pretrained, weights=config.weights).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    stages = ([("head", config.epochs_head, config.lr_head)] if pretrained else []) + [("full", config.epochs_full, config.lr_full)]
    schedule = [(name, lr) for name, n, lr in stages for _ in range(n)]
    lhash = label_set_hash(list(split["path"]), list(split["label"]))

    start_epoch, best_loss, history = 0, float("inf"), []
    last_path = out / "last.pt"
    if resume and last_path.exists():
        last = load_checkpoint(last_path)
        if last.label_hash != lhash:
            raise AuroraSWError(f"{last_path}: trained on another label set; resume needs the same labels")
        model.load_state_dict(last.state_dict)
        start_epoch = last.epoch
        best_loss = last.metrics.get("best_val_loss", float("inf"))
        history = last.metrics.get("history", [])
        log.info("resuming after epoch %d", start_epoch)

    best: Checkpoint | None = load_checkpoint(out / "best.pt") if resume and (out / "best.pt").exists() else None
    t_start = time.perf_counter()
    optimizer, scheduler, current_stage = None, None, None
    bar = tqdm(range(start_epoch, len(schedule)), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        stage, lr = schedule[epoch]
        if stage != current_stage:
            head = set(_head_params(model))
            for n, p in model.named_parameters():
                p.requires_grad = stage == "full" or n in head
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=config.weight_decay)
            n_stage = sum(1 for name, _ in schedule if name == stage)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=n_stage * max(len(train_dl), 1), pct_start=0.15)
            done_in_stage = sum(1 for name, _ in schedule[:epoch] if name == stage)
            with warnings.catch_warnings():  # fast-forwarding a resumed run's schedule before any step
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(done_in_stage * len(train_dl)):
                    scheduler.step()
            if resume and epoch == start_epoch and start_epoch > 0 and last.optimizer_state and schedule[epoch - 1][0] == stage:
                optimizer.load_state_dict(last.optimizer_state)
            current_stage = stage
        t0 = time.perf_counter()
        tr_loss, _, _ = _run_epoch(model, train_dl, device, optimizer, scheduler)
        train_fps = len(train_ds) / (time.perf_counter() - t0)
        va_loss, va_p, va_y = _run_epoch(model, val_dl, device)
        va_acc = float(((va_p >= 0.5) == va_y).mean())
        history.append(dict(epoch=epoch + 1, stage=stage, train_loss=tr_loss, val_loss=va_loss, val_accuracy=va_acc, train_frames_per_s=train_fps))
        bar.set_postfix(loss=f"{tr_loss:.3f}", val_loss=f"{va_loss:.3f}", val_acc=f"{va_acc:.3f}")
        improved = va_loss < best_loss
        best_loss = min(best_loss, va_loss)
        ckpt = Checkpoint(
            model_name=config.model_name,
            state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            input_size=config.input_size,
            normalization=config.normalization,
            train_config={**asdict(config), "device": device.type},
            label_hash=lhash,
            metrics={"val_loss": va_loss, "val_accuracy": va_acc, "best_val_loss": best_loss, "history": history},
            epoch=epoch + 1,
            optimizer_state=optimizer.state_dict(),
        )
        save_checkpoint(ckpt, last_path)
        if improved:
            ckpt.optimizer_state = None
            save_checkpoint(ckpt, out / "best.pt")
            best = ckpt
        if config.max_train_seconds and time.perf_counter() - t_start > config.max_train_seconds:
            log.info("time budget of %.0f s reached after epoch %d", config.max_train_seconds, epoch + 1)
            break
    if best is None:
        raise AuroraSWError(f"{out}: no epoch was trained (already complete? use a new folder or more epochs)")
    return best
