"""Catalog variables -> one Dataset: load the sources, compute derived variables by registry."""

from __future__ import annotations

import os

import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.solarwind.coupling import DERIVED
from aurora_sw.solarwind.omni import load_omni


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


def load_solar_wind(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    names: list[str],
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> xr.Dataset:
    """The catalog variables ``names`` (source and derived) on the OMNI 1-min time axis (UTC).

    Derived variables (``derived: NAME`` in the catalog) are computed by the function registered
    under NAME in :mod:`aurora_sw.solarwind.coupling`, from their ``inputs`` in order.
    """
    catalog = catalog or load_catalog()
    needed = _with_dependencies(names, catalog)
    sources = [n for n in needed if catalog.variable(n).source]
    ds = load_omni(start, end, sources, catalog, cache_dir, offline) if sources else xr.Dataset()
    for name in needed:
        var = catalog.variable(name)
        if var.derived is None:
            continue
        func = DERIVED.get(var.derived)
        if func is None:
            raise AuroraSWError(
                f"solarwind.variables.{name}.derived: no function registered as {var.derived!r}; known: {', '.join(sorted(DERIVED))}"
            )
        values = func(*(ds[i].values for i in var.inputs))
        ds[name] = ("time", values, {"units": var.units, "long_name": var.long_name, "derived_from": ", ".join(var.inputs)})
    return ds[names]
