"""Where a site sits in the magnetosphere: AACGM-v2 coordinates, magnetic local time, the season's geometry.

AACGM-v2 (``aacgmv2``, the ``magnetic`` extra; it builds from source, so it needs a C compiler)
at the emission height (110 km, as the skymaps use). Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.times import naive_utc

#: Height (km) of the auroral emission the camera sees; AACGM coordinates are taken there.
EMISSION_HEIGHT_KM = 110.0

#: Years aacgmv2 converts (IGRF-14 from 1900, with its 5-year secular variation to 2030; end
#: excluded): checked before calling it, since outside them its C library prints a banner and fails.
AACGM_YEARS = (1900, 2030)

__all__ = ["AACGM_YEARS", "EMISSION_HEIGHT_KM", "SitePosition", "aacgm_module", "geomagnetic_context", "magnetic_local_time", "russell_mcpherron_angle", "site_aacgm"]


@dataclass(frozen=True)
class SitePosition:
    """Where a camera is (WGS84, deg): all the magnetic context needs of a
    :class:`~aurora_sw.catalog.Site` (an index records its site's position, so its context follows
    even where the catalog it was scored with cannot be read)."""

    name: str
    lat_deg: float
    lon_deg: float


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


def site_aacgm(site: Site | SitePosition, time: pd.Timestamp, *, height_km: float = EMISSION_HEIGHT_KM) -> tuple[float, float]:
    """AACGM-v2 latitude and longitude (deg) of the point ``height_km`` above the site at ``time`` (UTC)."""
    aacgmv2 = aacgm_module("magnetic coordinates")
    t = naive_utc(pd.Timestamp(time))  # aacgmv2 takes naive UTC
    _check_years(t.year, t.year)
    mlat, mlon, _ = aacgmv2.convert_latlon(site.lat_deg, site.lon_deg, height_km, t.to_pydatetime(), "G2A")
    if not np.isfinite([mlat, mlon]).all():
        raise AuroraSWError(f"site {site.name!r}: AACGM coordinates are undefined there at {t:%Y-%m-%d} (near the magnetic equator, or outside the model's years)")
    return float(mlat), float(mlon)


def magnetic_local_time(site: Site | SitePosition, times: pd.DatetimeIndex, *, height_km: float = EMISSION_HEIGHT_KM) -> np.ndarray:
    """Magnetic local time (hours, 0-24) of the site at each of ``times`` (UTC).

    AACGM-v2 MLT of the site's AACGM longitude (taken at mid-year), computed for each distinct
    minute the times touch (about 20 us a minute: 10 s for a 331-night archive).

    Parameters
    ----------
    site
        The camera site.
    times
        UTC times (naive UTC or tz-aware); seconds are dropped.

    Returns
    -------
    numpy.ndarray
        MLT in hours, ``[0, 24)``, one per time.
    """
    aacgmv2 = aacgm_module("magnetic local time")
    t = naive_utc(pd.DatetimeIndex(times)).floor("1min")
    if not len(t):
        return np.empty(0)
    _check_years(t.year.min(), t.year.max())
    out = np.empty(len(t))
    for year in np.unique(t.year):  # AACGM's coefficients move with the year: the site's longitude too
        in_year = t.year == year
        _, mlon = site_aacgm(site, pd.Timestamp(int(year), 7, 1), height_km=height_km)
        unique, inverse = np.unique(t[in_year], return_inverse=True)
        out[in_year] = np.array([float(np.ravel(aacgmv2.convert_mlt(mlon, pd.Timestamp(m).to_pydatetime(), m2a=False))[0]) for m in unique])[inverse]
    return np.mod(out, 24.0)


#: Centred-dipole north pole (geographic latitude, east longitude, deg), IGRF-14 at 2025.0; the
#: Russell-McPherron angle moves by well under a degree over the decades around it.
DIPOLE_POLE_DEG = (80.8, -72.8)
#: The Sun's rotation axis (J2000 right ascension, declination, deg; IAU).
SUN_POLE_RA_DEC_DEG = (286.13, 63.87)


def russell_mcpherron_angle(times: pd.DatetimeIndex) -> np.ndarray:
    """Angle (deg) between the solar-equatorial and the GSM z axes, seen along the Sun-Earth line.

    The Russell-McPherron (1973) geometry: the IMF lies mostly in the Sun's equatorial plane, so
    its GSEQ y component projects onto GSM z by ``sin`` of this angle; southward (geoeffective)
    projections are largest when the angle is largest, near 22 UT in early April and 10 UT in
    early October (+-35 deg). Sun position, sidereal time and obliquity after Hapgood (1992),
    accurate to about 0.1 deg; the dipole axis of :data:`DIPOLE_POLE_DEG`.

    Parameters
    ----------
    times
        UTC times (naive UTC or tz-aware).

    Returns
    -------
    numpy.ndarray
        Signed angle (deg, -180..180) from the solar-equatorial z axis to the GSM z axis, measured
        in the GSE y-z plane (positive towards +y).
    """
    t = naive_utc(pd.DatetimeIndex(times))
    mjd = (t - pd.Timestamp("1858-11-17")).total_seconds().to_numpy() / 86400.0
    day = np.floor(mjd)
    hours = (mjd - day) * 24.0
    t0 = (day - 51544.5) / 36525.0
    rad = np.radians
    gmst = rad(100.461 + 36000.770 * t0 + 15.04107 * hours)
    eps = rad(23.439 - 0.013 * t0)
    m = rad(357.528 + 35999.050 * t0 + 0.04107 * hours)
    lam = rad(280.460 + 36000.772 * t0 + 0.04107 * hours + (1.915 - 0.0048 * t0) * np.sin(m) + 0.020 * np.sin(2 * m))
    x_gse = np.stack([np.cos(lam), np.sin(lam) * np.cos(eps), np.sin(lam) * np.sin(eps)], axis=-1)  # the Sun, in GEI
    z_gse = np.stack([np.zeros_like(eps), -np.sin(eps), np.cos(eps)], axis=-1)  # the ecliptic pole
    y_gse = np.cross(z_gse, x_gse)
    lat, lon = rad(DIPOLE_POLE_DEG[0]), rad(DIPOLE_POLE_DEG[1]) + gmst  # GEO -> GEI: turn by the sidereal time
    dipole = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.full_like(lon, np.sin(lat))], axis=-1)
    ra, dec = rad(SUN_POLE_RA_DEC_DEG[0]), rad(SUN_POLE_RA_DEC_DEG[1])
    sun_axis = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])

    def angle_in_yz(v: np.ndarray) -> np.ndarray:
        return np.arctan2(np.sum(v * y_gse, axis=-1), np.sum(v * z_gse, axis=-1))

    diff = np.degrees(angle_in_yz(dipole) - angle_in_yz(np.broadcast_to(sun_axis, dipole.shape)))
    return (diff + 180.0) % 360.0 - 180.0


def geomagnetic_context(site: Site | SitePosition, times: pd.DatetimeIndex) -> xr.Dataset:
    """Where the camera sits each minute: AACGM-v2 latitude and MLT, day of year, Russell-McPherron angle.

    Computed on demand from the site and the times (not stored in the index: they follow from its
    time axis and the site it records), with the CF ``units``/``long_name`` of
    :data:`aurora_sw.index.schema.GEOMAGNETIC`; an index gets them with ``ds.aurora.geomagnetic()``.

    Parameters
    ----------
    site
        The camera site.
    times
        UTC minutes.

    Returns
    -------
    xarray.Dataset
        ``mlat`` (deg, at :data:`EMISSION_HEIGHT_KM`), ``mlt`` (h), ``day_of_year``, ``rm_angle``
        (deg) on a ``time`` axis (naive UTC).
    """
    from aurora_sw.index.schema import GEOMAGNETIC

    t = naive_utc(pd.DatetimeIndex(times))
    years = np.unique(t.year)
    mlat_of_year = {int(y): site_aacgm(site, pd.Timestamp(int(y), 7, 1))[0] for y in years}
    values = {
        "mlat": np.array([mlat_of_year[int(y)] for y in t.year], dtype=float),
        "mlt": magnetic_local_time(site, t),
        "day_of_year": t.dayofyear.to_numpy().astype("int64"),
        "rm_angle": russell_mcpherron_angle(t),
    }
    return xr.Dataset({name: ("time", values[name].astype(v.dtype), v.attrs) for name, v in GEOMAGNETIC.items()}, coords={"time": t.to_numpy()})
