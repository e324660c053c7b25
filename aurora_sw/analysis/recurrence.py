"""Solar-rotation recurrence: daily series, the Bartels/Carrington chart and the 27-day autocorrelation.

High-speed streams from coronal holes come back every ~27 days as the Sun turns, and so does the
aurora they drive. A recurrence chart ("musical diagram") puts one solar rotation per row and one
day per column; recurrent streams show as vertical stripes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.analysis.lag import lagged_correlation
from aurora_sw.errors import AuroraSWError
from aurora_sw.solarwind.rotation import BARTELS_DAYS, CARRINGTON_DAYS, rotation_coordinates

ROTATIONS = ("bartels", "carrington")


def daily(da: xr.DataArray, how: str = "mean", min_count: int = 60) -> pd.Series:
    """A UTC daily series from a 1-min series: ``mean``, or ``fraction`` (of valid minutes > 0.5,
    e.g. the aurora fraction from ``aurora``/``p_aurora``). Days with fewer than ``min_count``
    valid minutes are NaN (a night-only index leaves daytime and cloudy days empty)."""
    s = pd.Series(np.asarray(da.values, float), index=pd.DatetimeIndex(da["time"].values))
    if how == "fraction":
        s = (s > 0.5).astype(float).where(s.notna())
    elif how != "mean":
        raise AuroraSWError(f"daily: how must be 'mean' or 'fraction', not {how!r}")
    g = s.resample("1D")
    out = g.mean().where(g.count() >= min_count)
    out.name = da.name
    return out


def recurrence_table(series: pd.Series, rotation: str = "bartels") -> pd.DataFrame:
    """Daily values arranged one solar rotation per row, one day of the rotation per column.

    ``bartels``: rows are Bartels rotations, columns days 1..27. ``carrington``: rows are
    Carrington rotations, columns 27 bins of the rotation's phase (day ~ phase x 27.28; sunpy).
    Days not in ``series`` are NaN.
    """
    if rotation not in ROTATIONS:
        raise AuroraSWError(f"rotation must be one of {ROTATIONS}, not {rotation!r}")
    if series.empty:
        raise AuroraSWError("recurrence_table: empty series")
    days = pd.date_range(series.index.min().normalize(), series.index.max().normalize(), freq="1D")
    values = series.reindex(days)
    coords = rotation_coordinates(days + pd.Timedelta(hours=12))  # the middle of each UTC day
    if rotation == "bartels":
        rows, cols = coords["bartels_rotation"].to_numpy(), coords["bartels_day"].to_numpy()
    else:  # 27 phase bins of the Carrington rotation
        cr = coords["carrington_rotation"].to_numpy()
        rows, cols = np.floor(cr).astype(int), (np.mod(cr, 1.0) * BARTELS_DAYS).astype(int) + 1
    table = pd.DataFrame({"rotation": rows, "day": cols, "value": values.to_numpy()}).pivot_table(
        index="rotation", columns="day", values="value", aggfunc="mean", dropna=False
    )
    table = table.reindex(index=range(int(rows.min()), int(rows.max()) + 1), columns=range(1, BARTELS_DAYS + 1))
    table.index.name = f"{rotation}_rotation"
    table.attrs.update(rotation=rotation, period_days=BARTELS_DAYS if rotation == "bartels" else CARRINGTON_DAYS)
    return table


def align_rotations(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables on one common range of rotations (rows), so panels side by side line up."""
    first = min(int(t.index[0]) for t in tables.values())
    last = max(int(t.index[-1]) for t in tables.values())
    out = {}
    for title, table in tables.items():
        aligned = table.reindex(range(first, last + 1))
        aligned.index.name = table.index.name
        aligned.attrs = dict(table.attrs)
        out[title] = aligned
    return out


def recurrence_autocorrelation(series: pd.Series, max_lag_days: int = 40, n_boot: int = 200, seed: int = 0) -> xr.Dataset:
    """Autocorrelation of a daily series at 0..``max_lag_days`` days, with the autocorrelation-aware
    significance of :func:`aurora_sw.analysis.lag.lagged_correlation` (the same code, not a copy).

    The result's ``lag`` is in minutes (as everywhere); ``lag_days`` is added, and
    ``r_27d``/``p_value_27d`` hold the 27-day values.
    """
    da = xr.DataArray(series.to_numpy(float), coords={"time": series.index.to_numpy()}, dims="time", name=series.name or "daily")
    res = lagged_correlation(da, da, lags=range(0, (max_lag_days + 1) * 1440, 1440), n_boot=n_boot, block_min=27 * 1440,
                             peak="max", step=pd.Timedelta(days=1), seed=seed)
    res = res.assign_coords(lag_days=("lag", res["lag"].values / 1440.0))
    at27 = res.sel(lag=27 * 1440)
    res.attrs.update(r_27d=float(at27["r"]), p_value_27d=float(at27["p_value"]), r_crit_27d=float(at27["r_crit"]))
    return res


AURORA_PANEL = "aurora fraction (nightly)"


def recurrence_panels(
    aurora: xr.DataArray, driver: xr.DataArray | None = None, rotation: str = "bartels"
) -> tuple[dict[str, pd.DataFrame], xr.Dataset | None]:
    """The recurrence chart's panels: the daily aurora fraction of ``aurora`` (``p_aurora``) and,
    when given, the daily mean of ``driver`` (a solar-wind variable), on common rows; plus the
    driver's 27-day autocorrelation when it spans at least two rotations (else ``None``)."""
    tables = {AURORA_PANEL: recurrence_table(daily(aurora, "fraction"), rotation)}
    acf = None
    if driver is not None:
        series = daily(driver, "mean")
        tables[f"{driver.name} (daily mean)"] = recurrence_table(series, rotation)
        if series.notna().sum() > 2 * BARTELS_DAYS:
            acf = recurrence_autocorrelation(series)
    return align_rotations(tables), acf
