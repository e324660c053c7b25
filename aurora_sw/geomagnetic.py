"""Where a site sits in the magnetosphere: AACGM-v2 coordinates and magnetic local time.

AACGM-v2 (``aacgmv2``, the ``magnetic`` extra; it builds from source, so it needs a C compiler)
at the emission height (110 km, as the skymaps use). Times are UTC.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd

from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.times import naive_utc

#: Height (km) of the auroral emission the camera sees; AACGM coordinates are taken there.
EMISSION_HEIGHT_KM = 110.0

#: Years AACGM-v2 covers (IGRF-14 with its 5-year secular variation; end excluded): checked before
#: calling it, since outside them its C library prints a banner before it fails.
AACGM_YEARS = (1990, 2030)

__all__ = ["AACGM_YEARS", "EMISSION_HEIGHT_KM", "aacgm_module", "magnetic_local_time", "site_aacgm"]


def aacgm_module(purpose: str) -> ModuleType:
    """The ``aacgmv2`` module, or one line naming ``purpose`` and how to install it."""
    try:
        import aacgmv2
    except ImportError:
        raise AuroraSWError(f"{purpose} needs aacgmv2: pip install 'aurora-sw[magnetic]' (it builds from source: needs a C compiler)") from None
    return aacgmv2


def _check_years(first: int, last: int) -> None:
    if first < AACGM_YEARS[0] or last >= AACGM_YEARS[1]:
        year = first if first < AACGM_YEARS[0] else last
        raise AuroraSWError(f"{year}: outside the years AACGM-v2 covers ({AACGM_YEARS[0]}-{AACGM_YEARS[1] - 1}); no magnetic coordinates then")


def site_aacgm(site: Site, time: pd.Timestamp, *, height_km: float = EMISSION_HEIGHT_KM) -> tuple[float, float]:
    """AACGM-v2 latitude and longitude (deg) of the point ``height_km`` above the site at ``time`` (UTC)."""
    aacgmv2 = aacgm_module("magnetic coordinates")
    t = naive_utc(pd.Timestamp(time))  # aacgmv2 takes naive UTC
    _check_years(t.year, t.year)
    mlat, mlon, _ = aacgmv2.convert_latlon(site.lat_deg, site.lon_deg, height_km, t.to_pydatetime(), "G2A")
    if not np.isfinite([mlat, mlon]).all():
        raise AuroraSWError(f"site {site.name!r}: AACGM coordinates are undefined there at {t:%Y-%m-%d} (near the magnetic equator, or outside the model's years)")
    return float(mlat), float(mlon)


def magnetic_local_time(site: Site, times: pd.DatetimeIndex, *, height_km: float = EMISSION_HEIGHT_KM) -> np.ndarray:
    """Magnetic local time (hours, 0-24) of the site at each of ``times`` (UTC).

    AACGM-v2 MLT of the site's AACGM longitude, computed at each whole UTC hour the times touch and
    carried forward within the hour at one MLT hour per UT hour (the subsolar point's magnetic
    longitude turns 15 deg an hour; the error is well under a minute of MLT).

    Parameters
    ----------
    site
        The camera site.
    times
        UTC times (naive UTC or tz-aware).

    Returns
    -------
    numpy.ndarray
        MLT in hours, ``[0, 24)``, one per time.
    """
    aacgmv2 = aacgm_module("magnetic local time")
    t = naive_utc(pd.DatetimeIndex(times))
    if not len(t):
        return np.empty(0)
    hours = t.floor("1h")
    _check_years(hours.year.min(), hours.year.max())
    out = np.empty(len(t))
    for year in np.unique(hours.year):  # AACGM's coefficients move with the year: the site's longitude too
        in_year = hours.year == year
        _, mlon = site_aacgm(site, pd.Timestamp(int(year), 7, 1), height_km=height_km)
        unique, inverse = np.unique(hours[in_year], return_inverse=True)
        at_hour = np.array([float(np.ravel(aacgmv2.convert_mlt(mlon, pd.Timestamp(h).to_pydatetime(), m2a=False))[0]) for h in unique])
        out[in_year] = at_hour[inverse]
    out += (t - hours).total_seconds().to_numpy() / 3600.0
    return np.mod(out, 24.0)
