"""Does the aurora come back with the Sun's rotation? The 27-day recurrence chart, asked one way.

``aurora-sw recurrence`` calls :func:`recurrence`; the chart's rows, columns and the 27-day
autocorrelation are those of :mod:`aurora_sw.analysis.recurrence`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from aurora_sw.analysis.recurrence import recurrence_panels

__all__ = ["RecurrenceResult", "recurrence"]


@dataclass(frozen=True)
class RecurrenceResult:
    """The recurrence chart's panels and the driver's 27-day autocorrelation.

    Attributes
    ----------
    panels
        Title -> table, one solar rotation per row, one day of the rotation per column, rows in
        common across panels.
    autocorrelation
        The driver's daily autocorrelation (``r_27d``, ``p_value_27d``, ``r_crit_27d`` in its
        attrs), or ``None`` without a driver or with fewer than two rotations of it.
    rotation
        ``bartels`` or ``carrington``.
    """

    panels: dict[str, pd.DataFrame]
    autocorrelation: xr.Dataset | None
    rotation: str

    def summary(self) -> str:
        """One line: how many rotations, and the 27-day autocorrelation when there is one."""
        text = f"{len(next(iter(self.panels.values())))} {self.rotation} rotations"
        acf = self.autocorrelation
        if acf is not None:
            text += (f"; {acf.attrs['driver']} 27-day autocorrelation r = {acf.attrs['r_27d']:.2f} "
                     f"(p = {acf.attrs['p_value_27d']:.2g}, 95 % band {acf.attrs['r_crit_27d']:.2f})")
        return text

    def write(self, path: str | os.PathLike) -> Path:
        """The chart as ``path`` (PNG or SVG) and each panel as ``STEM_PANEL.csv`` beside it."""
        from aurora_sw.analysis.plots import plot_recurrence

        path = Path(path)
        plot_recurrence(self.panels, self.autocorrelation, path)
        for title, table in self.panels.items():
            table.to_csv(path.with_name(f"{path.stem}_{title.split(' ')[0].lower()}.csv"))
        return path


def recurrence(aurora: xr.DataArray, driver: xr.DataArray | None = None, *, rotation: str = "bartels") -> RecurrenceResult:
    """The 27-day recurrence chart of the nightly aurora fraction and, optionally, a solar-wind driver.

    Parameters
    ----------
    aurora
        ``p_aurora`` of the index (1-min, UTC); its daily aurora fraction is the first panel.
    driver
        A solar-wind variable (1-min, UTC): its daily mean is the second panel and its 27-day
        autocorrelation is tested when it spans two rotations or more.
    rotation
        ``bartels`` (27-day rows) or ``carrington`` (sunpy).

    Returns
    -------
    RecurrenceResult
    """
    panels, acf = recurrence_panels(aurora, driver, rotation)
    return RecurrenceResult(panels=panels, autocorrelation=acf, rotation=rotation)
