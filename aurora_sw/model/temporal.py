"""Temporal context for per-minute aurora probabilities: a two-state HMM smoother.

Aurora comes and goes over minutes, a classifier decides frame by frame. Treat "aurora" as a
hidden two-state Markov chain that stays in its state with probability ``p_stay`` per step, and
the classifier's P(aurora) (trained on balanced classes, so it is a likelihood ratio) as the
emission; forward-backward gives P(aurora | the whole night). Gaps (NaN, or a time step longer
than ``max_gap``) start a new, independent segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _forward_backward(p: np.ndarray, p_stay: float, prior: float) -> np.ndarray:
    n = len(p)
    eps = 1e-6
    emis = np.stack([1 - np.clip(p, eps, 1 - eps), np.clip(p, eps, 1 - eps)], 1)
    trans = np.array([[p_stay, 1 - p_stay], [1 - p_stay, p_stay]])
    alpha = np.empty((n, 2))
    alpha[0] = np.array([1 - prior, prior]) * emis[0]
    alpha[0] /= alpha[0].sum()
    for t in range(1, n):
        a = (alpha[t - 1] @ trans) * emis[t]
        alpha[t] = a / a.sum()
    beta = np.ones((n, 2))
    for t in range(n - 2, -1, -1):
        b = trans @ (emis[t + 1] * beta[t + 1])
        beta[t] = b / b.sum()
    post = alpha * beta
    return post[:, 1] / post.sum(1)


def hmm_smooth(
    p: np.ndarray,
    times: np.ndarray | pd.DatetimeIndex | None = None,
    p_stay: float = 0.95,
    prior: float = 0.5,
    max_gap: pd.Timedelta = pd.Timedelta(minutes=5),
) -> np.ndarray:
    """Smoothed P(aurora) for a time-ordered series of per-frame probabilities.

    Parameters
    ----------
    p
        Classifier probabilities in time order (NaN where there is no frame).
    times
        Their UTC times; a step longer than ``max_gap`` breaks the chain (default: no breaks
        except NaN).
    p_stay
        Probability per step of staying in the same state (0.95 at 1-min cadence: aurora episodes
        of ~20 min on average).

    Returns
    -------
    numpy.ndarray
        P(aurora | all frames of the segment), NaN where ``p`` is NaN.
    """
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    breaks = np.r_[True, ~ok[:-1]] if len(p) else np.array([], bool)
    if times is not None and len(p) > 1:
        breaks |= (pd.DatetimeIndex(times).to_series().diff() > max_gap).to_numpy()
    seg_id = np.cumsum(breaks | ~ok)
    for sid in np.unique(seg_id[ok]):
        idx = np.flatnonzero((seg_id == sid) & ok)
        out[idx] = _forward_backward(p[idx], p_stay, prior)
    return out
