"""Solar rotation bookkeeping: Carrington rotations (sunpy) and 27-day Bartels rotations.

Carrington rotation numbers are fractional here: 2280.65 is 65 % of the way through rotation 2280,
and the sub-Earth Carrington longitude L0 is 360 deg x (1 - that fraction). sunpy computes them
from the Sun's ephemeris; for long series it is called on an hourly grid and interpolated (the
number grows smoothly, 1 rotation in ~27.28 days; the error is below 1e-6 rotation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.times import naive_utc

BARTELS_EPOCH = pd.Timestamp("1832-02-08")  # day 1 of Bartels rotation 1
BARTELS_DAYS = 27
CARRINGTON_DAYS = 27.2753  # mean synodic period, for day-of-rotation columns


def bartels_rotation(time: pd.Timestamp | str) -> tuple[int, int]:
    """Bartels rotation number and day of the rotation (1..27) for a UTC time.

    Rotation 1 began on 1832-02-08; each lasts exactly 27 days.

    Examples
    --------
    >>> bartels_rotation("2024-02-05")
    (2598, 6)
    """
    days = (naive_utc(time).normalize() - BARTELS_EPOCH).days
    return days // BARTELS_DAYS + 1, days % BARTELS_DAYS + 1



def carrington_rotation(times) -> np.ndarray:
    """Fractional Carrington rotation number at UTC ``times`` (sunpy ``carrington_rotation_number``).

    Examples
    --------
    >>> round(float(carrington_rotation(["2024-02-05"])[0]), 3)
    2280.648
    """
    from astropy.time import Time
    from sunpy.coordinates import sun

    t = naive_utc(times)
    if len(t) == 0:
        return np.zeros(0)
    knots = pd.date_range(t.min().floor("1h"), t.max().ceil("1h") + pd.Timedelta(hours=1), freq="1h")
    if len(knots) > len(t):  # few times: ask sunpy directly
        return np.asarray(sun.carrington_rotation_number(Time(t.to_pydatetime(), scale="utc")), float)
    values = np.asarray(sun.carrington_rotation_number(Time(knots.to_pydatetime(), scale="utc")), float)
    to_s = lambda idx: (idx - knots[0]).total_seconds().to_numpy()  # noqa: E731
    return np.interp(to_s(t), to_s(knots), values)


def carrington_longitude(times) -> np.ndarray:
    """Sub-Earth Carrington longitude L0 (deg, 0..360) at UTC ``times`` (sunpy ``L0``)."""
    return 360.0 * (1.0 - np.mod(carrington_rotation(times), 1.0))


def rotation_coordinates(times) -> pd.DataFrame:
    """Carrington rotation (fractional), L0, Bartels rotation and day for each UTC time."""
    t = naive_utc(times)
    cr = carrington_rotation(t)
    days = (t.normalize() - BARTELS_EPOCH).days.to_numpy()
    return pd.DataFrame(
        {
            "carrington_rotation": cr,
            "carrington_longitude": 360.0 * (1.0 - np.mod(cr, 1.0)),
            "bartels_rotation": days // BARTELS_DAYS + 1,
            "bartels_day": days % BARTELS_DAYS + 1,
        },
        index=t,
    )


ROTATION_ATTRS = {
    "carrington_rotation": ("1", "Carrington rotation number, fractional (sunpy)"),
    "carrington_longitude": ("degree", "sub-Earth Carrington longitude L0 (sunpy)"),
    "bartels_rotation": ("1", "Bartels rotation number (27 days from 1832-02-08)"),
    "bartels_day": ("1", "day of the Bartels rotation, 1..27"),
}


def with_rotations(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` (on a UTC ``time`` axis) with the :func:`rotation_coordinates` as variables."""
    coords = rotation_coordinates(ds["time"].values)
    return ds.assign({name: ("time", coords[name].to_numpy(), {"units": u, "long_name": ln}) for name, (u, ln) in ROTATION_ATTRS.items()})
