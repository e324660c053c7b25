"""Aurora occurrence: the fraction of observed dark minutes with aurora, binned by two quantities.

The standard statistical picture of an all-sky camera's record (MLT x Kp, MLT x month, MLT x
Newell coupling), with the number of minutes behind every cell: a rate from 12 minutes is not a
rate from 12,000.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from aurora_sw.errors import AuroraSWError

__all__ = ["BINNINGS", "Binning", "check_by", "occurrence"]


@dataclass(frozen=True)
class Binning:
    """How one quantity is binned: bin edges (left-closed), labels, units and long name."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]
    units: str
    long_name: str

    def index(self, values: np.ndarray) -> np.ndarray:
        """The bin of each value (-1 outside the edges or NaN)."""
        v = np.asarray(values, float)
        k = np.searchsorted(np.asarray(self.edges), v, side="right") - 1
        return np.where(np.isfinite(v) & (k >= 0) & (k < len(self.labels)), k, -1)


#: The quantities occurrence can be binned by.
BINNINGS: dict[str, Binning] = {
    "mlt": Binning(tuple(float(h) for h in range(25)), tuple(f"{h:02d}" for h in range(24)), "h", "magnetic local time (AACGM-v2) of the camera, hour bins"),
    "kp": Binning((0.0, 2 / 3 - 1e-6, 5 / 3 - 1e-6, 8 / 3 - 1e-6, 11 / 3 - 1e-6, 14 / 3 - 1e-6, 17 / 3 - 1e-6, 9.5), ("0", "1", "2", "3", "4", "5", "6-9"),
                  "1", "Kp class (2-, 2o and 2+ are 2)"),
    "newell": Binning((0.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, np.inf), ("<1k", "1-2k", "2-4k", "4-8k", "8-16k", ">16k"),
                      "(km/s)^(4/3) nT^(2/3)", "Newell et al. (2007) coupling, 30-min trailing mean"),
    "month": Binning(tuple(float(m) for m in range(1, 14)), ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), "1", "calendar month (UTC)"),
}


def check_by(by: Sequence[str]) -> None:
    """Refuse anything but two different quantities of :data:`BINNINGS`, in one line."""
    if len(by) != 2 or len(set(by)) != 2 or any(b not in BINNINGS for b in by):
        raise AuroraSWError(f"--by {','.join(by)!r}: give two different quantities of {', '.join(BINNINGS)}, e.g. mlt,kp")


def occurrence(aurora: np.ndarray, quantities: Mapping[str, np.ndarray], by: Sequence[str]) -> xr.Dataset:
    """Occurrence rate of aurora in the bins of two quantities.

    Parameters
    ----------
    aurora
        Per minute: 1 aurora, 0 none, NaN not observed (no frame, or not dark).
    quantities
        Per minute, the value of each quantity named in ``by`` (same length as ``aurora``).
    by
        Two names of :data:`BINNINGS`, e.g. ``("mlt", "kp")``.

    Returns
    -------
    xarray.Dataset
        On the two bin dimensions (named as ``by``, labelled): ``rate`` (aurora minutes / observed
        minutes; NaN where none), ``minutes`` (observed minutes) and ``aurora_minutes``.
    """
    check_by(by)
    a = np.asarray(aurora, float)
    (n1, b1), (n2, b2) = ((name, BINNINGS[name]) for name in by)
    k1, k2 = b1.index(quantities[n1]), b2.index(quantities[n2])
    ok = np.isfinite(a) & (k1 >= 0) & (k2 >= 0)
    shape = (len(b1.labels), len(b2.labels))
    minutes = np.zeros(shape, int)
    hits = np.zeros(shape, int)
    np.add.at(minutes, (k1[ok], k2[ok]), 1)
    np.add.at(hits, (k1[ok], k2[ok]), (a[ok] == 1).astype(int))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(minutes > 0, hits / np.maximum(minutes, 1), np.nan)
    coords = {n1: (n1, list(b1.labels), {"long_name": b1.long_name, "units": b1.units}),
              n2: (n2, list(b2.labels), {"long_name": b2.long_name, "units": b2.units})}
    return xr.Dataset(
        {
            "rate": ((n1, n2), rate, {"units": "1", "long_name": "fraction of observed dark minutes with aurora"}),
            "minutes": ((n1, n2), minutes, {"units": "min", "long_name": "observed dark minutes (a scored frame, Sun in Night or Astro)"}),
            "aurora_minutes": ((n1, n2), hits, {"units": "min", "long_name": "minutes with aurora"}),
        },
        coords=coords,
        attrs={"by": ",".join(by)},
    )
