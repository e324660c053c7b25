"""Sun and Moon geometry over a site and the sky-condition classes (astropy).

Sun classes by altitude: ``Night`` (<= -18 deg), ``Astro``, ``Nautical``, ``Civil``, ``Day``.
Moon classes: ``Moon_Full``, ``Moon_Quarter`` or ``NoMoon`` from the folded phase (0 = new,
180 = full) and the Moon's altitude. Thresholds come from the catalog.

Everything is vectorised over time: one call for all frames of an archive.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from aurora_sw.catalog import Site, SkyConditionThresholds
from aurora_sw.times import aware_utc

SUN_CLASSES = ("Night", "Astro", "Nautical", "Civil", "Day")
MOON_CLASSES = ("NoMoon", "Moon_Quarter", "Moon_Full")


def _configure_astropy_offline() -> None:
    # The bundled IERS tables suffice for 0.01 deg; never block on a download in the field.
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.iers_degraded_accuracy = "warn"


def sun_moon_geometry(times: pd.DatetimeIndex | np.ndarray, site: Site) -> pd.DataFrame:
    """Sun and Moon positions seen from ``site``.

    Parameters
    ----------
    times
        UTC instants (tz-aware, or naive meaning UTC).
    site
        Observer position from the catalog.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``times`` with columns ``sun_alt``, ``sun_az``, ``moon_alt``, ``moon_az``
        (deg, azimuth east of north, refraction ignored), ``moon_phase`` (deg, Moon minus Sun
        ecliptic longitude folded to 0..180; 0 new, 180 full) and ``moon_illum`` (illuminated
        fraction 0..1).
    """
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, GeocentricTrueEcliptic, get_body, get_sun
    from astropy.time import Time

    _configure_astropy_offline()
    idx = aware_utc(pd.DatetimeIndex(times))
    if len(idx) == 0:
        return pd.DataFrame(
            columns=["sun_alt", "sun_az", "moon_alt", "moon_az", "moon_phase", "moon_illum"], index=idx
        )
    t = Time(idx.tz_localize(None).to_numpy(), scale="utc")
    loc = EarthLocation(lat=site.lat_deg * u.deg, lon=site.lon_deg * u.deg, height=site.elevation_m * u.m)
    frame = AltAz(obstime=t, location=loc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sun = get_sun(t)
        moon = get_body("moon", t, loc)
        sun_altaz = sun.transform_to(frame)
        moon_altaz = moon.transform_to(frame)
        ecl = GeocentricTrueEcliptic(equinox=t)
        lon_diff = (moon.transform_to(ecl).lon - sun.transform_to(ecl).lon).wrap_at(360 * u.deg).deg
        # Illuminated fraction from the Sun-Moon-observer phase angle.
        elong = sun.separation(moon)
        phase_angle = np.arctan2(
            sun.distance * np.sin(elong), moon.distance - sun.distance * np.cos(elong)
        )
    folded = np.where(lon_diff > 180.0, 360.0 - lon_diff, lon_diff)
    return pd.DataFrame(
        {
            "sun_alt": sun_altaz.alt.deg,
            "sun_az": sun_altaz.az.deg,
            "moon_alt": moon_altaz.alt.deg,
            "moon_az": moon_altaz.az.deg,
            "moon_phase": folded,
            "moon_illum": (1.0 + np.cos(phase_angle.to_value(u.rad))) / 2.0,
        },
        index=idx,
    )


def sun_class(sun_alt: np.ndarray, thresholds: SkyConditionThresholds) -> np.ndarray:
    """Sun-altitude class names (``Night`` ... ``Day``) for altitudes in degrees."""
    s = thresholds.sun
    alt = np.asarray(sun_alt, dtype=float)
    out = np.select(
        [alt <= s.night_max_deg, alt <= s.astro_max_deg, alt <= s.nautical_max_deg, alt < s.civil_max_deg],
        list(SUN_CLASSES[:4]),
        default="Day",
    )
    return out.astype(object)


def moon_class(moon_phase: np.ndarray, moon_alt: np.ndarray, thresholds: SkyConditionThresholds) -> np.ndarray:
    """Moon class names from folded phase (deg, 180 = full) and altitude (deg)."""
    m = thresholds.moon
    phase = np.asarray(moon_phase, dtype=float)
    alt = np.asarray(moon_alt, dtype=float)
    full = (phase >= m.full_min_phase_deg) & (alt > m.full_min_alt_deg)
    quarter = (phase >= m.quarter_min_phase_deg) & (phase < m.full_min_phase_deg) & (alt > m.quarter_min_alt_deg)
    return np.select([full, quarter], ["Moon_Full", "Moon_Quarter"], default="NoMoon").astype(object)


def sky_conditions(
    times: pd.DatetimeIndex | np.ndarray, site: Site, thresholds: SkyConditionThresholds
) -> pd.DataFrame:
    """Geometry plus ``sun_class`` and ``moon_class`` for each UTC instant.

    Examples
    --------
    >>> from aurora_sw.catalog import load_catalog
    >>> cat = load_catalog()
    >>> df = sky_conditions(pd.to_datetime(["2024-02-01T08:00Z"]), cat.site("yellowknife"), cat.sky_conditions)
    >>> df.sun_class.iloc[0]
    'Night'
    """
    geo = sun_moon_geometry(times, site)
    geo["sun_class"] = sun_class(geo["sun_alt"].to_numpy(), thresholds)
    geo["moon_class"] = moon_class(geo["moon_phase"].to_numpy(), geo["moon_alt"].to_numpy(), thresholds)
    return geo


def local_night(times: pd.DatetimeIndex, site: Site) -> np.ndarray:
    """The night a UTC instant belongs to: the local calendar date at dusk (local time - 12 h).

    Returns ``datetime64[D]`` dates, so 2024-02-01 02:00 local belongs to night 2024-01-31.
    """
    idx = aware_utc(pd.DatetimeIndex(times))
    local = idx.tz_convert(site.timezone) - pd.Timedelta(hours=12)
    return local.tz_localize(None).normalize().to_numpy().astype("datetime64[D]")
