"""Index + solar wind on one grid: condition filters, running means, aggregates."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aurora_sw.analysis.merge import aggregate, condition_mask, merge_index_solarwind
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import INDEX_NAMES
from aurora_sw.index.store import build_index


@pytest.fixture()
def index():
    t = pd.date_range("2024-02-06T02:00Z", periods=180, freq="1min")
    frames = pd.DataFrame(
        {
            "time_utc": t, "night": "2024-02-05", "flags": "", "p_aurora": np.linspace(0, 1, 180),
            **{name: 1.0 for name in INDEX_NAMES},  # every physical index the scorer writes
            "sun_alt": -30.0, "sun_az": 0.0, "moon_alt": 10.0, "moon_az": 0.0, "moon_phase": 90.0, "moon_illum": 0.5,
            "sun_class": ["Night"] * 120 + ["Astro"] * 60, "moon_class": ["NoMoon"] * 60 + ["Moon_Quarter"] * 120,
        }
    )
    return build_index(frames)


def solar_wind(index):
    t = pd.DatetimeIndex(index.time.values)
    v = np.r_[np.zeros(90), np.ones(90)] * 100.0
    return xr.Dataset({"vsw": ("time", v, {"units": "km/s", "long_name": "speed"})}, coords={"time": t})


def test_conditions_mask_without_dropping_minutes(index):
    m = merge_index_solarwind(index, solar_wind(index), ["Night", "NoMoon"])
    assert m.sizes["time"] == 180
    assert int(m.p_aurora.notnull().sum()) == 60  # Night and NoMoon: the first hour only
    assert int(condition_mask(index, ["Night", "Astro"]).sum()) == 180
    with pytest.raises(AuroraSWError, match="unknown sky condition"):
        condition_mask(index, ["Dusk"])


def test_running_mean_smooths_the_solar_wind_step(index):
    m = merge_index_solarwind(index, solar_wind(index), running_mean_min=30)
    v = m.vsw.values
    assert v[80] == pytest.approx(100 * 5 / 30, abs=4) and v[100] == pytest.approx(100 * 25 / 30, abs=4)
    assert "30 min" in m.vsw.attrs["cell_methods"] and m.vsw.attrs["units"] == "km/s"


def test_hourly_and_nightly_aggregates(index):
    m = merge_index_solarwind(index, solar_wind(index))
    hourly = aggregate(m, "1h")
    assert hourly.sizes["time"] == 3 and list(hourly.n_minutes.values) == [60, 60, 60]
    nightly = aggregate(m, "night")
    assert float(nightly.p_aurora[0]) == pytest.approx(0.5)
    assert int(nightly.n_minutes[0]) == 180
