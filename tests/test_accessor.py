"""ds.aurora: night selection, scored minutes and class names on an index-shaped Dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index import AuroraAccessor
from aurora_sw.index.schema import night_grid


def _index(start_hour: int = 18) -> xr.Dataset:
    t = night_grid("2024-02-05", "2024-02-06", start_hour=start_hour)
    p = np.full(len(t), np.nan)
    p[100:110] = 0.9  # ten scored minutes on the first night
    sun = np.full(len(t), -1, np.int8)
    sun[100:110] = 0
    ds = xr.Dataset({"p_aurora": ("time", p), "sun_class": ("time", sun)}, coords={"time": t}, attrs={"night_start_utc_hour": start_hour})
    ds["sun_class"].attrs.update(flag_values=[0, 1], flag_meanings="Night Astro")
    return ds


def test_nights_and_one_night_follow_the_store_night_start():
    ds = _index(start_hour=6)
    assert isinstance(ds.aurora, AuroraAccessor)
    assert ds.aurora.nights == ["2024-02-05", "2024-02-06"]
    night = ds.aurora.night("2024-02-06")
    times = pd.DatetimeIndex(night["time"].values)
    assert len(times) == 1440 and times[0] == pd.Timestamp("2024-02-06T06:00") and times[-1] == pd.Timestamp("2024-02-07T05:59")


def test_scored_minutes_and_class_names():
    ds = _index()
    scored = ds.aurora.scored()
    assert scored.sizes["time"] == 10 and float(scored["p_aurora"].min()) == pytest.approx(0.9)
    names = ds.aurora.class_names("sun_class")
    assert list(names[99:101]) == ["", "Night"]


def test_a_night_not_in_the_index_or_not_a_date_is_one_line():
    ds = _index()
    with pytest.raises(AuroraSWError, match="night 2024-03-01: not in this index; nights: 2024-02-05, 2024-02-06"):
        ds.aurora.night("2024-03-01")
    with pytest.raises(AuroraSWError):
        ds.aurora.night("2024-13-01")


def test_scored_on_a_lazy_store_as_open_index_gives_it():
    """Found by probing: on a dask-backed Dataset (what open_index returns) scored() raised KeyError."""
    lazy = _index().chunk({"time": 1440})
    assert lazy.aurora.scored().sizes["time"] == 10
