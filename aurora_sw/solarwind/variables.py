"""Catalog variables -> one Dataset: load the sources, compute derived variables by registry."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.solarwind.coupling import DERIVED
from aurora_sw.solarwind.kp import load_kp
from aurora_sw.solarwind.omni import load_omni
from aurora_sw.times import naive_utc, utc_range


def _with_dependencies(names: list[str], catalog: Catalog) -> list[str]:
    """``names`` plus every input they need, inputs first."""
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in stack:
            raise AuroraSWError(f"solarwind.variables.{name}: circular inputs {' -> '.join(stack + (name,))}")
        for dep in catalog.variable(name).inputs:
            visit(dep, stack + (name,))
        order.append(name)

    for n in names:
        visit(n, ())
    return order


# How long a value of a coarser source holds on the 1-min grid.
_HOLD = {"omni_1min": pd.Timedelta(0), "omni_5min": pd.Timedelta(minutes=4), "omni_hourly": pd.Timedelta(minutes=59), "kp": pd.Timedelta(minutes=179)}


def _load_csv(name: str, catalog: Catalog) -> pd.Series:
    var = catalog.variable(name)
    path = Path(var.path)
    if not path.is_absolute() and catalog.path is not None:
        path = Path(catalog.path).parent / path
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise AuroraSWError(f"{path}: cannot read CSV for solarwind.variables.{name} ({exc})") from None
    for col in (var.time_column, var.source_var):
        if col not in df:
            raise AuroraSWError(f"{path}: no column {col!r} (solarwind.variables.{name})")
    t = naive_utc(df[var.time_column])
    values = pd.to_numeric(df[var.source_var], errors="coerce").to_numpy(float) * var.scale
    if var.fill is not None:
        values[values == var.fill] = np.nan
    return pd.Series(values, index=pd.DatetimeIndex(t)).sort_index()


def _on_grid(series: pd.Series, grid: pd.DatetimeIndex, hold: pd.Timedelta | None) -> np.ndarray:
    series = series[~series.index.duplicated()].sort_index()
    if hold is None:  # irregular (CSV): hold each value until the next one
        return series.reindex(grid, method="ffill").to_numpy(float)
    if hold == pd.Timedelta(0):
        return series.reindex(grid).to_numpy(float)
    return series.reindex(grid, method="ffill", tolerance=hold).to_numpy(float)


def add_derived(ds: xr.Dataset, names: list[str], catalog: Catalog) -> xr.Dataset:
    """Add the derived catalog variables among ``names`` whose inputs ``ds`` holds, in dependency order.

    Each is the function registered under its ``derived`` name (:mod:`aurora_sw.solarwind.coupling`)
    applied to its ``inputs``; the loaders and the real-time feed both come through here.
    """
    for name in _with_dependencies(names, catalog):
        var = catalog.variable(name)
        if var.derived is None or name in ds or not all(i in ds for i in var.inputs):
            continue
        func = DERIVED.get(var.derived)
        if func is None:
            raise AuroraSWError(
                f"solarwind.variables.{name}.derived: no function registered as {var.derived!r}; known: {', '.join(sorted(DERIVED))}"
            )
        values = func(*(ds[i].values for i in var.inputs))
        ds[name] = ("time", values, {"units": var.units, "long_name": var.long_name, "derived_from": ", ".join(var.inputs)})
    return ds


def load_solar_wind(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    names: list[str],
    *,
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    kp_cache_dir: str | os.PathLike | None = None,
) -> xr.Dataset:
    """The catalog variables ``names`` (source and derived) on one 1-min UTC axis.

    OMNI 1-min values sit on their minutes; 5-min, hourly OMNI and 3-hourly Kp values hold
    through their interval; CSV values hold until the next row. Derived variables
    (``derived: NAME`` in the catalog) are computed by the function registered under NAME in
    :mod:`aurora_sw.solarwind.coupling`, from their ``inputs`` in order.

    Parameters
    ----------
    start, end
        The UTC span, ``end`` excluded (:func:`aurora_sw.times.utc_range`: a time with a zone
        is converted, one without is UTC).
    names
        Catalog variables (``solarwind.variables``), e.g. ``["newell", "bz_gsm"]``.
    catalog
        The catalog (default :func:`~aurora_sw.catalog.load_catalog`).
    cache_dir, kp_cache_dir
        Local caches for OMNI and Kp (defaults from the environment or the catalog).
    offline
        Read only the caches.

    Returns
    -------
    xarray.Dataset
        One variable per name on a 1-min naive-UTC ``time`` axis, with ``units`` and ``long_name``.

    Examples
    --------
    >>> sw = load_solar_wind("2024-02-01", "2024-02-02", ["newell", "bz_gsm"], offline=True)  # doctest: +SKIP
    """
    catalog = catalog or load_catalog()
    start, end = utc_range(start, end)
    if not names:
        raise AuroraSWError("no solar-wind variables asked for; name catalog variables, e.g. bz_gsm,vsw (see `aurora-sw catalog check`)")
    grid = pd.date_range(start.floor("1min"), end, freq="1min", inclusive="left", name="time")
    needed = _with_dependencies(names, catalog)
    by_source: dict[str, list[str]] = {}
    for n in needed:
        if catalog.variable(n).source:
            by_source.setdefault(catalog.variable(n).source, []).append(n)
    ds = xr.Dataset(coords={"time": grid})
    for source, members in by_source.items():
        if source.startswith("omni_"):
            loaded = load_omni(start, end, members, catalog=catalog, cache_dir=cache_dir, offline=offline, datatype=source.removeprefix("omni_"))
            series = {n: loaded[n].to_series() for n in members}
        elif source == "kp":
            kp = load_kp(start, end, catalog=catalog, cache_dir=kp_cache_dir, offline=offline).to_series()
            series = {n: kp for n in members}
        else:
            series = {n: _load_csv(n, catalog) for n in members}
        for n in members:
            var = catalog.variable(n)
            ds[n] = ("time", _on_grid(series[n], grid, _HOLD.get(source)), {"units": var.units, "long_name": var.long_name, "source": source})
    ds = add_derived(ds, needed, catalog)
    ds["time"].attrs = {"long_name": "time (UTC)", "standard_name": "time"}
    return ds[names]
