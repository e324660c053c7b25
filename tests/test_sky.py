"""Sun and Moon geometry against an independent ephemeris (skyfield with its shipped DE421)."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.sky import moon_class, sky_conditions, sun_class

TIMES = pd.to_datetime(
    ["2024-02-01T03:00Z", "2024-02-01T08:30Z", "2024-03-10T09:15Z", "2024-12-15T12:00Z", "2025-01-25T02:45Z", "2023-01-07T06:00Z"]
)


def test_sun_and_moon_altitude_match_skyfield(catalog):
    pytest.importorskip("skyfield")
    skyfield_data = pytest.importorskip("skyfield_data")
    from skyfield.api import Loader, wgs84

    load = Loader(skyfield_data.get_skyfield_data_path())
    eph = load("de421.bsp")
    ts = load.timescale(builtin=True)
    site = catalog.site("yellowknife")
    here = eph["earth"] + wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.elevation_m)
    ours = sky_conditions(TIMES, site, catalog.sky_conditions)
    for i, t in enumerate(TIMES):
        tt = ts.from_datetime(t.to_pydatetime())
        sun_alt = here.at(tt).observe(eph["sun"]).apparent().altaz()[0].degrees
        moon_alt = here.at(tt).observe(eph["moon"]).apparent().altaz()[0].degrees
        assert ours.sun_alt.iloc[i] == pytest.approx(sun_alt, abs=0.05)
        assert ours.moon_alt.iloc[i] == pytest.approx(moon_alt, abs=0.05)


def test_sun_classes_follow_thresholds(catalog):
    got = sun_class(np.array([-30, -18, -15, -12, -8, -3, 0, 10]), catalog.sky_conditions)
    assert list(got) == ["Night", "Night", "Astro", "Astro", "Nautical", "Civil", "Day", "Day"]


def test_moon_classes_follow_thresholds(catalog):
    phase = np.array([170, 170, 90, 90, 20])
    alt = np.array([20, 2, 20, 8, 40])
    assert list(moon_class(phase, alt, catalog.sky_conditions)) == ["Moon_Full", "NoMoon", "Moon_Quarter", "NoMoon", "NoMoon"]


def test_full_moon_phase_near_180(catalog):
    # 2024-02-24 12:30 UTC was a full Moon; 2024-02-09 23:00 UTC a new Moon.
    geo = sky_conditions(pd.to_datetime(["2024-02-24T12:30Z", "2024-02-09T23:00Z"]), catalog.site("yellowknife"), catalog.sky_conditions)
    assert geo.moon_phase.iloc[0] > 175 and geo.moon_illum.iloc[0] > 0.99
    assert geo.moon_phase.iloc[1] < 5 and geo.moon_illum.iloc[1] < 0.01
