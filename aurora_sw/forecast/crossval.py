"""Night-blocked cross-validation of the forecast against the baselines, per lead.

Nights are held out whole (``GroupKFold`` over nights): the model (and the logistic baseline when
the model is trees), the climatology and the Kp rule are fitted on the other nights only, and every score is computed on
the held-out predictions of all folds together. Confidence intervals resample the nights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError
from aurora_sw.forecast.baselines import BASELINES, Climatology, KpRule, persistence
from aurora_sw.forecast.features import target
from aurora_sw.forecast.model import feature_columns, fit_classifier, model_kind
from aurora_sw.forecast.verify import brier, brier_skill, night_bootstrap, reliability, tss_best
from aurora_sw.model.evaluate import roc_auc

__all__ = ["LeadVerification", "MIN_NIGHTS", "cross_validate"]

#: Fewer nights than this cannot be cross-validated by night (2 folds of at least one night each).
MIN_NIGHTS = 2


@dataclass
class LeadVerification:
    """Held-out scores of one lead.

    ``model`` is the kind of the forecast (:func:`aurora_sw.forecast.model.model_kind`). ``bss`` maps
    each baseline (and ``logistic`` when the forecast is trees) to the Brier skill score of the forecast against
    it; ``ci`` maps each score to its 95 % night-bootstrap interval. Persistence is not scored at
    lead 0 (it is the observation itself).
    """

    lead_min: int
    model: str
    n_minutes: int
    n_nights: int
    base_rate: float
    brier: float
    roc_auc: float
    tss: float
    tss_threshold: float
    brier_of: dict[str, float]
    bss: dict[str, float]
    ci: dict[str, tuple[float, float]]
    reliability: dict[str, list[float]] = field(repr=False)
    held_out: pd.DataFrame = field(repr=False)

    def as_json(self) -> dict:
        """The JSON of ``verification.json`` for this lead."""
        return {
            "model": self.model, "n_minutes": self.n_minutes, "n_nights": self.n_nights, "base_rate": self.base_rate, "brier": self.brier, "roc_auc": self.roc_auc,
            "tss": self.tss, "tss_threshold": self.tss_threshold, "brier_of": self.brier_of, "bss": self.bss,
            "ci": {k: list(v) for k, v in self.ci.items()}, "reliability": self.reliability,
        }


def _scores(p: np.ndarray, refs: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    out = {"brier": brier(p, y), "roc_auc": roc_auc(y, p)}
    out.update({f"bss_{name}": brier_skill(p, ref, y) for name, ref in refs.items()})
    return out


def cross_validate(
    X: pd.DataFrame,
    observed: pd.Series,
    nights: np.ndarray,
    *,
    leads_min: Sequence[int],
    n_folds: int = 5,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[int, LeadVerification]:
    """Held-out verification of the forecast and its baselines for each lead.

    Parameters
    ----------
    X
        Features at each issue time (:func:`aurora_sw.forecast.features.features`), indexed by
        the issue minute (naive UTC).
    observed
        Aurora over the camera each minute (:func:`aurora_sw.forecast.features.observed_aurora`).
    nights
        The night of each row of ``X`` (folds and bootstrap never split one).
    leads_min
        Leads (minutes).
    n_folds
        Folds (at most the number of nights).
    n_boot
        Night-bootstrap replicates for the CIs.
    """
    from sklearn.model_selection import GroupKFold

    nights = np.asarray(nights)
    obs_now = observed.reindex(X.index).to_numpy()
    out = {}
    for lead in leads_min:
        y_all = target(observed, lead).reindex(X.index).to_numpy()
        rows = np.flatnonzero(np.isfinite(y_all))
        Xl, y, night = X.iloc[rows], y_all[rows].astype(int), nights[rows]
        n_nights = len(np.unique(night))
        if n_nights < MIN_NIGHTS:
            raise AuroraSWError(f"lead {lead} min: minutes with an observed outcome on {n_nights} night(s); night-wise verification needs {MIN_NIGHTS} or more")
        cols = feature_columns(list(X.columns), lead)
        kp = Xl["kp"].to_numpy() if "kp" in Xl else np.full(len(Xl), np.nan)
        folds = list(GroupKFold(n_splits=min(n_folds, n_nights)).split(Xl, y, night))
        kind = model_kind(n_nights)  # the kind the saved model (fitted on every night) will be: what is verified is what is saved
        learned = ("logistic",) if kind == "hgb" else ()  # trees are also scored against the simple learned model
        held = {name: np.full(len(rows), np.nan) for name in ("forecast", *learned, *BASELINES)}
        for train, test in folds:
            if np.unique(y[train]).size < 2:
                raise AuroraSWError(f"lead {lead} min: the training nights of a fold hold only one class; the index needs nights with and without aurora")
            Xtr, Xte = Xl.iloc[train], Xl.iloc[test]
            held["forecast"][test] = fit_classifier(Xtr[cols], y[train], night[train], kind=kind, seed=seed).predict_proba(Xte[cols])[:, 1]
            if learned:
                held["logistic"][test] = fit_classifier(Xtr[cols], y[train], night[train], kind="logistic", seed=seed).predict_proba(Xte[cols])[:, 1]
            clim = Climatology().fit(Xtr, y[train]).predict(Xte)
            held["climatology"][test] = clim
            held["kp_rule"][test] = KpRule().fit(kp[train], y[train]).predict(kp[test], clim)
            held["persistence"][test] = persistence(obs_now[rows][test], clim)
        skip = {"persistence"} if lead == 0 else set()  # at lead 0 persistence is the observation itself
        if not np.isfinite(kp).any():
            skip.add("kp_rule")  # no Kp among the features: the rule would be the climatology again
        refs = {name: held[name] for name in (*learned, *BASELINES) if name not in skip}
        p = held["forecast"]
        tss, tss_threshold = tss_best(p, y)
        ci = night_bootstrap(lambda r: _scores(p[r], {k: v[r] for k, v in refs.items()}, y[r]), night, n_boot=n_boot, seed=seed)
        point = _scores(p, refs, y)  # the same scores the bootstrap resamples, on every held-out minute
        out[lead] = LeadVerification(
            lead_min=lead, model=kind, n_minutes=len(rows), n_nights=n_nights, base_rate=float(y.mean()), brier=point["brier"], roc_auc=point["roc_auc"],
            tss=tss, tss_threshold=tss_threshold, brier_of={name: brier(ref, y) for name, ref in refs.items()},
            bss={name: point[f"bss_{name}"] for name in refs},
            ci=ci, reliability=reliability(p, y),
            held_out=pd.DataFrame({"y": y, "night": night, **held}, index=Xl.index),
        )
    return out
