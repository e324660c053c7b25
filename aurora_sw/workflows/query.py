"""Minutes of the index between two times under given sky conditions: asked one way everywhere.

``aurora-sw query`` calls :func:`query`; a notebook gets the same minutes from the same call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError

__all__ = ["DEFAULT_VARIABLES", "QueryResult", "query"]

DEFAULT_VARIABLES: tuple[str, ...] = ("p_aurora", "aurora", "green_excess", "aurora_area", "sun_class", "moon_class")


@dataclass(frozen=True)
class QueryResult:
    """The selected minutes (scored ones only) of the variables asked for.

    ``data`` is indexed by ``time`` (UTC, naive datetime64); class variables hold their codes
    (:func:`to_frame` turns them into names).
    """

    data: xr.Dataset

    @property
    def n_minutes(self) -> int:
        return int(self.data.sizes.get("time", 0))

    def to_frame(self) -> pd.DataFrame:
        """A table with one row per minute; ``sun_class``, ``moon_class`` and ``morphology`` as names, not codes."""
        from aurora_sw.index.schema import class_names

        df = self.data.to_dataframe()
        for name in ("sun_class", "moon_class", "morphology"):  # class codes as their names
            if name in df:
                df[name] = class_names(self.data[name])
        return df


def query(
    index: str | os.PathLike,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    conditions: Sequence[str] = (),
) -> QueryResult:
    """Scored minutes of ``index`` from ``start`` to ``end`` (inclusive, UTC) under ``conditions``.

    Parameters
    ----------
    index
        The aurora-index Zarr store (damaged nights are left out, as by every reader).
    start, end
        UTC bounds (naive = UTC); ``None``: open-ended.
    variables
        Index variables to return, and any of the camera's magnetic context
        (:data:`~aurora_sw.index.schema.GEOMAGNETIC`: ``mlat``, ``mlt``, ``day_of_year``,
        ``rm_angle``), derived for the selected minutes.
    conditions
        Sky conditions to keep, e.g. ``["Night", "NoMoon"]`` (empty: all).

    Raises
    ------
    AuroraSWError
        Unknown variables (naming those the store has), or no scored minute in the selection
        (saying which minutes the store does have).
    """
    from aurora_sw.analysis.merge import condition_mask
    from aurora_sw.index.store import open_index

    from aurora_sw.index.schema import GEOMAGNETIC

    full = open_index(index)
    ds = full.sel(time=slice(start, end)).load()
    names = list(variables)
    missing = [n for n in names if n not in ds and n not in GEOMAGNETIC]
    if missing or not names:
        raise AuroraSWError(f"{index}: no variable(s) {missing or names!r}; have {', '.join([*map(str, ds.data_vars), *GEOMAGNETIC])}")
    if any(n in GEOMAGNETIC for n in names):
        ds = ds.aurora.geomagnetic()  # derived from the time axis and the site the store records
    keep = condition_mask(ds, list(conditions)) & ds["p_aurora"].notnull()
    if not keep.any():
        p = full["p_aurora"].load()
        scored = p["time"].values[p.notnull().values]
        covers = f"it has scored minutes {pd.Timestamp(scored.min())} .. {pd.Timestamp(scored.max())} UTC" if scored.size else "it has no scored minutes"
        raise AuroraSWError(f"{index}: no scored minutes from {start or 'the start'} to {end or 'the end'} "
                            f"with conditions {','.join(conditions) or 'any'}; {covers}")
    out = ds[names].where(keep, drop=True)
    for name in names:  # where() made every variable float; the integer context keeps its dtype
        if name in GEOMAGNETIC and GEOMAGNETIC[name].dtype.startswith("int"):
            out[name] = out[name].astype(GEOMAGNETIC[name].dtype)
    return QueryResult(out)
