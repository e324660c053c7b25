"""The forecasts people use today, fitted on training nights only: persistence, climatology, the Kp rule.

Each returns P(aurora at t + Δ) for rows of the feature table, so it is scored exactly as the
learned model is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BASELINES", "Climatology", "KpRule", "persistence"]

#: The baselines every lead is scored against (persistence only where the lead is > 0).
BASELINES = ("persistence", "climatology", "kp_rule")


def persistence(observed_now: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """What the camera sees at the issue time, held: 1 or 0; ``fallback`` where it sees nothing."""
    now = np.asarray(observed_now, float)
    return np.where(np.isfinite(now), now, fallback)


def _mlt_hour(features: pd.DataFrame) -> np.ndarray:
    mlt = np.mod(np.degrees(np.arctan2(features["mlt_sin"], features["mlt_cos"])) / 15.0, 24.0)
    return np.floor(mlt).astype(int)


@dataclass
class Climatology:
    """P(aurora) by MLT hour x month from the training minutes (MLT hour alone, then overall, where a cell has
    fewer than ``min_count`` minutes)."""

    min_count: int = 30
    cells: dict | None = None
    by_hour: dict | None = None
    overall: float = float("nan")

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> "Climatology":
        df = pd.DataFrame({"h": _mlt_hour(features), "m": features.index.month, "y": np.asarray(y, float)})
        cell = df.groupby(["h", "m"])["y"].agg(["mean", "size"])
        hour = df.groupby("h")["y"].agg(["mean", "size"])
        self.cells = {k: v for k, v in cell["mean"][cell["size"] >= self.min_count].items()}
        self.by_hour = {k: v for k, v in hour["mean"][hour["size"] >= self.min_count].items()}
        self.overall = float(df["y"].mean())
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        hours, months = _mlt_hour(features), features.index.month
        return np.array([self.cells.get((h, m), self.by_hour.get(h, self.overall)) for h, m in zip(hours, months)], float)


def _thirds(kp: np.ndarray) -> np.ndarray:
    """Kp on its own scale of thirds (2.33 and 2.333 are both 2+, 7/3), so thresholds compare exactly."""
    return np.round(np.asarray(kp, float) * 3) / 3


@dataclass
class KpRule:
    """Aurora when Kp >= a threshold: the threshold that maximises the TSS on the training minutes,
    and as probability the aurora rate above and below it there."""

    threshold: float = float("nan")
    p_above: float = float("nan")
    p_below: float = float("nan")

    def fit(self, kp: np.ndarray, y: np.ndarray) -> "KpRule":
        kp, y = _thirds(kp), np.asarray(y, float)
        ok = np.isfinite(kp)
        kp, y = kp[ok], y[ok]
        best = -np.inf
        for k in np.unique(kp):
            above = kp >= k
            if above.all() or not above.any() or y.all() or not y.any():
                continue
            tss = above[y == 1].mean() - above[y == 0].mean()
            if tss > best:
                best, self.threshold = tss, float(k)
        rate = float(y.mean()) if len(y) else float("nan")
        if np.isfinite(self.threshold):
            self.p_above, self.p_below = float(y[kp >= self.threshold].mean()), float(y[kp < self.threshold].mean())
        else:
            self.p_above = self.p_below = rate
        return self

    def predict(self, kp: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        kp = _thirds(kp)
        p = np.where(kp >= self.threshold, self.p_above, self.p_below)
        return np.where(np.isfinite(kp), p, fallback)
