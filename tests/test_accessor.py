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


def _scored_store(tmp_path, attrs: dict):
    from test_store import NIGHTS, scored_frames

    from aurora_sw.index.store import init_store, write_night

    store = tmp_path / "index.zarr"
    init_store(store, NIGHTS[0], NIGHTS[0], 0.5, {"model_sha256": "test", **attrs})
    write_night(store, NIGHTS[0], scored_frames(NIGHTS[0], 0, n=30))
    return store


def test_geomagnetic_context_of_an_index_from_the_site_it_records(tmp_path):
    """mlat/mlt/day_of_year/rm_angle for every minute, with CF units, for the site the store names; a site
    the catalog has since moved is refused in one line, not silently used."""
    pytest.importorskip("aacgmv2")
    from aurora_sw.catalog import load_catalog
    from aurora_sw.geomagnetic import magnetic_local_time, russell_mcpherron_angle
    from aurora_sw.index.schema import GEOMAGNETIC
    from aurora_sw.index.store import open_index

    site = load_catalog().site("yellowknife")
    store = _scored_store(tmp_path, {"site": "yellowknife", "site_lat_deg": site.lat_deg, "site_lon_deg": site.lon_deg})
    ds = open_index(store).aurora.geomagnetic()
    t = pd.DatetimeIndex(ds["time"].values)
    for name, var in GEOMAGNETIC.items():
        assert ds[name].attrs["units"] == var.units and ds[name].attrs["long_name"] == var.long_name
        assert ds[name].sizes["time"] == len(t) and np.isfinite(ds[name].values).all()
    np.testing.assert_allclose(ds["mlt"].values[::97], magnetic_local_time(site, t[::97]))
    np.testing.assert_allclose(ds["rm_angle"].values[::97], russell_mcpherron_angle(t[::97]))
    assert 68 < float(ds["mlat"].min()) <= float(ds["mlat"].max()) < 70
    assert set(np.unique(ds["day_of_year"])) == {36, 37}  # a night from 18 UTC on 5 Feb (day 36) to 6 Feb

    # The catalog moved the site since scoring: the index's context stays where its frames were seen (the
    # recorded position, no catalog needed), and asking for the site itself names the disagreement.
    moved = open_index(_scored_store(tmp_path / "moved", {"site": "yellowknife", "site_lat_deg": site.lat_deg + 1, "site_lon_deg": site.lon_deg,
                                                           "catalog": str(tmp_path / "gone" / "catalog.yaml")}))
    from aurora_sw.geomagnetic import SitePosition

    there = SitePosition("yellowknife", site.lat_deg + 1, site.lon_deg)
    np.testing.assert_allclose(moved.aurora.geomagnetic()["mlt"].values[::97], magnetic_local_time(there, t[::97]))
    with pytest.raises(AuroraSWError):
        moved.aurora.site


def test_query_returns_the_magnetic_context(tmp_path):
    """`aurora-sw query --vars p_aurora,mlt,...` derives the context for the scored minutes it returns."""
    pytest.importorskip("aacgmv2")
    import subprocess
    import sys

    from aurora_sw.catalog import load_catalog
    from aurora_sw.geomagnetic import magnetic_local_time

    store = _scored_store(tmp_path, {})  # a store from before the site was recorded: the catalog's default site
    out = tmp_path / "q.csv"
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "query", "--index", str(store), "--vars", "p_aurora,mlt,mlat,rm_angle,day_of_year", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out, index_col="time", parse_dates=True)
    assert len(df) == 30 and list(df.columns) == ["p_aurora", "mlt", "mlat", "rm_angle", "day_of_year"]
    np.testing.assert_allclose(df["mlt"], magnetic_local_time(load_catalog().site(), df.index), atol=1e-9)
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "query", "--index", str(store), "--vars", "p_aurora,mltt"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "no variable(s) ['mltt']" in res.stderr and "mlt, day_of_year" in res.stderr


def test_camera_site_is_the_one_the_index_records():
    from aurora_sw.catalog import load_catalog
    from aurora_sw.workflows.inputs import camera_site

    cat = load_catalog()
    ds = _index()
    assert camera_site(ds, cat)[0] == cat.default_site_key  # recorded by no store before this: the default
    ds.attrs["site"] = "yellowknife"
    assert camera_site(ds, cat, "yellowknife")[1].lat_deg == pytest.approx(62.44, abs=0.01)
    with pytest.raises(AuroraSWError, match=r"--site elsewhere: this index was scored for site 'yellowknife'"):
        camera_site(ds, cat, "elsewhere")
