"""The aurora index and the solar wind on one time grid: filters, running means, aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import INDEX_NAMES, NIGHT_AREA, class_names
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
from aurora_sw.solarwind.rotation import with_rotations


#: Minutes count as observed sky when the Sun is this low (the camera's dark sky).
DARK_SUN_CLASSES = ("Night", "Astro")


def observed_aurora(index: xr.Dataset) -> pd.Series:
    """Aurora over the camera each minute: 1.0 / 0.0 where a frame was scored under a dark sky, else NaN.

    "Aurora" is the index's ``aurora`` (``p_aurora`` at the store's threshold); dark means the sun
    class is one of :data:`DARK_SUN_CLASSES`.
    """
    aurora = index["aurora"].values
    dark = condition_mask(index, list(DARK_SUN_CLASSES)).values
    y = np.where((aurora >= 0) & dark, (aurora == 1).astype(float), np.nan)
    return pd.Series(y, index=pd.DatetimeIndex(index["time"].values), name="aurora")


def condition_mask(index: xr.Dataset, conditions: list[str] | tuple[str, ...] | None) -> xr.DataArray:
    """True where the sky condition is one of ``conditions`` (sun and/or moon class names).

    ``["Night", "NoMoon"]`` keeps minutes that are Night *and* NoMoon; several names of the same
    kind are alternatives (``["Night", "Astro"]`` = Night or Astro).
    """
    keep = xr.ones_like(index["p_aurora"], dtype=bool)
    if not conditions:
        return keep
    unknown = set(conditions) - set(SUN_CLASSES) - set(MOON_CLASSES)
    if unknown:
        raise AuroraSWError(f"unknown sky condition(s) {sorted(unknown)}; use {', '.join(SUN_CLASSES + MOON_CLASSES)}")
    for kind, classes in (("sun_class", SUN_CLASSES), ("moon_class", MOON_CLASSES)):
        wanted = [c for c in conditions if c in classes]
        if wanted:
            keep &= xr.DataArray(np.isin(class_names(index[kind]), wanted), coords=index[kind].coords)
    return keep


def running_mean(solarwind: xr.Dataset, window_min: int) -> xr.Dataset:
    """Centred running mean of every variable over ``window_min`` samples (minutes on OMNI's 1-min grid).

    NaN-aware: at least half the window must be present. Recorded in each variable's
    ``cell_methods``. Take it on the full series before cutting it to an interval, or the edges
    average fewer minutes.
    """
    if window_min < 1:
        raise AuroraSWError(f"running mean over {window_min} min: the window must be 1 minute or more")
    sw = solarwind.rolling(time=window_min, center=True, min_periods=max(1, window_min // 2)).mean(keep_attrs=True)
    for name in sw.data_vars:
        sw[name].attrs["cell_methods"] = f"time: mean (centred running, {window_min} min)"
    return sw


def merge_index_solarwind(
    index: xr.Dataset,
    solarwind: xr.Dataset,
    conditions: list[str] | None = None,
    running_mean_min: int | None = None,
    rotations: bool = True,
) -> xr.Dataset:
    """Index and solar wind on the index's 1-min UTC grid.

    Parameters
    ----------
    conditions
        Keep only minutes with these sky conditions (see :func:`condition_mask`); others are NaN
        in the index variables, never dropped.
    running_mean_min
        Centred running mean of the solar-wind variables over this many minutes (e.g. 10, 30, 60),
        computed on the full solar-wind series before it is put on the grid (NaN-aware: at
        least half the window must be present).

    Returns
    -------
    xarray.Dataset
        Index variables plus the solar-wind variables, each with its attributes; the running
        mean is recorded in each solar-wind variable's ``cell_methods``. With ``rotations``, also
        the Carrington and Bartels rotation columns of
        :func:`aurora_sw.solarwind.rotation.with_rotations`.
    """
    sw = running_mean(solarwind, running_mean_min) if running_mean_min else solarwind
    keep = condition_mask(index, conditions)
    out = index.copy()
    for name in ("p_aurora", *INDEX_NAMES, *NIGHT_AREA):
        if name in out:
            out[name] = out[name].where(keep)
    sw_on = sw.reindex(time=index["time"], method="nearest", tolerance=pd.Timedelta(seconds=30))
    for name in sw.data_vars:
        out[name] = sw_on[name]
    out.attrs["sky_conditions"] = ",".join(conditions or []) or "all"
    return with_rotations(out) if rotations else out


def aggregate(merged: xr.Dataset, period: str = "1h") -> xr.Dataset:
    """Means over ``period`` (a pandas frequency such as ``1h``) or ``"night"``.

    Each variable gets ``cell_methods`` and the count of minutes behind each mean (``n_minutes``,
    from ``p_aurora``), so thin bins can be filtered.
    """
    numeric = [n for n in merged.data_vars if np.issubdtype(merged[n].dtype, np.floating)]
    ds = merged[numeric]
    if period == "night":
        night = merged["night"]
        valid = night.notnull() & merged["p_aurora"].notnull()
        grouped = ds.where(valid).groupby(night.where(valid))
        out = grouped.mean(keep_attrs=True)
        out["n_minutes"] = merged["p_aurora"].where(valid).groupby(night.where(valid)).count()
    else:
        out = ds.resample(time=period).mean(keep_attrs=True)
        out["n_minutes"] = merged["p_aurora"].resample(time=period).count()
    for name in numeric:
        out[name].attrs["cell_methods"] = f"time: mean (over {period})"
    out["n_minutes"].attrs = {"units": "1", "long_name": "scored minutes behind each mean"}
    return out
