"""Forecast training at archive scale: features and one lead's model on 2,000,000 minutes.

A synthetic solar wind of 2,000,000 minutes (about 3.8 years) drives an index whose aurora follows
Newell's coupling 45 min later (the synthetic sky's rule, no frames rendered); dark minutes are
03-12 UTC. Timed, end to end as `aurora-sw forecast train` does them, in one run:

- the feature table (trailing means, Bz minima, southward-turning clock, Kp, AACGM-v2 MLT per minute);
- one lead's forecast model as saved (trees with Platt calibration on two halves of the nights:
  more than 20 nights), and the logistic regression fitted on the same rows as the baseline.

    python benchmarks/forecast_training.py [--minutes 2000000] [--lead 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import load_catalog
from aurora_sw.forecast.features import features, observed_aurora, target
from aurora_sw.forecast.model import feature_columns, fit_classifier, model_kind
from aurora_sw.index.schema import NO_FRAME, VARIABLES, class_codes
from aurora_sw.sky import SUN_CLASSES
from aurora_sw.solarwind.coupling import newell_coupling
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_kp, synthetic_solar_wind


def synthetic_index(minutes: int, seed: int = 0) -> tuple[xr.Dataset, xr.Dataset]:
    start = pd.Timestamp("2020-01-01")
    full = synthetic_solar_wind(start - pd.Timedelta(hours=3), start + pd.Timedelta(minutes=minutes), seed=seed)
    act = aurora_activity(full, delay_min=45, seed=seed)
    sw = full[["bz_gsm", "by_gsm", "vsw", "density", "pressure"]].copy()
    sw["newell"] = ("time", newell_coupling(sw["vsw"].values, sw["by_gsm"].values, sw["bz_gsm"].values))
    sw["kp"] = ("time", synthetic_kp(full).reindex(pd.DatetimeIndex(sw["time"].values), method="ffill").to_numpy())
    t = pd.date_range(start, periods=minutes, freq="1min")
    dark = (t.hour >= 3) & (t.hour < 12)
    p = np.where(dark, 1 / (1 + np.exp(-8 * (act.reindex(time=t).values - 0.6))), np.nan)
    index = xr.Dataset(
        {"p_aurora": ("time", p), "aurora": ("time", np.where(np.isnan(p), NO_FRAME, p >= 0.5).astype("int8"), {"threshold": 0.5}),
         "sun_class": ("time", class_codes(np.where(dark, "Night", "Day"), SUN_CLASSES), VARIABLES["sun_class"].attrs)},
        coords={"time": t.to_numpy()}, attrs={"night_start_utc_hour": 18},
    )
    return index, sw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, default=2_000_000)
    ap.add_argument("--lead", type=int, default=60)
    args = ap.parse_args()
    site = load_catalog().site()
    t0 = time.perf_counter()
    index, sw = synthetic_index(args.minutes)
    print(f"synthetic index and solar wind ({args.minutes:,} minutes): {time.perf_counter() - t0:6.1f} s")
    t0 = time.perf_counter()
    times = pd.DatetimeIndex(index["time"].values)
    X = features(times, sw, index=index, site=site)
    t_features = time.perf_counter() - t0
    y = target(observed_aurora(index), args.lead).reindex(times).to_numpy()
    ok = np.isfinite(y)
    nights = (times - pd.Timedelta(hours=18)).floor("1D").to_numpy()[ok]
    Xl, yl = X.loc[ok, feature_columns(list(X.columns), args.lead)], y[ok].astype(int)
    kind = model_kind(len(np.unique(nights)))
    print(f"feature table ({len(X):,} rows x {X.shape[1]} columns):  {t_features:6.1f} s;  {ok.sum():,} rows with an outcome, {len(np.unique(nights))} nights -> {kind}")
    t0 = time.perf_counter()
    fit_classifier(Xl, yl, nights, kind="logistic")
    t_log = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_classifier(Xl, yl, nights, kind=kind)
    t_model = time.perf_counter() - t0
    print(f"logistic regression (baseline)      :  {t_log:6.1f} s")
    label = f"{kind} model as saved (t+{args.lead})"
    print(f"{label:<36}:  {t_model:6.1f} s  ({t_model / t_log:.1f}x the logistic fit)")
    print(f"features + model                    :  {t_features + t_model:6.1f} s  (goal: under 120 s)")


if __name__ == "__main__":
    main()
