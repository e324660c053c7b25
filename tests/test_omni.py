"""OMNI through pyspedas from a local cache in the HRO2 layout: fills, missing months, no network."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.solarwind import omni as omni_mod
from aurora_sw.solarwind.variables import load_solar_wind
from aurora_sw.synthetic.dataset import write_omni_cdfs
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    sw = synthetic_solar_wind("2024-01-20", "2024-02-10", seed=2)
    act = aurora_activity(sw, seed=2)
    root = tmp_path_factory.mktemp("omni")
    paths = write_omni_cdfs(sw, act, root, seed=2)
    return root, sw, paths


def test_cache_uses_the_hro2_layout(cache):
    root, _, paths = cache
    names = sorted(p.relative_to(root).as_posix() for p in paths)
    assert names == [
        "hourly/2024/omni2_h0_mrg1hr_20240101_v01.cdf",
        "hro2_1min/2024/omni_hro2_1min_20240101_v01.cdf",
        "hro2_1min/2024/omni_hro2_1min_20240201_v01.cdf",
    ]


def test_offline_load_masks_fills_and_spans_months(cache, catalog):
    root, sw, _ = cache
    ds = load_solar_wind("2024-01-30", "2024-02-03", ["bz_gsm", "vsw", "ae", "sym_h"], catalog, cache_dir=root, offline=True)
    t = pd.DatetimeIndex(ds.time.values)
    assert t.min() == pd.Timestamp("2024-01-30") and t.max() == pd.Timestamp("2024-02-02T23:59")
    truth = sw["bz_gsm"].sel(time=slice("2024-01-30", "2024-02-02T23:59")).values
    got = ds["bz_gsm"].values
    assert np.array_equal(np.isnan(got), np.isnan(truth))  # 9999.99 fills -> NaN, exactly where gaps were
    np.testing.assert_allclose(got[~np.isnan(got)], truth[~np.isnan(truth)], rtol=1e-6)
    assert np.nanmax(ds["vsw"].values) < 2000 and np.nanmax(np.abs(ds["sym_h"].values)) < 1000  # no raw fills
    assert ds["ae"].attrs["units"] == "nT" and "long_name" in ds["bz_gsm"].attrs


def test_missing_month_is_named(cache, catalog):
    root, _, _ = cache
    with pytest.raises(AuroraSWError, match="omni_hro2_1min_20240301"):
        load_solar_wind("2024-02-25", "2024-03-02", ["bz_gsm"], catalog, cache_dir=root, offline=True)


def test_no_network_says_so_in_one_line(cache, catalog, monkeypatch):
    root, _, _ = cache
    monkeypatch.setattr(omni_mod, "host_reachable", lambda url, timeout_s=3.0: False)
    with pytest.raises(NetworkUnavailableError, match="no network") as err:
        load_solar_wind("2024-02-25", "2024-03-02", ["bz_gsm"], catalog, cache_dir=root, offline=False)  # March is not cached
    assert "--offline" in str(err.value) and "\n" not in str(err.value)


def test_derived_newell_matches_its_formula(cache, catalog):
    root, _, _ = cache
    ds = load_solar_wind("2024-01-30", "2024-01-31", ["newell", "vsw", "by_gsm", "bz_gsm"], catalog, cache_dir=root, offline=True)
    v, by, bz = ds.vsw.values, ds.by_gsm.values, ds.bz_gsm.values
    theta = np.arctan2(by, bz)
    expect = v ** (4 / 3) * np.hypot(by, bz) ** (2 / 3) * np.abs(np.sin(theta / 2)) ** (8 / 3)
    np.testing.assert_allclose(ds.newell.values, expect, rtol=1e-12)


def test_a_new_variable_is_one_catalog_entry(cache, catalog, tmp_path):
    """Adding a variable through the catalog works end to end (here: a derived one)."""
    import yaml

    from aurora_sw.catalog import load_catalog

    raw = yaml.safe_load(open(catalog.path))
    raw["solarwind"]["variables"]["pdyn"] = {"derived": "pdyn", "inputs": ["density", "vsw"], "units": "nPa", "long_name": "dynamic pressure"}
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(raw))
    root, _, _ = cache
    ds = load_solar_wind("2024-01-30", "2024-01-31", ["pdyn", "pressure"], load_catalog(path), cache_dir=root, offline=True)
    ok = np.isfinite(ds.pdyn.values) & np.isfinite(ds.pressure.values)
    np.testing.assert_allclose(ds.pdyn.values[ok], ds.pressure.values[ok], rtol=1e-4)  # same physics, float32 file
    assert ds.pdyn.attrs["units"] == "nPa"


def test_hourly_omni_and_kp_through_pyspedas_offline(small_archive, catalog):
    """Dst/F10.7 from hourly OMNI2 files and Kp from GFZ WDC files, held on the 1-min grid."""
    ds = load_solar_wind(
        "2024-02-05", "2024-02-07", ["kp", "dst", "f107", "bz_gsm"], catalog,
        cache_dir=small_archive.omni_dir, kp_cache_dir=small_archive.kp_dir, offline=True,
    )
    assert ds.sizes["time"] == 2 * 1440
    kp = ds["kp"].to_series()
    assert kp.notna().all() and ((kp * 3).round() == kp * 3).all() and kp.between(0, 9).all()
    assert (kp.resample("3h").nunique() == 1).all()  # one value per 3-hour interval
    assert ds["dst"].to_series().resample("1h").nunique().max() == 1
    assert 50 < float(ds["f107"].mean()) < 250


def test_kp_missing_year_is_named(small_archive, catalog):
    with pytest.raises(AuroraSWError, match="Kp_def2022.wdc"):
        load_solar_wind("2022-12-30", "2023-01-02", ["kp"], catalog, kp_cache_dir=small_archive.kp_dir, offline=True)


def test_csv_variable_from_the_catalog(tmp_path, catalog):
    import yaml

    from aurora_sw.catalog import load_catalog

    t = pd.date_range("2024-02-05", periods=4, freq="6h")
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "cme": [0, 1, -1, 0]}).to_csv(tmp_path / "events.csv", index=False)
    raw = yaml.safe_load(open(catalog.path))
    raw["solarwind"]["variables"]["cme"] = {"source": "csv", "path": "events.csv", "source_var": "cme", "fill": -1, "units": "1", "long_name": "CME flag"}
    (tmp_path / "cat.yaml").write_text(yaml.safe_dump(raw))
    ds = load_solar_wind("2024-02-05", "2024-02-06", ["cme"], load_catalog(tmp_path / "cat.yaml"), offline=True)
    s = ds["cme"].to_series()
    assert s["2024-02-05 05:59"] == 0 and s["2024-02-05 06:00"] == 1 and np.isnan(s["2024-02-05 12:30"])


def test_a_second_call_does_not_touch_the_network(cache, small_archive, catalog, monkeypatch):
    """Online mode, everything already cached: no network check, no pyspedas download."""
    from aurora_sw.solarwind import kp as kp_mod

    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(omni_mod, "host_reachable", no_network)
    monkeypatch.setattr(kp_mod, "host_reachable", no_network)
    root, _, _ = cache
    ds = load_solar_wind("2024-01-30", "2024-02-01", ["bz_gsm"], catalog, cache_dir=root, offline=False)
    assert ds.sizes["time"] == 2 * 1440
    ds = load_solar_wind("2024-02-05", "2024-02-06", ["kp", "dst"], catalog, cache_dir=small_archive.omni_dir, kp_cache_dir=small_archive.kp_dir, offline=False)
    assert ds["kp"].notnull().all()
