"""How good is the classifier on frames whose answer is known: asked one way everywhere.

``aurora-sw evaluate`` and the demo call :func:`evaluate`: the same frames and checkpoint give the
same metrics, the same per-sky-condition table and the same temporally smoothed accuracy.

The choices made once, here:

- Frames without ``p_aurora`` are scored with the checkpoint (the runtime ``score`` uses); frames
  that already carry it (the demo's, read back from the index) are not scored again.
- Frames without ``sun_class``/``moon_class`` get them from the site's Sun and Moon (astropy).
- The **smoothed** accuracy is the HMM of :func:`aurora_sw.model.temporal.hmm_smooth` run over
  each night's frames in time order, at the checkpoint's threshold; it says what temporal
  context adds, beside the per-frame figure.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.catalog import Catalog, Site
    from aurora_sw.model.checkpoint import Checkpoint

log = logging.getLogger(__name__)

__all__ = ["EvaluationResult", "SPLITS", "evaluate", "frames_of_split"]

#: Which rows of a label file :func:`frames_of_split` keeps.
SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of a classifier on labelled frames.

    Attributes
    ----------
    metrics
        :func:`aurora_sw.model.evaluate.classification_metrics` per frame (accuracy, precision,
        recall, F1, ROC/PR-AUC, ECE, n, ...).
    metrics_smoothed
        The same after HMM smoothing over each night (empty when frames carry no night).
    out
        Folder with ``metrics.json``, ``per_condition.csv``, ``predictions.csv`` and the plots.
    morphology
        For a morphology checkpoint and frames labelled with classes:
        :func:`aurora_sw.model.evaluate.morphology_metrics` (per-class precision/recall, confusion
        matrix), also in ``morphology.json``, ``confusion.csv`` and ``morphology_by_condition.csv``.
    """

    metrics: dict[str, Any]
    metrics_smoothed: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    morphology: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return float(self.metrics["accuracy"])

    @property
    def accuracy_smoothed(self) -> float:
        return float(self.metrics_smoothed.get("accuracy", np.nan))

    def summary(self) -> str:
        """One line for a log or a terminal."""
        m = self.metrics
        text = (f"{m['n']} frames: accuracy {m['accuracy']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
                f"F1 {m['f1']:.3f}, ROC-AUC {m['roc_auc']:.3f}, ECE {m['ece']:.3f}")
        if self.metrics_smoothed:
            text += f"; with HMM smoothing over each night {self.accuracy_smoothed:.3f}"
        if m.get("frames_from_training_nights"):
            text += f" (NOT held-out: {m['frames_from_training_nights']} frames are from nights the model trained on)"
        if self.morphology:
            mm = self.morphology
            recalls = ", ".join(f"{c} {v['recall']:.2f}" for c, v in mm["per_class"].items() if v["support"])
            text += f"\nmorphology, {mm['n']} frames: class accuracy {mm['accuracy']:.3f}; recall {recalls}"
        return text + (f" -> {self.out}" if self.out else "")


def frames_of_split(labels: pd.DataFrame, split: str = "val", *, source: str | os.PathLike = "labels") -> pd.DataFrame:
    """The labelled frames of one split of a label table (``all``: every row).

    Raises
    ------
    AuroraSWError
        An unknown split, a label store without a ``split`` column (evaluating on it would count
        frames the model trained on), or no frames in the split; ``source`` names the file.
    """
    if split not in SPLITS:
        raise AuroraSWError(f"--split {split!r}: use {', '.join(SPLITS[:-1])} or {SPLITS[-1]}")
    if "split" not in labels and split != "all":
        raise AuroraSWError(
            f"{source}: no split column (a label store, not the split.parquet `train` writes): pass MODEL_DIR/split.parquet "
            "to evaluate on held-out nights, or --split all to use every frame, including any the model was trained on"
        )
    frames = labels if split == "all" else labels[labels["split"] == split]
    if frames.empty:
        raise AuroraSWError(f"{source}: no labelled frames in split {split!r}")
    return frames.reset_index(drop=True)


def _smoothed_metrics(frames: pd.DataFrame, threshold: float) -> dict[str, Any]:
    from aurora_sw.model.evaluate import classification_metrics
    from aurora_sw.model.temporal import hmm_smooth

    if "night" not in frames or "time_utc" not in frames:
        return {}
    ordered = frames.assign(y=frames["label"].to_numpy() == "yes").sort_values("time_utc")
    nights = [g for _, g in ordered.groupby("night")]
    p = np.concatenate([hmm_smooth(g["p_aurora"].to_numpy(float), g["time_utc"]) for g in nights])
    y = np.concatenate([g["y"].to_numpy() for g in nights])
    return classification_metrics(y, p, threshold)


def evaluate(
    frames: pd.DataFrame,
    checkpoint: "Checkpoint",
    out: str | os.PathLike,
    *,
    site: "Site | None" = None,
    catalog: "Catalog | None" = None,
    progress: bool = True,
) -> EvaluationResult:
    """Score (if needed) and evaluate labelled frames; write the report into ``out``.

    Parameters
    ----------
    frames
        One row per frame: ``path``, ``label`` (``yes``/``no``; other labels are kept in the
        per-condition table but not in the metrics), ``time_utc`` (UTC), and optionally
        ``night``, ``p_aurora`` (already scored) and ``sun_class``/``moon_class``.
    checkpoint
        The classifier; its ``threshold`` is the decision threshold.
    out
        Folder for ``metrics.json``, ``per_condition.csv``, ``predictions.csv``,
        ``reliability.png`` and ``softmax_by_condition.png``.
    site, catalog
        Where and with which thresholds the sky conditions are computed, when ``frames`` lacks
        them (default: the catalog's default site).
    progress
        Show a progress bar while scoring.
    """
    from aurora_sw.model.evaluate import write_report

    from aurora_sw.labels import MORPHOLOGY_CLASSES
    from aurora_sw.model.tasks import binary_label

    frames = frames.reset_index(drop=True)
    classes = frames["label"].where(frames["label"].isin(MORPHOLOGY_CLASSES))  # class labels, NaN where yes/no
    frames = frames.assign(label=[binary_label(v) if v in MORPHOLOGY_CLASSES else v for v in frames["label"]])
    by_class = len(checkpoint.classes) > 2 and classes.notna().any()
    if by_class:  # the model's classes are always its own: a table's "morphology" may be the truth
        frames = frames.drop(columns=["morphology"], errors="ignore")
    if "p_aurora" not in frames or by_class:
        from aurora_sw.index.score import score_frames

        scored = score_frames(list(frames["path"]), checkpoint, progress=progress)
        frames = frames.assign(p_aurora=scored["p_aurora"].to_numpy(), **({"morphology": scored["morphology"].to_numpy()} if by_class else {}))
    if "sun_class" not in frames or "moon_class" not in frames:
        from aurora_sw.catalog import load_catalog
        from aurora_sw.sky import sky_conditions

        catalog = catalog or load_catalog()
        from aurora_sw.times import aware_utc

        site = site or catalog.site(None)
        geo = sky_conditions(pd.DatetimeIndex(aware_utc(frames["time_utc"])), site, catalog.sky_conditions)
        frames = frames.assign(sun_class=geo["sun_class"].to_numpy(), moon_class=geo["moon_class"].to_numpy())
    unscored = frames["p_aurora"].isna()
    if unscored.all():
        raise AuroraSWError(f"none of the {len(frames)} frames could be scored (first: {frames['path'].iloc[0]}); "
                            "relative paths are read from the working directory")
    trained_on = frames["night"].astype(str).isin(set(checkpoint.metrics.get("train_nights", []))) if "night" in frames else pd.Series(False, index=frames.index)
    if trained_on.any():
        log.warning("%d of %d frames are from nights the model trained on (%s): these figures are not held-out; evaluate on its "
                    "split.parquet's val nights", int(trained_on.sum()), len(frames), ", ".join(sorted(set(frames.loc[trained_on, "night"].astype(str)))[:5]))
    out = Path(out)
    metrics = write_report(frames, out, checkpoint.threshold)
    metrics["frames_from_training_nights"] = int(trained_on.sum())
    labelled = frames[frames["label"].isin(["yes", "no"])]
    morphology = _morphology_report(frames.assign(label=classes), checkpoint.classes, out) if by_class else {}
    return EvaluationResult(metrics=metrics, metrics_smoothed=_smoothed_metrics(labelled, checkpoint.threshold), out=out, morphology=morphology)


def _morphology_report(frames: pd.DataFrame, classes: tuple[str, ...], out: Path) -> dict[str, Any]:
    """Per-class metrics of the frames labelled with a class and scored: ``morphology.json``,
    ``confusion.csv`` (rows true, columns predicted) and ``morphology_by_condition.csv``."""
    import json

    from aurora_sw.model.evaluate import morphology_by_condition, morphology_metrics

    known = frames[frames["label"].notna() & (frames["morphology"] != "")]
    if known.empty:
        log.warning("no class-labelled frame could be scored: no per-class report")
        return {}
    mm = morphology_metrics(known["label"].to_numpy(), known["morphology"].to_numpy(), classes)
    (out / "morphology.json").write_text(json.dumps(mm, indent=2))
    pd.DataFrame(mm["confusion"], index=pd.Index(classes, name="true"), columns=list(classes)).to_csv(out / "confusion.csv")
    morphology_by_condition(known).to_csv(out / "morphology_by_condition.csv")
    return mm
