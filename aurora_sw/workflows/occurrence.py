"""Aurora occurrence by magnetic local time, Kp, Newell coupling or month: one way on every face.

``aurora-sw occurrence`` calls :func:`occurrence_of_index`. The choices made once, here: observed
minutes are the index's dark minutes with a scored frame (``DARK_SUN_CLASSES``), Newell's coupling
is binned as its 30-min trailing mean (what the aurora has been driven by), Kp as held over its
3-hour interval, and a cell needs ``MIN_MINUTES`` observed minutes to be drawn.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.analysis.merge import observed_aurora
from aurora_sw.analysis.occurrence import check_by, occurrence
from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError

__all__ = ["DEFAULT_BY", "MIN_MINUTES", "OccurrenceResult", "occurrence_of_index", "occurrence_span", "solar_wind_needed"]

DEFAULT_BY = ("mlt", "kp")
MIN_MINUTES = 30
NEWELL_WINDOW_MIN = 30
#: The solar-wind catalog variable each quantity reads (None: from the index's own time).
_SOLAR_WIND = {"mlt": None, "month": None, "kp": "kp", "newell": "newell"}


def occurrence_span(times: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The solar wind (UTC, inclusive) binning the index's ``times`` needs: the Newell mean's window before the first."""
    return times.min() - pd.Timedelta(minutes=NEWELL_WINDOW_MIN), times.max()


def solar_wind_needed(by: Sequence[str]) -> list[str]:
    """The solar-wind variables binning ``by`` needs (``by`` checked first: :func:`~aurora_sw.analysis.occurrence.check_by`)."""
    check_by(by)
    return [v for b in by if (v := _SOLAR_WIND[b])]


@dataclass(frozen=True)
class OccurrenceResult:
    """The occurrence table (:func:`aurora_sw.analysis.occurrence.occurrence`) of one index."""

    table: xr.Dataset
    min_minutes: int = MIN_MINUTES

    def summary(self) -> str:
        """Observed minutes in all, and the cell with the highest rate among those with enough minutes."""
        t = self.table
        first, second = t["rate"].dims
        total = int(t["minutes"].sum())
        enough = t["rate"].where(t["minutes"] >= self.min_minutes)
        if not np.isfinite(enough.values).any():
            return f"{total} observed minutes; no cell has {self.min_minutes} or more"
        i, j = np.unravel_index(np.nanargmax(enough.values), enough.shape)
        return (f"{total} observed minutes, {int(t['aurora_minutes'].sum())} with aurora; highest rate {float(enough.values[i, j]):.2f} "
                f"at {first} {t[first].values[i]}, {second} {t[second].values[j]} ({int(t['minutes'].values[i, j])} min)")

    def write(self, out: str | os.PathLike) -> Path:
        """``occurrence_A_B.nc``, ``.csv`` and ``.png`` (heat map, and the MLT dial when binned by MLT) in ``out``."""
        from aurora_sw.analysis.plots import plot_occurrence

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        stem = "occurrence_" + "_".join(self.table["rate"].dims)
        self.table.to_netcdf(out / f"{stem}.nc")
        self.table.to_dataframe().to_csv(out / f"{stem}.csv")
        plot_occurrence(self.table, out / f"{stem}.png", min_minutes=self.min_minutes)
        return out / f"{stem}.png"


def occurrence_of_index(index: xr.Dataset, solarwind: xr.Dataset, *, site: Site, by: Sequence[str] = DEFAULT_BY, min_minutes: int = MIN_MINUTES) -> OccurrenceResult:
    """Aurora occurrence over the index's observed dark minutes, binned by the two quantities ``by``.

    Parameters
    ----------
    index
        The aurora index (loaded).
    solarwind
        The variables of :func:`solar_wind_needed` on a 1-min UTC grid covering the index (and
        the 30 min before it for ``newell``); an empty Dataset when ``by`` needs none.
    site
        The camera site (its AACGM-v2 MLT).
    """
    from aurora_sw.geomagnetic import magnetic_local_time

    need = solar_wind_needed(by)
    times = pd.DatetimeIndex(index["time"].values)
    aurora = observed_aurora(index).to_numpy()
    observed = np.isfinite(aurora)
    quantities: dict[str, np.ndarray] = {}
    for name in by:
        if name == "mlt":
            values = np.full(len(times), np.nan)
            values[observed] = magnetic_local_time(site, times[observed])
        elif name == "month":
            values = times.month.to_numpy().astype(float)
        else:
            series = solarwind[_SOLAR_WIND[name]].to_series()
            series.index = pd.DatetimeIndex(series.index)
            if name == "newell":
                series = series.rolling(NEWELL_WINDOW_MIN, min_periods=NEWELL_WINDOW_MIN // 2).mean()
            values = series.reindex(times).to_numpy()
        quantities[name] = values
    if need and all(not np.isfinite(quantities[b][observed]).any() for b in by if _SOLAR_WIND[b]):
        raise AuroraSWError(f"no {', '.join(need)} over the index's observed minutes: fetch the solar wind for its nights")
    return OccurrenceResult(occurrence(aurora, quantities, by), min_minutes)
