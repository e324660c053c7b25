"""Forecast verification: Brier score and skill, ROC-AUC, TSS, reliability, bootstrap CIs over nights.

Every score compares probabilities ``p`` with binary outcomes ``y`` (1 = aurora); ROC-AUC is the
classifier's own (:func:`aurora_sw.model.evaluate.roc_auc`, one implementation for both). Confidence
intervals resample whole nights (the unit that is independent), never minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["brier", "brier_skill", "night_bootstrap", "reliability", "tss_best"]


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Brier score: mean of (p - y)^2 (0 perfect; a constant 0.5 scores 0.25)."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def brier_skill(p: np.ndarray, reference: np.ndarray, y: np.ndarray) -> float:
    """Brier skill score against a reference forecast: 1 - BS(p) / BS(reference) (> 0: better)."""
    ref = brier(reference, y)
    return float(1.0 - brier(p, y) / ref) if ref > 0 else float("nan")


def tss_best(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """True skill statistic (hit rate - false-alarm rate) at the threshold that maximises it.

    Returns
    -------
    (tss, threshold)
        NaN, NaN when only one class occurs.
    """
    from sklearn.metrics import roc_curve

    y = np.asarray(y, float)
    if not 0 < y.sum() < len(y):
        return float("nan"), float("nan")
    fpr, tpr, thresholds = roc_curve(y, p)
    i = int(np.argmax(tpr - fpr))
    return float(tpr[i] - fpr[i]), float(min(thresholds[i], 1.0))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Reliability diagram data: per probability bin, the mean forecast, observed frequency and count."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    out: dict[str, list[float]] = {"forecast": [], "observed": [], "count": []}
    for b in range(bins):
        sel = which == b
        if sel.any():
            out["forecast"].append(float(p[sel].mean()))
            out["observed"].append(float(y[sel].mean()))
            out["count"].append(int(sel.sum()))
    return out


def night_bootstrap(
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    nights: np.ndarray,
    *,
    n_boot: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile CIs of each value ``statistic(rows)`` returns, resampling whole nights.

    Parameters
    ----------
    statistic
        Computes named values from a boolean-or-index selection of rows.
    nights
        The night of each row.
    n_boot
        Replicates (nights drawn with replacement, as many as there are).
    level
        Central coverage of the interval.

    Returns
    -------
    dict
        ``{name: (low, high)}``; NaN bounds where fewer than half the replicates give a value.
    """
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(nights, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == k) for k in range(len(unique))]
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        pick = rng.integers(0, len(unique), len(unique))
        rows = np.concatenate([rows_of[k] for k in pick])
        for name, value in statistic(rows).items():
            draws.setdefault(name, []).append(value)
    alpha = (1 - level) / 2
    out = {}
    for name, values in draws.items():
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        out[name] = (float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))) if len(v) >= n_boot / 2 else (float("nan"), float("nan"))
    return out
