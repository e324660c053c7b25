"""Geomagnetic context and aurora occurrence: MLT against aacgmv2 minute by minute, the
Russell-McPherron angle against its published extremes, occurrence tables against pandas."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.analysis.occurrence import occurrence
from aurora_sw.catalog import load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.geomagnetic import russell_mcpherron_angle


def test_russell_mcpherron_angle_peaks_where_published():
    """Russell & McPherron (1973): the solar-equatorial and GSM z axes are furthest apart, about 35 deg,
    near 22-23 UT in early April and 10-11 UT in early October, and much less at the solstices."""
    t = pd.date_range("2024-01-01", "2025-01-01", freq="30min", inclusive="left")
    a = russell_mcpherron_angle(t)
    spring, autumn = t[np.argmax(a)], t[np.argmin(a)]
    assert spring.month == 4 and spring.day <= 10 and spring.hour in (21, 22, 23, 0)
    assert autumn.month == 10 and autumn.day <= 12 and autumn.hour in (9, 10, 11)
    assert 33 < a.max() < 37 and -37 < a.min() < -33
    solstice = russell_mcpherron_angle(pd.date_range("2024-06-21", periods=48, freq="30min"))
    assert np.abs(solstice).max() < 20  # the dipole's daily wobble (+-11 deg) and the solar equator's 7 deg tilt only


def test_magnetic_local_time_matches_aacgmv2_minute_by_minute():
    aacgmv2 = pytest.importorskip("aacgmv2")
    from aurora_sw.geomagnetic import magnetic_local_time, site_aacgm

    site = load_catalog().site()
    t = pd.date_range("2024-02-06 03:00", periods=600, freq="1min")
    mlt = magnetic_local_time(site, t)
    _, mlon = site_aacgm(site, pd.Timestamp("2024-07-01"))
    direct = np.array([float(np.ravel(aacgmv2.convert_mlt(mlon, x.to_pydatetime(), m2a=False))[0]) for x in t[::37]])
    diff = (mlt[::37] - direct + 12) % 24 - 12
    assert np.abs(diff).max() < 0.01  # hours: well under a minute
    with pytest.raises(AuroraSWError, match="outside the years AACGM-v2 covers"):
        magnetic_local_time(site, pd.DatetimeIndex(["2031-01-01"]))
    assert np.isfinite(magnetic_local_time(site, pd.DatetimeIndex(["1960-01-01"]))).all()  # IGRF goes back to 1900


def test_occurrence_counts_match_a_pandas_crosstab():
    rng = np.random.default_rng(1)
    n = 5000
    mlt = rng.uniform(0, 24, n)
    kp = rng.choice(np.arange(0, 9.1, 1 / 3), n)
    aurora = (rng.random(n) < 0.2 + 0.08 * kp).astype(float)
    aurora[rng.random(n) < 0.3] = np.nan  # not observed
    ds = occurrence(aurora, {"mlt": mlt, "kp": kp}, ("mlt", "kp"))
    ok = np.isfinite(aurora)
    kp_bin = np.minimum(np.round(kp), 6).astype(int)  # Kp classes: 2- (5/3), 2o, 2+ (7/3) are 2; 6-9 together
    ref = pd.crosstab(np.floor(mlt[ok]).astype(int), kp_bin[ok], values=aurora[ok], aggfunc="mean")
    counts = pd.crosstab(np.floor(mlt[ok]).astype(int), kp_bin[ok])
    np.testing.assert_array_equal(ds["minutes"].values, counts.to_numpy())
    np.testing.assert_allclose(ds["rate"].values, ref.to_numpy())
    assert int(ds["minutes"].sum()) == ok.sum() and ds["rate"].attrs["units"] == "1"
    assert list(ds["kp"].values) == ["0", "1", "2", "3", "4", "5", "6-9"]
    with pytest.raises(AuroraSWError, match="two different quantities"):
        occurrence(aurora, {"mlt": mlt}, ("mlt", "mlt"))


@pytest.mark.slow
def test_occurrence_command_on_the_demo(demo_run, tmp_path):
    pytest.importorskip("aacgmv2")
    import subprocess
    import sys

    import xarray as xr

    out, s = demo_run
    syn = out / "synthetic"
    cmd = [sys.executable, "-m", "aurora_sw", "occurrence", "--index", str(out / "index.zarr"), "--offline",
           "--cache", str(syn / "omni_data"), "--kp-cache", str(syn / "kp_data"), "--out", str(tmp_path)]
    res = subprocess.run([*cmd, "--by", "mlt,kp"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ds = xr.open_dataset(tmp_path / "occurrence_mlt_kp.nc")
    scored_dark = int((ds["minutes"].sum()))
    assert 0 < scored_dark <= s["n_frames_scored"] and "observed minutes" in res.stdout
    assert ds["minutes"].sel(mlt=["10", "11", "12", "13"]).sum() == 0  # Yellowknife's winter nights never see magnetic noon
    assert (tmp_path / "occurrence_mlt_kp.png").stat().st_size > 20_000
    res = subprocess.run([*cmd, "--by", "mlt,nope"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and res.stderr.strip().splitlines() == ["aurora-sw: error: --by 'mlt,nope': give two different quantities of mlt, kp, newell, month, e.g. mlt,kp"]


def test_geomagnetic_context_carries_units():
    pytest.importorskip("aacgmv2")
    from aurora_sw.geomagnetic import geomagnetic_context

    t = pd.date_range("2024-02-06 03:00", periods=120, freq="1min")
    ctx = geomagnetic_context(load_catalog().site(), t)
    assert 68 < float(ctx["mlat"][0]) < 70  # Yellowknife: AACGM latitude ~68.6 at 110 km
    for name in ("mlat", "mlt", "day_of_year", "rm_angle"):
        assert ctx[name].attrs["units"] and ctx[name].attrs["long_name"]
    assert (ctx["day_of_year"] == 37).all()


def centred_dipole_mlt(lat_deg: float, lon_deg: float, times: pd.DatetimeIndex, pole=(80.8, -72.8)) -> np.ndarray:
    """MLT in a centred dipole (an independent, textbook computation): 12 h + (magnetic longitude of the site
    - magnetic longitude of the subsolar point) / 15, the Sun placed with the almanac formulas."""
    def magnetic_longitude(lat, lon):
        lat, lon, plat, plon = map(np.radians, (lat, lon, pole[0], pole[1]))
        x, y, z = np.cos(lat) * np.cos(lon - plon), np.cos(lat) * np.sin(lon - plon), np.sin(lat)
        tilt = np.pi / 2 - plat
        return np.degrees(np.arctan2(y, x * np.cos(tilt) - z * np.sin(tilt)))

    days = (times - pd.Timestamp("2000-01-01 12:00")).total_seconds().to_numpy() / 86400.0
    mean_anomaly = np.radians(357.529 + 0.98560028 * days)
    ecliptic = np.radians(280.459 + 0.98564736 * days + 1.915 * np.sin(mean_anomaly) + 0.020 * np.sin(2 * mean_anomaly))
    obliquity = np.radians(23.439 - 0.00000036 * days)
    declination = np.degrees(np.arcsin(np.sin(obliquity) * np.sin(ecliptic)))
    right_ascension = np.degrees(np.arctan2(np.cos(obliquity) * np.sin(ecliptic), np.cos(ecliptic)))
    gmst = 280.46061837 + 360.98564736629 * days
    subsolar_lon = (right_ascension - gmst + 180) % 360 - 180
    return (12 + (magnetic_longitude(lat_deg, lon_deg) - magnetic_longitude(declination, subsolar_lon)) / 15) % 24


def test_magnetic_local_time_agrees_with_a_centred_dipole():
    """AACGM-v2 and a centred dipole differ by a few tenths of an hour at Yellowknife (the field is not a
    dipole); a wrong sign, zone or longitude would be hours off."""
    pytest.importorskip("aacgmv2")
    from aurora_sw.geomagnetic import magnetic_local_time

    site = load_catalog().site()
    t = pd.date_range("2024-01-15", periods=4 * 48, freq="30min")
    diff = (magnetic_local_time(site, t) - centred_dipole_mlt(site.lat_deg, site.lon_deg, t) + 12) % 24 - 12
    assert np.abs(diff).max() < 0.5  # measured: 0.39 h at most, 0.21 h on average
