"""Which frames to label next (active learning): ``aurora-sw label suggest`` and any notebook call :func:`suggest`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from aurora_sw.errors import AuroraSWError

__all__ = ["SUGGESTED_COLUMNS", "SuggestResult", "suggest"]

#: The columns of ``suggested.csv`` (the Labelling page reads ``path``; ``label`` is for the labeller).
SUGGESTED_COLUMNS = ["path", "time_utc", "night", "p_aurora", "reason", "label"]


@dataclass(frozen=True)
class SuggestResult:
    """Frames to label next, in the order chosen, and how they were chosen."""

    frames: pd.DataFrame
    strategy: str
    n_candidates: int
    threshold: float

    def summary(self) -> str:
        f = self.frames
        distance = (f["p_aurora"] - self.threshold).abs()
        return (f"{len(f)} frames from {f['night'].nunique()} nights by {self.strategy} of {self.n_candidates} candidates; "
                f"|p_aurora - {self.threshold:.2f}|: median {distance.median():.3f}, max {distance.max():.3f}")

    def write(self, path: str | os.PathLike) -> Path:
        """``suggested.csv``: :data:`SUGGESTED_COLUMNS`, ``label`` empty (fill in yes/no/unsure, or a sky class)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        self.frames.assign(label="")[SUGGESTED_COLUMNS].to_csv(tmp, index=False)
        os.replace(tmp, path)
        return path


def suggest(
    archive: str | os.PathLike,
    model: str | os.PathLike,
    *,
    strategy: str = "uncertainty",
    n: int = 50,
    labels: str | os.PathLike | None = None,
    per_night: int = 10,
    pool: int = 2000,
    sun_classes: Sequence[str] = ("Night",),
    moon_classes: Sequence[str] = ("NoMoon",),
    seed: int = 0,
    progress: bool = True,
) -> SuggestResult:
    """``n`` frames of ``archive`` to label next under the checkpoint ``model``.

    Parameters
    ----------
    archive
        The archive folder (its manifest).
    model
        The classifier checkpoint (its threshold is the decision boundary).
    strategy
        ``uncertainty`` (p nearest the threshold; for a morphology model, the smallest margin
        between the two likeliest sky classes), ``diversity`` (k-centre coverage of the
        network's embedding, starting from the labelled frames) or ``random``
        (:mod:`aurora_sw.model.active`).
    labels
        The label store: its frames are not suggested again (and seed the diversity cover).
    per_night
        Most frames suggested from one night (the date-aware cap).
    pool
        Candidates scored at most (a uniform draw of the usable frames).
    """
    from aurora_sw.ingest import read_manifest
    from aurora_sw.model.active import STRATEGIES, candidate_frames, embed_frames, select_frames
    from aurora_sw.model.embedding import frame_features
    from aurora_sw.model.tasks import aurora_probability

    if strategy not in STRATEGIES:  # before the model and the frames are read
        raise AuroraSWError(f"--strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if n < 1 or per_night < 1 or pool < 1:
        raise AuroraSWError(f"--n {n}, --per-night {per_night}, --pool {pool}: each must be 1 or more")
    from aurora_sw.labels import LabelStore
    from aurora_sw.model.checkpoint import load_checkpoint

    if labels is not None and not Path(labels).is_file():
        raise AuroraSWError(f"--labels {labels}: no such label store; give the store you label into (e.g. archive/labels.parquet), or leave --labels out")
    manifest = read_manifest(archive)
    labelled = LabelStore(labels).df if labels is not None else pd.DataFrame(columns=["path"])
    ckpt = load_checkpoint(model)
    candidates = candidate_frames(manifest, labelled=[str(Path(p).resolve()) for p in labelled["path"]] + list(labelled["path"]),
                                  sun_classes=sun_classes, moon_classes=moon_classes, pool=pool, seed=seed)
    if candidates.empty:
        raise AuroraSWError(f"{archive}: no unlabelled frames under {','.join(sun_classes)} / {','.join(moon_classes)} to suggest")
    probs, features, readable = frame_features(ckpt, list(candidates["path"]), progress=progress)
    if not readable.any():
        raise AuroraSWError(f"{archive}: none of the {len(candidates)} candidate frames could be read (moved, deleted or damaged); ingest the frames again, which flags the damaged ones")
    candidates = candidates[readable].reset_index(drop=True).assign(p_aurora=aurora_probability(probs, ckpt.classes))
    known = None
    if strategy == "diversity" and len(labelled):
        sample = labelled.sample(min(len(labelled), pool), random_state=seed)
        _, known, _ = embed_frames(ckpt, list(sample["path"]), progress=progress)
    picks = select_frames(candidates, strategy=strategy, n=n, threshold=ckpt.threshold, embeddings=features if strategy == "diversity" else None,
                          labelled_embeddings=known, class_probabilities=probs, classes=ckpt.classes, per_night=per_night, seed=seed)
    return SuggestResult(picks, strategy, len(candidates), float(ckpt.threshold))
