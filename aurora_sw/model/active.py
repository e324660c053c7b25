"""What to label next: frames where the classifier is least sure, or that cover what is not labelled yet.

Active learning for the yes/no classifier. The candidates are the archive's usable frames under the
sky conditions being labelled, less those already labelled; the checkpoint scores each and gives
its pooled features (the network's embedding of the frame). Three strategies:

- ``uncertainty``: the frames whose ``p_aurora`` lies nearest the checkpoint's threshold (the
  decision boundary), where a label changes the model most; for a morphology model, the frames
  whose two likeliest sky classes are nearest each other (the smallest margin: arc or discrete?
  cloudy or diffuse?) or whose P(aurora) is nearest the threshold, whichever is nearer (twice the
  distance to the threshold against the margin, both on a 0-1 scale);
- ``diversity``: k-centre coverage of the embedding (Sener & Savarese 2018, greedy): each pick is
  the frame farthest from every frame labelled or picked so far, so the picks span what the archive
  holds, not just what is common;
- ``random``: a uniform draw (the baseline both are measured against).

Every strategy keeps the date-aware cap of :func:`aurora_sw.labels.sample_for_labelling`: at most
``per_night`` frames from one night.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.embedding import EMBEDDING_DIM
from aurora_sw.model.tasks import aurora_probability

__all__ = ["EMBEDDING_DIM", "STRATEGIES", "candidate_frames", "embed_frames", "select_frames"]

STRATEGIES: tuple[str, ...] = ("uncertainty", "diversity", "random")


def candidate_frames(
    manifest: pd.DataFrame,
    *,
    labelled: Sequence[str] = (),
    sun_classes: Sequence[str] = ("Night",),
    moon_classes: Sequence[str] = ("NoMoon",),
    pool: int | None = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The manifest's frames that may be suggested: those :func:`aurora_sw.labels.labellable`
    (usable, under the given sky conditions) and not labelled yet; at most ``pool`` of them
    (a uniform draw, so scoring the candidates stays bounded on a large archive)."""
    from aurora_sw.labels import labellable

    ok = labellable(manifest, sun_classes=sun_classes, moon_classes=moon_classes) & ~manifest["path"].isin(set(labelled))
    out = manifest[ok]
    if pool is not None and len(out) > pool:
        out = out.iloc[np.sort(np.random.default_rng(seed).choice(len(out), pool, replace=False))]
    return out.reset_index(drop=True)


def embed_frames(ckpt, paths: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_aurora`` and the pooled features of each frame under the checkpoint (PyTorch, CPU or GPU).

    Returns
    -------
    p, features, readable
        P(aurora) (n,), the network's pooled features before its classifier (n, d) and which of
        ``paths`` could be read (:func:`aurora_sw.model.embedding.frame_features`).
    """
    from aurora_sw.model.embedding import frame_features

    probs, features, readable = frame_features(ckpt, paths, batch_size=batch_size, progress=progress)
    return aurora_probability(probs, ckpt.classes) if len(probs) else np.empty(0), features, readable


def _reduced(features: np.ndarray, dim: int = EMBEDDING_DIM) -> np.ndarray:
    """Standardised features projected on their first ``dim`` principal components."""
    from aurora_sw.model.embedding import standardised_components

    mean, scale, comps = standardised_components(features, dim)
    return ((features - mean) / scale) @ comps.T if len(comps) else (features - mean) / scale


def select_frames(
    candidates: pd.DataFrame,
    *,
    strategy: str,
    n: int,
    threshold: float = 0.5,
    embeddings: np.ndarray | None = None,
    labelled_embeddings: np.ndarray | None = None,
    class_probabilities: np.ndarray | None = None,
    classes: Sequence[str] = (),
    per_night: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """``n`` of ``candidates`` to label next, by ``strategy``, at most ``per_night`` a night.

    Parameters
    ----------
    candidates
        Frames with ``p_aurora`` and ``night`` (:func:`candidate_frames` and :func:`embed_frames`).
    strategy
        ``uncertainty``, ``diversity`` or ``random`` (module docstring).
    threshold
        The checkpoint's decision threshold on ``p_aurora``.
    embeddings, labelled_embeddings
        Per-candidate embeddings (needed by ``diversity``) and those of the frames already labelled
        (the first centres; none: the picks start from the candidate nearest the mean).
    class_probabilities, classes
        A morphology model's class probabilities of each candidate (n, K) and its classes: then
        ``uncertainty`` ranks by the smaller of the margin between the two likeliest classes and
        twice the distance of ``p_aurora`` to ``threshold``.
    per_night
        Most frames suggested from one night.

    Returns
    -------
    pandas.DataFrame
        The picks in the order chosen, with ``reason`` (why each was chosen).
    """
    from scipy.spatial.distance import cdist

    if strategy not in STRATEGIES:
        raise AuroraSWError(f"--strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if n < 1 or per_night < 1:
        raise AuroraSWError(f"--n {n}, --per-night {per_night}: suggest at least 1 frame, at least 1 a night")
    nights = candidates["night"].to_numpy()
    taken: dict[str, int] = {}
    picks: list[int] = []
    reasons: list[str] = []

    def take(i: int, reason: str) -> bool:
        if taken.get(nights[i], 0) >= per_night:
            return False
        taken[nights[i]] = taken.get(nights[i], 0) + 1
        picks.append(i)
        reasons.append(reason)
        return len(picks) >= n

    p = candidates["p_aurora"].to_numpy(float)
    if strategy == "uncertainty" and class_probabilities is not None and len(classes) > 2:
        # Undecided between two classes, or between aurora and none (P(aurora), the sum of the aurora
        # classes, at the threshold): whichever is nearer, on one 0-1 scale.
        top = np.argsort(-class_probabilities, axis=1, kind="stable")[:, :2]
        first, second = (np.take_along_axis(class_probabilities, top[:, [k]], 1)[:, 0] for k in (0, 1))
        margin, boundary = first - second, 2 * np.abs(p - threshold)
        for i in np.argsort(np.minimum(margin, boundary), kind="stable"):
            classes_text = f"classes {classes[top[i, 0]]} {first[i]:.2f} / {classes[top[i, 1]]} {second[i]:.2f}: margin {margin[i]:.3f}"
            reason = classes_text if margin[i] <= boundary[i] else f"p_aurora {p[i]:.3f}: {abs(p[i] - threshold):.3f} from the threshold {threshold:.2f}; {classes_text}"
            if take(int(i), reason):
                break
    elif strategy == "uncertainty":
        for i in np.argsort(np.abs(p - threshold), kind="stable"):
            if take(int(i), f"p_aurora {p[i]:.3f}: {abs(p[i] - threshold):.3f} from the threshold {threshold:.2f}"):
                break
    elif strategy == "random":
        for i in np.random.default_rng(seed).permutation(len(p)):
            if take(int(i), "random draw"):
                break
    else:
        if embeddings is None or len(embeddings) != len(candidates):
            raise AuroraSWError("diversity needs an embedding of every candidate")
        both = embeddings if labelled_embeddings is None or not len(labelled_embeddings) else np.vstack([embeddings, labelled_embeddings])
        z = _reduced(both)
        cand, known = z[: len(embeddings)], z[len(embeddings) :]
        nearest = cdist(cand, known).min(axis=1) if len(known) else np.full(len(cand), np.inf)
        blocked = np.zeros(len(cand), bool)
        while len(picks) < n and not blocked.all():
            if np.isinf(nearest).all():  # nothing labelled: start at the most typical frame
                i = int(np.argmin(np.linalg.norm(cand - cand.mean(0), axis=1)))
                reason = "k-centre start: the most typical frame"
            else:
                i = int(np.argmax(np.where(blocked, -np.inf, nearest)))
                reason = f"k-centre: {nearest[i]:.2f} from the nearest frame labelled or chosen"
            blocked[i] = True
            if taken.get(nights[i], 0) >= per_night:
                continue
            take(i, reason)
            nearest = np.minimum(nearest, np.linalg.norm(cand - cand[i], axis=1))
    out = candidates.iloc[picks].copy()
    out["reason"] = reasons
    return out.reset_index(drop=True)
