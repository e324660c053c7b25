"""What a forecast issued at minute t knows, and what it is asked: features and targets.

Time convention: UTC minutes. A forecast issued at ``t`` for lead ``Δ`` sees the solar wind up to
and including ``t`` (trailing windows; OMNI is already propagated to the bow shock) and the index
up to ``t``; its target is the index at ``t + Δ``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.analysis.merge import DARK_SUN_CLASSES, observed_aurora

__all__ = [
    "DARK_SUN_CLASSES", "DEFAULT_VARIABLES", "SEASON_FEATURES", "SEASON_MIN_DAYS", "WINDOWS_MIN", "features", "observed_aurora", "target",
]

#: Solar-wind catalog variables a forecast uses by default: the drivers (Newell's coupling holds the
#: speed). Speed, density and pressure can be added (--vars); they change slowly, so over a short
#: archive they tell the nights apart rather than the aurora: on the default demo (6 nights, t+30)
#: adding them took the held-out Brier skill over persistence from +0.47 to +0.36.
DEFAULT_VARIABLES = ("newell", "bz_gsm", "by_gsm", "kp")
#: Season features (day of year) are used only when the training nights span this many days: over
#: a few weeks the day of year names the night, and a model extrapolates it to the held-out ones
#: (default demo, t+30: Brier skill over persistence +0.38 with it, +0.47 without).
SEASON_MIN_DAYS = 365
SEASON_FEATURES = ("doy_sin", "doy_cos")
#: Trailing windows (minutes) over which the solar wind is averaged.
WINDOWS_MIN = (10, 30, 60, 120)
#: Minutes of southward field are counted up to this (longer: "long ago").
SOUTHWARD_CAP_MIN = 720
#: Gaps in Bz up to this many minutes do not end a southward spell (OMNI has one-minute holes).
SOUTHWARD_GAP_MIN = 5
#: Kp's interval: a value on the solar-wind grid holds over the 3 hours it describes, and is known
#: only when they are over, so a forecast issued at t sees the interval that ended by t.
KP_INTERVAL_MIN = 180


def _minute_grid(da: xr.DataArray, times: pd.DatetimeIndex, pad_min: int) -> pd.Series:
    """``da`` on a gap-free 1-min grid covering its own span and ``times`` with ``pad_min`` minutes before
    (so trailing windows at the first issue times see what came before them)."""
    s = da.to_series()
    s.index = pd.DatetimeIndex(s.index).floor("1min")
    s = s[~s.index.duplicated()]
    full = pd.date_range(min(s.index.min(), times.min()) - pd.Timedelta(minutes=pad_min), max(s.index.max(), times.max()), freq="1min")
    return s.reindex(full)


def _southward_minutes(bz: pd.Series) -> pd.Series:
    """Minutes the IMF has been southward without a break (1 at the first southward minute, 0 while
    northward, capped at :data:`SOUTHWARD_CAP_MIN`); gaps up to :data:`SOUTHWARD_GAP_MIN` min take the
    last value, longer gaps are NaN (unknown).

    Examples
    --------
    >>> _southward_minutes(pd.Series([1.0, -1, -2, np.nan, -1, 2])).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 0.0]
    """
    filled = bz.ffill(limit=SOUTHWARD_GAP_MIN)
    south = (filled < 0).to_numpy()
    idx = np.arange(len(south))
    last_north = np.maximum.accumulate(np.where(south, -1, idx))  # the last minute that was not southward
    run = np.minimum(np.where(south, idx - last_north, 0), SOUTHWARD_CAP_MIN).astype(float)
    return pd.Series(np.where(filled.notna().to_numpy(), run, np.nan), index=bz.index)


def features(
    times: pd.DatetimeIndex,
    solarwind: xr.Dataset,
    *,
    index: xr.Dataset | None,
    site: Site,
    variables: Sequence[str] = DEFAULT_VARIABLES,
) -> pd.DataFrame:
    """The features of a forecast issued at each of ``times``.

    Parameters
    ----------
    times
        Issue times (naive UTC, whole minutes).
    solarwind
        Solar-wind variables on a 1-min UTC grid (``load_solar_wind``), covering ``times`` and
        the three hours before (Kp's last completed interval).
    index
        The aurora index (its present state: ``p_aurora`` at ``t`` and over the past 30 min);
        None when the camera is not available (those columns are NaN; the models take NaN).
    site
        The camera site (magnetic local time).
    variables
        Solar-wind variables to use; those missing from ``solarwind`` are refused.

    Returns
    -------
    pandas.DataFrame
        One row per issue time: ``{var}_mean{w}`` for each trailing window ``w`` of
        :data:`WINDOWS_MIN` (at least half the window present), ``bz_gsm_min30/60`` and
        ``bz_south_minutes`` (minutes of unbroken southward field, 0 while northward) when Bz is
        used, ``kp`` of the last 3-hour interval completed by t, ``mlt_sin``/``mlt_cos`` (AACGM-v2
        MLT), ``doy_sin``/``doy_cos`` (season), ``p_now`` and ``p_mean30``.
    """
    from aurora_sw.geomagnetic import magnetic_local_time

    times = pd.DatetimeIndex(times)
    missing = [v for v in variables if v not in solarwind]
    if missing:
        raise AuroraSWError(f"solar wind has no {', '.join(map(repr, missing))} (has {', '.join(solarwind.data_vars)}); choose --vars among those")
    cols: dict[str, np.ndarray] = {}
    for name in variables:
        s = _minute_grid(solarwind[name], times, max(WINDOWS_MIN))
        if name == "kp":  # known when its 3-hour interval has ended: the last completed interval's value
            cols["kp"] = s.ffill(limit=KP_INTERVAL_MIN - 1).reindex(times - pd.Timedelta(minutes=KP_INTERVAL_MIN)).to_numpy()
            continue
        for w in WINDOWS_MIN:
            cols[f"{name}_mean{w}"] = s.rolling(w, min_periods=max(1, w // 2)).mean().reindex(times).to_numpy()
        if name == "bz_gsm":
            for w in (30, 60):
                cols[f"bz_gsm_min{w}"] = s.rolling(w, min_periods=max(1, w // 2)).min().reindex(times).to_numpy()
            cols["bz_south_minutes"] = _southward_minutes(s).reindex(times).to_numpy()
    mlt = magnetic_local_time(site, times)
    cols["mlt_sin"], cols["mlt_cos"] = np.sin(2 * np.pi * mlt / 24), np.cos(2 * np.pi * mlt / 24)
    doy = times.dayofyear.to_numpy()
    cols["doy_sin"], cols["doy_cos"] = np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25)
    if index is not None:
        p = _minute_grid(index["p_aurora"], times, 30)
        cols["p_now"] = p.reindex(times).to_numpy()
        cols["p_mean30"] = p.rolling(30, min_periods=1).mean().reindex(times).to_numpy()
    else:
        cols["p_now"] = cols["p_mean30"] = np.full(len(times), np.nan)
    return pd.DataFrame(cols, index=times)


def target(observed: pd.Series, lead_min: int) -> pd.Series:
    """The observation ``lead_min`` minutes after each minute: the target of a forecast issued then."""
    if lead_min < 0:
        raise AuroraSWError(f"lead {lead_min} min: a forecast lead is 0 (nowcast) or more minutes")
    grid = observed.reindex(pd.date_range(observed.index.min(), observed.index.max() + pd.Timedelta(minutes=lead_min), freq="1min"))
    return pd.Series(grid.shift(-lead_min).reindex(observed.index).to_numpy(), index=observed.index, name=f"aurora_t+{lead_min}")
