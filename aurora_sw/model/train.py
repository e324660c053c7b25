"""Two-stage fine-tuning of the aurora classifier (head first, then the whole network).

Seeded, a checkpoint every epoch (``last.pt``) plus the best healthy epoch (``best.pt``),
resumable with ``resume=True``; channels_last everywhere, AMP (bf16) on CUDA.

A network can come out of training calling every frame one class (seen on the quick demo: a
near-constant P(aurora) of 0.5 has a validation loss of ln 2, lower than a real but overconfident
classifier's). Every epoch is therefore checked on the validation nights
(:func:`validation_check`); a degenerate epoch is never kept as ``best.pt``. If no epoch of a run
passes, training starts again from a new initialisation at half the learning rate, and after
``restarts`` such runs it fails with the validation numbers instead of returning a model.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.checkpoint import Checkpoint, label_set_hash, load_checkpoint, save_checkpoint
from aurora_sw.model.config import TrainConfig
from aurora_sw.model.data import FrameDataset, train_transform
from aurora_sw.model.evaluate import roc_auc
from aurora_sw.model.factory import CLASSES, create_model
from aurora_sw.model.runtime import default_device
from aurora_sw.model.tasks import aurora_probability, get_task

log = logging.getLogger(__name__)

#: An epoch below this balanced accuracy on the validation nights is no classifier (0.5 is chance).
MIN_BALANCED_ACCURACY = 0.6
#: ... nor is one that (almost) never predicts one of the classes: recall of each class at least this.
MIN_CLASS_RECALL = 0.1


def validation_check(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Is this a classifier at all? Balanced accuracy and per-class recall on the validation nights.

    Parameters
    ----------
    y_true
        Boolean truth per validation frame (True = aurora); both classes must be present.
    p
        P(aurora) per frame.
    threshold
        Decision threshold on ``p`` (the checkpoint's).

    Returns
    -------
    dict
        ``balanced_accuracy`` (mean of the two recalls: 0.5 for any constant predictor, whatever
        the class mix), ``recall_yes``, ``recall_no``, ``predicted_yes_fraction``, ``roc_auc``,
        ``p_std`` (spread of P(aurora)), ``degenerate`` (bool) and ``problem`` (why, or "").
        Degenerate means balanced accuracy below :data:`MIN_BALANCED_ACCURACY` or one class
        recalled less than :data:`MIN_CLASS_RECALL` of the time.

    Examples
    --------
    >>> validation_check(np.array([True, False, False]), np.full(3, 0.51))["problem"]
    'calls 100% of the frames aurora (recall: aurora 1.00, no aurora 0.00); balanced accuracy 0.50 < 0.6'
    """
    y = np.asarray(y_true, bool)
    p = np.asarray(p, float)
    if y.all() or not y.any():
        raise ValueError("validation_check needs both classes among the validation frames")
    pred = p >= threshold
    recall_yes = float(pred[y].mean())
    recall_no = float((~pred[~y]).mean())
    balanced = (recall_yes + recall_no) / 2
    problems = []
    if min(recall_yes, recall_no) < MIN_CLASS_RECALL:
        problems.append(f"calls {pred.mean():.0%} of the frames aurora (recall: aurora {recall_yes:.2f}, no aurora {recall_no:.2f})")
    if balanced < MIN_BALANCED_ACCURACY:
        problems.append(f"balanced accuracy {balanced:.2f} < {MIN_BALANCED_ACCURACY}")
    return {
        "balanced_accuracy": balanced,
        "recall_yes": recall_yes,
        "recall_no": recall_no,
        "predicted_yes_fraction": float(pred.mean()),
        "roc_auc": roc_auc(y, p),
        "p_std": float(p.std()),
        "degenerate": bool(problems),
        "problem": "; ".join(problems),
    }


def _head_params(model) -> list[str]:
    head = model.get_classifier()
    ids = {id(p) for p in head.parameters()}
    return [n for n, p in model.named_parameters() if id(p) in ids]


def _class_weights(labels: np.ndarray, classes: tuple[str, ...] = CLASSES) -> torch.Tensor:
    """Cross-entropy weights: aurora and no aurora count half each, and within each the classes
    present count alike: n / (2 K_g n_c), K_g the classes of c's group present (an absent class:
    weight 0). Binary: n / (2 n_c). So a frame the network cannot place gets P(aurora) near 0.5 however
    many classes of each kind were labelled (weights n / (K n_c) over five classes would put it at 0.6)."""
    from aurora_sw.labels import AURORA_CLASSES

    counts = np.bincount(labels, minlength=len(classes)).astype(float)
    aurora = np.isin(np.asarray(classes, dtype=object), AURORA_CLASSES)
    present = counts > 0
    groups = max(int(present[aurora].any()) + int(present[~aurora].any()), 1)
    per_group = np.where(aurora, present[aurora].sum(), present[~aurora].sum()).astype(float)
    w = np.where(present, len(labels) / (groups * np.maximum(per_group, 1) * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _run_epoch(model, loader, device, class_weight: torch.Tensor, optimizer=None, scheduler=None) -> tuple[float, np.ndarray, np.ndarray]:
    """One pass; returns the class-weighted mean loss, the class probabilities (N, K) and the labels."""
    train = optimizer is not None
    model.train(train)
    weight = class_weight.to(device)
    loss_sum, weight_sum, probs, ys = 0.0, 0.0, [], []
    amp = device.type == "cuda"
    for x, y in loader:
        x = x.to(device, non_blocking=True).to(memory_format=torch.channels_last)
        y = torch.as_tensor(y, device=device)
        with torch.set_grad_enabled(train), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)
        if train:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        batch_weight = float(weight[y].sum())  # the weighted mean's denominator, to average over batches
        loss_sum += loss.item() * batch_weight
        weight_sum += batch_weight
        probs.append(torch.softmax(logits.float(), 1).detach().cpu().numpy())
        ys.append(y.cpu().numpy())
    return loss_sum / max(weight_sum, 1e-12), np.concatenate(probs), np.concatenate(ys)


def train_classifier(split: pd.DataFrame, config: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True) -> Checkpoint:
    """Train on ``split`` (rows with ``path``, ``label`` and ``split`` train/val).

    ``label`` is in the classes of ``config.task`` (:mod:`aurora_sw.model.tasks`: yes/no, or the
    morphology classes); the checkpoint records them, and P(aurora) is the sum over the aurora
    classes, so the validation check below and scoring treat both tasks alike.

    Stage 1 trains only the classifier head (``epochs_head`` at ``lr_head``) -- useful with
    ImageNet weights; from scratch it is skipped, since a random backbone cannot be frozen
    usefully. Stage 2 trains everything (``epochs_full`` at ``lr_full``). The loss weighs aurora and
    no aurora equally, and the classes present within each alike (:func:`_class_weights`), so an
    unbalanced split trains and validates like a balanced one.

    Every epoch goes through :func:`validation_check` on the val split. The best epoch is the one
    with the lowest validation loss among those that pass; a run in which none passes is started
    again (new initialisation seed ``seed + run``, learning rates halved each time), at most
    ``config.restarts`` times. The checkpoint's ``metrics`` record each epoch's check
    (``history``), the epochs found degenerate and the runs given up (``restarted_runs``).

    Returns
    -------
    Checkpoint
        The best epoch; also written to ``out_dir/best.pt``.

    Raises
    ------
    AuroraSWError
        A split is missing or lacks one class, ``resume`` finds another label set, or no epoch of
        any run passed the validation check (the message gives the validation numbers; no
        ``best.pt`` is written).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = default_device()
    train_df, val_df = split[split["split"] == "train"], split[split["split"] == "val"]
    if train_df.empty or val_df.empty:
        raise AuroraSWError("training needs both a 'train' and a 'val' split with labelled frames")
    task = get_task(config.task)
    for name, part in (("train", train_df), ("val", val_df)):
        unknown = sorted(set(part["label"]) - set(task.classes))
        if unknown:
            raise AuroraSWError(f"the {name} split has labels {unknown} that the {task.name} task does not know ({', '.join(task.classes)})")
        aurora = task.is_aurora(part["label"])
        if task.name == "binary":
            missing = sorted(set(task.classes) - set(part["label"]))
        else:
            missing = [] if aurora.any() and not aurora.all() else ["an aurora class" if not aurora.any() else "a no-aurora class"]
        if missing:
            raise AuroraSWError(
                f"the {name} split has no frames labelled {'/'.join(missing)}: training and its validation check need aurora and no aurora; "
                "label frames of that class on more nights, or change --val-fraction/--seed to split the nights differently"
            )
    absent = sorted(set(task.classes) - set(train_df["label"]))
    if absent:
        log.warning("no training frame is labelled %s: the %s classifier will not learn %s", "/".join(absent), task.name, "them" if len(absent) > 1 else "it")
    y_of = {c: i for i, c in enumerate(task.classes)}
    train_y = train_df["label"].map(y_of).to_numpy()
    train_ds = FrameDataset(train_df["path"], train_y, config.input_size, train_transform(config.input_size, config.jitter), cache=True, normalization=config.normalization)
    val_y = val_df["label"].map(y_of).to_numpy()
    val_ds = FrameDataset(val_df["path"], val_y, config.input_size, None, cache=True, normalization=config.normalization)
    # Each split weighs its own classes: the validation loss is then the mean of the classes'
    # losses, comparable across nights whatever their share of aurora.
    class_weights = (_class_weights(train_y, task.classes), _class_weights(val_y, task.classes))
    lhash = label_set_hash(list(split["path"]), list(split["label"]))

    last_path = out / "last.pt"
    last: Checkpoint | None = None
    if resume and last_path.exists():
        last = load_checkpoint(last_path)
        if last.label_hash != lhash:
            raise AuroraSWError(f"{last_path}: trained on another label set; resume needs the same labels")
    first_run = int(last.metrics.get("run", 0)) if last else 0
    restarted: list[dict] = list(last.metrics.get("restarted_runs", [])) if last else []
    history: list[dict] = list(last.metrics.get("history", [])) if last else []  # every epoch of every run
    deadline = time.perf_counter() + config.max_train_seconds if config.max_train_seconds else None
    for run in range(first_run, config.restarts + 1):
        best = _train_run(
            run, config, train_ds, val_ds, class_weights, device, out, lhash, history, restarted,
            resume_from=last if run == first_run else None, deadline=deadline, progress=progress,
            train_nights=sorted({str(n) for n in train_df["night"]}) if "night" in train_df else [],
        )
        if best is not None:
            return _with_embedding_basis(best, (train_ds, val_ds), device, out / "best.pt", config.batch_size * 2)
        this_run = [h for h in history if h.get("run", 0) == run]
        if not this_run:
            raise AuroraSWError(f"{out}: no epoch was trained (already complete? use a new folder or more epochs)")
        top = max(this_run, key=lambda h: h["val_balanced_accuracy"])
        if not any(r["run"] == run for r in restarted):  # a resumed, already failed run is listed once
            restarted.append({"run": run, "seed": config.seed + run, "lr_scale": 0.5**run, "epochs": len(this_run), "best_epoch": top["epoch"],
                              "best_val_balanced_accuracy": top["val_balanced_accuracy"], "problem": top["problem"]})
        log.warning("run %d: no epoch passed the validation check (best: epoch %d, %s)", run, top["epoch"], top["problem"])
        if deadline is not None and time.perf_counter() > deadline:
            break
    final = load_checkpoint(last_path)  # the failure is part of the record: last.pt lists every run given up
    final.metrics["restarted_runs"] = restarted
    save_checkpoint(final, last_path)
    n_yes = int(task.is_aurora(val_df["label"]).sum())
    top = max(restarted, key=lambda r: r["best_val_balanced_accuracy"])
    stale = " (the best.pt there is from an earlier training)" if (out / "best.pt").exists() else ""
    raise AuroraSWError(
        f"{out}: training gave no usable classifier: on the validation nights ({len(val_df)} frames, {n_yes} aurora, {len(val_df) - n_yes} no aurora) "
        f"no epoch of {len(restarted)} run(s) passed the check; the best, run {top['run']} epoch {top['best_epoch']}, {top['problem']}. "
        f"No best.pt was written{stale}. Check the labels, label more nights, or train more epochs"
    )


#: Most labelled frames the embedding basis is fitted on (an even draw past that: the fit is a
#: forward pass over them, ~1 min for 2,000 frames at 240 px on 2 cores).
BASIS_FRAMES = 2000


def _with_embedding_basis(best: Checkpoint, datasets: tuple[FrameDataset, ...], device: torch.device, path: Path, batch_size: int) -> Checkpoint:
    """The best checkpoint with its embedding basis (:func:`aurora_sw.model.embedding.fit_basis`)
    fitted on the pooled features of the labelled frames (train and val, not augmented), saved again."""
    from aurora_sw.model.embedding import fit_basis, pooled_features

    if best.embedding_basis is not None:  # a resumed training whose best already has one
        return best
    frames = FrameDataset([p for ds in datasets for p in ds.paths], None, best.input_size, None, normalization=best.normalization)
    offsets = np.cumsum([0, *(len(ds) for ds in datasets)])
    frames._cache = {int(o) + i: img for o, ds in zip(offsets, datasets) for i, img in (ds._cache or {}).items()}  # frames decoded for training
    keep = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), BASIS_FRAMES)).round().astype(int))
    model = best.build_model().to(device).to(memory_format=torch.channels_last)
    feats = []
    with torch.inference_mode():
        for x, _ in DataLoader(torch.utils.data.Subset(frames, keep.tolist()), batch_size):
            feats.append(pooled_features(model, x.to(device).to(memory_format=torch.channels_last)).float().cpu().numpy())
    best.embedding_basis = fit_basis(np.concatenate(feats))
    save_checkpoint(best, path)
    return best


def _train_run(
    run: int,
    config: TrainConfig,
    train_ds: FrameDataset,
    val_ds: FrameDataset,
    class_weights: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    out: Path,
    lhash: str,
    history: list[dict],
    restarted: list[dict],
    resume_from: Checkpoint | None,
    deadline: float | None,
    progress: bool,
    train_nights: list[str],
) -> Checkpoint | None:
    """One run of the schedule, appending its epochs to ``history``; its best healthy checkpoint, or None."""
    seed, lr_scale = config.seed + run, 0.5**run
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train_dl = DataLoader(train_ds, config.batch_size, shuffle=True, generator=gen, num_workers=config.num_workers, drop_last=len(train_ds) > config.batch_size)
    val_dl = DataLoader(val_ds, config.batch_size * 2, num_workers=config.num_workers)
    task = get_task(config.task)
    val_labels = np.asarray(val_ds.labels)
    val_yes = task.is_aurora(np.asarray(task.classes, dtype=object)[val_labels])

    pretrained = config.pretrained or config.weights is not None
    # channels_last on every device: on the CPU too it trains EfficientNet-B1 1.4x (64 px) to 1.6x
    # (240 px) faster than the default layout (2 cores; benchmarks/train_throughput.py, RESULTS.md).
    model = create_model(config.model_name, pretrained=config.pretrained, weights=config.weights, num_classes=len(task.classes)).to(device).to(memory_format=torch.channels_last)
    stages = ([("head", config.epochs_head, config.lr_head * lr_scale)] if pretrained else []) + [("full", config.epochs_full, config.lr_full * lr_scale)]
    schedule = [(name, lr) for name, n, lr in stages for _ in range(n)]

    start_epoch, best_loss = 0, float("inf")
    best: Checkpoint | None = None
    if resume_from is not None:
        model.load_state_dict(resume_from.state_dict)
        start_epoch = resume_from.epoch
        best_loss = resume_from.metrics.get("best_val_loss", float("inf"))
        if (out / "best.pt").exists():
            prev = load_checkpoint(out / "best.pt")
            best = prev if prev.label_hash == lhash and prev.metrics.get("run", 0) == run else None
        log.info("resuming run %d after epoch %d", run, start_epoch)

    optimizer, scheduler, current_stage = None, None, None
    bar = tqdm(range(start_epoch, len(schedule)), desc=f"training (run {run})" if run else "training", unit="epoch", disable=not progress)
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
            if resume_from is not None and epoch == start_epoch and start_epoch > 0 and resume_from.optimizer_state and schedule[epoch - 1][0] == stage:
                optimizer.load_state_dict(resume_from.optimizer_state)
            current_stage = stage
        t0 = time.perf_counter()
        tr_loss, _, _ = _run_epoch(model, train_dl, device, class_weights[0], optimizer, scheduler)
        train_fps = len(train_ds) / (time.perf_counter() - t0)
        va_loss, va_probs, _ = _run_epoch(model, val_dl, device, class_weights[1])
        va_p = aurora_probability(va_probs, task.classes)
        check = validation_check(val_yes, va_p)
        va_acc = float(((va_p >= 0.5) == val_yes).mean())
        per_class = {}
        if task.name != "binary":  # the classes' recall on the validation nights, and top-1 accuracy
            top = va_probs.argmax(1)
            per_class = {"val_class_accuracy": float((top == val_labels).mean()),
                         **{f"val_recall_{c}": float((top[val_labels == i] == i).mean()) for i, c in enumerate(task.classes) if (val_labels == i).any()}}
        history.append(dict(
            run=run, epoch=epoch + 1, stage=stage, train_loss=tr_loss, val_loss=va_loss, val_accuracy=va_acc,
            val_balanced_accuracy=check["balanced_accuracy"], val_roc_auc=check["roc_auc"], degenerate=check["degenerate"],
            problem=check["problem"], train_frames_per_s=train_fps, **per_class,
        ))
        bar.set_postfix(loss=f"{tr_loss:.3f}", val_loss=f"{va_loss:.3f}", val_bal_acc=f"{check['balanced_accuracy']:.3f}")
        improved = not check["degenerate"] and va_loss < best_loss
        if improved:
            best_loss = va_loss
        ckpt = Checkpoint(
            model_name=config.model_name,
            state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            input_size=config.input_size,
            classes=task.classes,
            normalization=config.normalization,
            train_config={**asdict(config), "device": device.type, "seed_used": config.seed + run, "lr_scale": lr_scale},
            label_hash=lhash,
            metrics={
                "val_loss": va_loss, "val_accuracy": va_acc, "val_balanced_accuracy": check["balanced_accuracy"], "validation_check": check, **per_class,
                "selection": "lowest validation loss among the epochs that pass validation_check",
                "best_val_loss": best_loss, "run": run, "restarted_runs": restarted, "train_nights": train_nights,
                "degenerate_epochs": [[h.get("run", 0), h["epoch"]] for h in history if h.get("degenerate")], "history": list(history),
            },
            epoch=epoch + 1,
            optimizer_state=optimizer.state_dict(),
        )
        save_checkpoint(ckpt, out / "last.pt")
        if improved:
            ckpt.optimizer_state = None
            save_checkpoint(ckpt, out / "best.pt")
            best = ckpt
        if deadline is not None and time.perf_counter() > deadline:
            log.info("time budget of %.0f s reached after epoch %d", config.max_train_seconds, epoch + 1)
            break
    return best
