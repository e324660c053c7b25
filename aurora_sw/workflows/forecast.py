"""Forecast P(aurora over the camera at t + Δ): train and verify by night, then predict, one way everywhere.

``aurora-sw forecast train|predict`` and the demo call these, so the same index and solar wind give
the same verification on every face. The choices made once, here:

- **Leads** 0 (nowcast, from the solar wind alone: the camera's present state is the target), 15,
  30, 60 and 120 min (``DEFAULT_LEADS``).
- **Features**: the drivers by default (``DEFAULT_VARIABLES``), the season only over a year or more
  of nights (``SEASON_MIN_DAYS``).
- **Target**: the index's ``aurora`` (``p_aurora`` at its threshold) at t + Δ, on dark minutes
  (Sun in the Night or Astro class) with a scored frame; other minutes are not scored.
- **Model**: logistic regression below 20 nights, calibrated gradient-boosted trees from there
  (:data:`aurora_sw.forecast.model.TREES_MIN_NIGHTS`: trees learn a few nights by heart).
- **Verification**: 5 folds of whole nights (fewer when there are fewer nights); baselines fitted
  on the training nights of each fold; 200 night-bootstrap replicates for the CIs.
- **The saved model** is refitted on all nights after verification.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.forecast.crossval import LeadVerification, cross_validate
from aurora_sw.forecast.features import DEFAULT_VARIABLES, KP_INTERVAL_MIN, SEASON_FEATURES, SEASON_MIN_DAYS, WINDOWS_MIN, features, observed_aurora, target
from aurora_sw.forecast.model import ForecastModel, feature_columns, fit_classifier
from aurora_sw.index.schema import night_of

__all__ = ["DEFAULT_LEADS", "ForecastTraining", "forecast_variables", "history_span", "predict_forecast", "train_forecast"]

DEFAULT_LEADS: tuple[int, ...] = (0, 15, 30, 60, 120)
N_FOLDS = 5
N_BOOT = 200


def history_span(times: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The solar wind (UTC, inclusive) a forecast issued at ``times`` needs: its longest window (or Kp's
    last completed 3-hour interval) before the first."""
    return times.min() - pd.Timedelta(minutes=max(*WINDOWS_MIN, KP_INTERVAL_MIN) + 1), times.max()


def forecast_variables(variables: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """The solar-wind variables a forecast uses: those asked for, or the defaults the catalog has."""
    if variables:
        unknown = [v for v in variables if v not in available]
        if unknown:
            raise AuroraSWError(f"--vars: {', '.join(map(repr, unknown))} not in the catalog's solar-wind variables ({', '.join(available)})")
        return list(dict.fromkeys(variables))
    return [v for v in DEFAULT_VARIABLES if v in available]


@dataclass
class ForecastTraining:
    """A trained forecast and its held-out verification.

    Attributes
    ----------
    model
        Refitted on all nights, for :func:`predict_forecast`.
    verification
        Lead (minutes) -> held-out scores (:class:`aurora_sw.forecast.crossval.LeadVerification`).
    """

    model: ForecastModel
    verification: dict[int, LeadVerification]

    def as_json(self) -> dict:
        """``verification.json``: ``{"leads": {"60": {"roc_auc", "brier", "bss": {...}, "ci": {...}, ...}}}``."""
        return {"leads": {str(k): v.as_json() for k, v in self.verification.items()}, "nights": self.model.nights,
                "variables": self.model.variables, "threshold": self.model.threshold,
                "method": f"GroupKFold over nights ({N_FOLDS} folds at most); CIs: {N_BOOT} night-bootstrap replicates"}

    def summary_line(self, lead: int) -> str:
        """One line for ``lead``: ROC-AUC and the Brier skill against each baseline, with CIs."""
        v = self.verification[lead]

        def ci(name: str) -> str:
            lo, hi = v.ci.get(name, (np.nan, np.nan))
            return f" ({lo:.2f} .. {hi:.2f})" if np.isfinite(lo) else ""

        skills = ", ".join(f"{name} {value:+.2f}{ci('bss_' + name)}" for name, value in v.bss.items())
        return f"t+{lead:>3} min  {v.model}  ROC-AUC {v.roc_auc:.2f}{ci('roc_auc')}  Brier {v.brier:.3f}  BSS vs {skills}  ({v.n_minutes} min, {v.n_nights} nights)"

    def summary(self) -> str:
        """The per-lead lines, as ``aurora-sw forecast train`` prints them."""
        return "\n".join(self.summary_line(lead) for lead in self.verification)

    def write(self, out: str | os.PathLike) -> Path:
        """The model (``model.json`` + ``lead_*.skops``), ``verification.json``, ``held_out.parquet``
        (every held-out forecast and baseline) and ``verification.png`` into ``out``."""
        from aurora_sw.forecast.plots import plot_verification

        out = Path(out)
        self.model.save(out)
        (out / "verification.json").write_text(json.dumps(self.as_json(), indent=2, allow_nan=True))
        pd.concat({lead: v.held_out for lead, v in self.verification.items()}, names=["lead_min", "time"]).to_parquet(out / "held_out.parquet")
        plot_verification(self.verification, out / "verification.png")
        return out


def train_forecast(
    index: xr.Dataset,
    solarwind: xr.Dataset,
    *,
    site: Site,
    site_key: str,
    leads_min: Sequence[int] = DEFAULT_LEADS,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    n_folds: int = N_FOLDS,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> ForecastTraining:
    """Verify the forecast by night against the baselines, then fit it on every night.

    Parameters
    ----------
    index
        The aurora index (loaded): ``aurora``, ``p_aurora``, ``sun_class`` and its threshold.
    solarwind
        The solar-wind ``variables`` over :func:`history_span` of the index's minutes.
    site, site_key
        The camera site and its catalog key.
    leads_min
        Forecast leads (minutes; 0 = nowcast).
    """
    leads = sorted(set(int(v) for v in leads_min))
    if not leads or leads[0] < 0:
        raise AuroraSWError(f"--leads {','.join(map(str, leads_min))}: give leads of 0 (nowcast) or more minutes, e.g. 0,15,30,60,120")
    for name in ("aurora", "p_aurora", "sun_class"):
        if name not in index:
            raise AuroraSWError(f"the index has no {name!r}: score the archive with `aurora-sw score` first")
    observed = observed_aurora(index)
    issue = pd.DatetimeIndex(index["time"].values)
    X = features(issue, solarwind, index=index, site=site, variables=variables)
    nights = night_of(issue, start_hour=index.aurora.night_start_utc_hour)
    observed_nights = pd.DatetimeIndex(sorted(set(nights[np.isfinite(observed.to_numpy())])))
    if len(observed_nights) and (observed_nights.max() - observed_nights.min()).days < SEASON_MIN_DAYS:
        X = X.drop(columns=list(SEASON_FEATURES))  # a short archive: the day of year would name the night
    verification = cross_validate(X, observed, nights, leads_min=leads, n_folds=n_folds, n_boot=n_boot, seed=seed)
    classifiers = {}
    for lead in leads:
        y = target(observed, lead).reindex(issue).to_numpy()
        ok = np.isfinite(y)
        classifiers[lead] = fit_classifier(X.loc[ok, feature_columns(list(X.columns), lead)], y[ok].astype(int), nights[ok], kind=verification[lead].model, seed=seed)
    model = ForecastModel(
        kind=verification[leads[0]].model, leads_min=leads, variables=list(variables), features=list(X.columns), site=site_key,
        nights=sorted(set(nights[np.isfinite(observed.to_numpy())])), threshold=float(index["aurora"].attrs.get("threshold", np.nan)),
        classifiers=classifiers,
    )
    return ForecastTraining(model, verification)


def predict_forecast(model: ForecastModel, solarwind: xr.Dataset, at: pd.Timestamp, *, site: Site, index: xr.Dataset | None = None) -> pd.Series:
    """P(aurora over the camera at ``at`` + lead) for each of the model's leads.

    Parameters
    ----------
    model
        A trained forecast (:func:`aurora_sw.forecast.load_forecast_model`).
    solarwind
        The model's solar-wind variables over :func:`history_span` of ``at``.
    at
        Issue time (naive UTC; floored to the minute).
    index
        The index covering ``at`` (the camera's present state); None: the forecast from the solar
        wind alone (those features are missing, as the trees allow).

    Returns
    -------
    pandas.Series
        Probability per lead, indexed by lead in minutes.
    """
    t = pd.DatetimeIndex([pd.Timestamp(at).floor("1min")])
    X = features(t, solarwind, index=index, site=site, variables=model.variables)[model.features]
    need = [c for c in model.features if c.startswith(tuple(v for v in model.variables if v != "kp"))]
    if need and X[need].isna().all(axis=1).iloc[0]:
        raise AuroraSWError(f"no solar wind in the two hours before {t[0]:%Y-%m-%d %H:%M} UTC: nothing to forecast from; fetch it, or pick another "
                            "--at (OMNI comes weeks late: for the present, `aurora-sw live` reads the real-time solar wind)")
    p = model.predict(X).iloc[0]
    return pd.Series(p.to_numpy(), index=pd.Index(model.leads_min, name="lead_min"), name="p_aurora")
