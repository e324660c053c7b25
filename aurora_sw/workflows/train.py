"""Train the aurora classifier on labelled frames: night-wise split, then two-stage fine-tuning.

``aurora-sw train`` and the demo call :func:`train`, so the same labels and settings give the
same split and the same checkpoint.

The choice made once, here: **every label is used** (``balance=False``). The loss weighs the two
classes equally (see :func:`aurora_sw.model.train.train_classifier`), so downsampling the larger
class only throws labels away: on the synthetic sky it dropped up to 60 % of a seed's labels and
with them most of the rare twilight aurora, which the held-out night then missed.
``balance=True`` downsamples as the seed study did.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.model.checkpoint import Checkpoint
    from aurora_sw.model.config import TrainConfig

log = logging.getLogger(__name__)

__all__ = ["SPLIT_NAME", "TrainResult", "VAL_FRACTION", "train"]

#: Fraction of the labelled nights held out for validation.
VAL_FRACTION = 0.2
#: The split ``train`` writes beside the checkpoints (``evaluate --labels`` takes it).
SPLIT_NAME = "split.parquet"


@dataclass(frozen=True)
class TrainResult:
    """The best checkpoint and the night-wise split it was trained and validated on."""

    checkpoint: "Checkpoint"
    split: pd.DataFrame
    out: Path

    def summary(self) -> str:
        """One line (and one per restarted run) for a log or a terminal."""
        m = self.checkpoint.metrics
        h = m["history"][-1]
        lines = [f"best epoch {self.checkpoint.epoch}: val loss {m['val_loss']:.4f}, val accuracy {m['val_accuracy']:.3f} "
                 f"(balanced {m.get('val_balanced_accuracy', float('nan')):.3f}); {h['train_frames_per_s']:.0f} training frames/s -> {self.out / 'best.pt'}"]
        lines += [f"  run {r['run']} restarted: no epoch passed the validation check (best: {r['problem']})" for r in m.get("restarted_runs", [])]
        return "\n".join(lines)


def train(
    labels: pd.DataFrame,
    out: str | os.PathLike,
    config: "TrainConfig",
    *,
    val_fraction: float = VAL_FRACTION,
    balance: bool = False,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Split ``labels`` by night, write the split to ``out/split.parquet`` and train into ``out``.

    Parameters
    ----------
    labels
        Label table (``path``, ``night``, ``label``, ``time_utc``): yes/no/unsure or morphology
        classes; :func:`aurora_sw.model.tasks.task_labels` keeps those of ``config.task``.
    out
        Folder for ``last.pt`` (every epoch), ``best.pt`` and ``split.parquet``.
    config
        Training settings; ``config.seed`` also seeds the split.
    val_fraction
        Fraction of nights held out for validation (whole nights: no leak between frames of a night).
    balance
        Downsample the larger class in each split (the seed study's way) instead of using every label.
    resume
        Continue from ``out/last.pt`` (same labels only).
    """
    from aurora_sw.labels import split_by_night, split_report
    from aurora_sw.model.tasks import get_task, task_labels
    from aurora_sw.model.train import train_classifier

    out = Path(out)
    if resume and not (out / "last.pt").exists():
        raise AuroraSWError(f"{out}: nothing to resume (no last.pt); drop --resume to start a new run")
    task = get_task(config.task)
    usable = task_labels(labels, task)
    if len(usable) < len(labels[labels["label"] != "unsure"]):
        log.info("%d of %d labels are not %s classes and are left out", len(labels[labels["label"] != "unsure"]) - len(usable), len(labels), task.name)
    split = split_by_night(usable, val_fraction=val_fraction, seed=config.seed, balance=balance)
    log.debug("label split (nights and frames per class):\n%s", split_report(split).to_string())
    best = train_classifier(split, config, out, resume=resume, progress=progress)
    # Written with the checkpoint, not before: a run that fails leaves the split of the best.pt beside it.
    split.to_parquet(out / SPLIT_NAME, index=False)
    return TrainResult(checkpoint=best, split=split, out=out)
