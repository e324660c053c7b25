"""Summaries of the index: per night, and per sky condition (the thesis' sun x moon tables)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import class_names
from aurora_sw.index.store import open_index


def nightly_summary(ds: xr.Dataset) -> pd.DataFrame:
    """Per night: frames, aurora fraction, first/last aurora minute (UTC), hours of dark sky, status.

    Dark sky: Sun altitude <= -12 deg (astronomical twilight or darker) with a frame. ``status``
    says how far the night can be trusted (:data:`aurora_sw.index.store.NIGHT_STATUSES`): ``ok``
    (checked against its checksums), ``unverified`` (written before checksums were recorded) or
    ``damaged`` (left out by :func:`~aurora_sw.index.store.open_index`: no values, only its row).
    """
    df = pd.DataFrame(
        {
            "night": ds["night"].values,
            "p": ds["p_aurora"].values,
            "aurora": ds["aurora"].values,
            "sun_alt": ds["sun_alt"].values,
        },
        index=pd.DatetimeIndex(ds["time"].values, name="time_utc"),
    )
    df = df[df["night"].notna()]
    unverified = _listed(ds, "nights_unverified")
    rows = []
    for night, g in df.groupby(df["night"].dt.strftime("%Y-%m-%d")):
        scored = g[g["p"].notna()]
        yes = scored[scored["aurora"] == 1]
        rows.append(
            {
                "night": night,
                "frames": len(scored),
                "aurora_fraction": float((scored["aurora"] == 1).mean()) if len(scored) else np.nan,
                "mean_p_aurora": float(scored["p"].mean()) if len(scored) else np.nan,
                "first_aurora_utc": yes.index.min() if len(yes) else pd.NaT,
                "last_aurora_utc": yes.index.max() if len(yes) else pd.NaT,
                "dark_hours": float((scored["sun_alt"] <= -12).sum() / 60.0),
                "status": "unverified" if night in unverified else "ok",
            }
        )
    rows += [{"night": night, "status": "damaged"} for night in _listed(ds, "nights_damaged")]
    columns = ["night", "frames", "aurora_fraction", "mean_p_aurora", "first_aurora_utc", "last_aurora_utc", "dark_hours", "status"]
    table = pd.DataFrame(rows, columns=columns).astype({"frames": "Int64"})
    return table.set_index("night").sort_index()


def _listed(ds: xr.Dataset, key: str) -> set[str]:
    """Nights listed in a comma-separated attribute of the index (set by ``open_index``)."""
    return set(filter(None, str(ds.attrs.get(key, "")).split(",")))


def index_summary(path: str | os.PathLike) -> pd.DataFrame:
    """:func:`nightly_summary` of the index store at ``path``.

    Raises
    ------
    AuroraSWError
        The store holds no complete night (nothing scored yet, or every run interrupted).
    """
    ds = open_index(path, warn=False)  # the table marks damaged nights itself
    table = nightly_summary(ds[["night", "p_aurora", "aurora", "sun_alt"]].load())
    if table.empty:
        raise AuroraSWError(
            f"{path}: no complete night to summarise; `aurora-sw check --index {path}` lists the nights, "
            "`aurora-sw score --resume` completes them"
        )
    return table


def condition_table(ds: xr.Dataset, months: Sequence[int] | None = None) -> pd.DataFrame:
    """Scored minutes and aurora minutes for every Sun class x Moon class.

    Parameters
    ----------
    ds
        The index (needs ``p_aurora``, ``aurora``, ``sun_class``, ``moon_class``).
    months
        Keep only minutes of these calendar months (UTC), e.g. ``(12, 1, 2)`` for winter.

    Returns
    -------
    pandas.DataFrame
        One row per (sun_class, moon_class) present: ``minutes`` scored, ``aurora_minutes`` and
        ``aurora_fraction``.
    """
    df = pd.DataFrame(
        {"sun_class": class_names(ds["sun_class"]), "moon_class": class_names(ds["moon_class"]), "p": ds["p_aurora"].values, "aurora": ds["aurora"].values},
        index=pd.DatetimeIndex(ds["time"].values),
    )
    df = df[df["p"].notna()]
    if months is not None:
        df = df[df.index.month.isin(list(months))]
    table = df.groupby(["sun_class", "moon_class"]).agg(minutes=("p", "size"), aurora_minutes=("aurora", lambda a: int((a == 1).sum())))
    table["aurora_fraction"] = table["aurora_minutes"] / table["minutes"]
    return table
