"""OMNI through pyspedas from a local cache in the HRO2 layout: fills, missing months, no network."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.solarwind import omni as omni_mod
from aurora_sw.solarwind.variables import load_solar_wind
from aurora_sw.synthetic.omni_files import write_omni_cdfs
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
    ds = load_solar_wind("2024-01-30", "2024-02-03", ["bz_gsm", "vsw", "ae", "sym_h"], catalog=catalog, cache_dir=root, offline=True)
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
        load_solar_wind("2024-02-25", "2024-03-02", ["bz_gsm"], catalog=catalog, cache_dir=root, offline=True)


def test_no_network_says_so_in_one_line(cache, catalog, monkeypatch):
    root, _, _ = cache
    monkeypatch.setattr(omni_mod, "host_reachable", lambda url, timeout_s=3.0: False)
    with pytest.raises(NetworkUnavailableError, match="no network") as err:
        load_solar_wind("2024-02-25", "2024-03-02", ["bz_gsm"], catalog=catalog, cache_dir=root, offline=False)  # March is not cached
    assert "--offline" in str(err.value) and "\n" not in str(err.value)


def test_derived_newell_matches_its_formula(cache, catalog):
    root, _, _ = cache
    ds = load_solar_wind("2024-01-30", "2024-01-31", ["newell", "vsw", "by_gsm", "bz_gsm"], catalog=catalog, cache_dir=root, offline=True)
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
    ds = load_solar_wind("2024-01-30", "2024-01-31", ["pdyn", "pressure"], catalog=load_catalog(path), cache_dir=root, offline=True)
    ok = np.isfinite(ds.pdyn.values) & np.isfinite(ds.pressure.values)
    np.testing.assert_allclose(ds.pdyn.values[ok], ds.pressure.values[ok], rtol=1e-4)  # same physics, float32 file
    assert ds.pdyn.attrs["units"] == "nPa"


def test_hourly_omni_and_kp_through_pyspedas_offline(small_archive, catalog):
    """Dst/F10.7 from hourly OMNI2 files and Kp from GFZ WDC files, held on the 1-min grid."""
    ds = load_solar_wind(
        "2024-02-05", "2024-02-07", ["kp", "dst", "f107", "bz_gsm"], catalog=catalog,
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
        load_solar_wind("2022-12-30", "2023-01-02", ["kp"], catalog=catalog, kp_cache_dir=small_archive.kp_dir, offline=True)


def test_csv_variable_from_the_catalog(tmp_path, catalog):
    import yaml

    from aurora_sw.catalog import load_catalog

    t = pd.date_range("2024-02-05", periods=4, freq="6h")
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "cme": [0, 1, -1, 0]}).to_csv(tmp_path / "events.csv", index=False)
    raw = yaml.safe_load(open(catalog.path))
    raw["solarwind"]["variables"]["cme"] = {"source": "csv", "path": "events.csv", "source_var": "cme", "fill": -1, "units": "1", "long_name": "CME flag"}
    (tmp_path / "cat.yaml").write_text(yaml.safe_dump(raw))
    ds = load_solar_wind("2024-02-05", "2024-02-06", ["cme"], catalog=load_catalog(tmp_path / "cat.yaml"), offline=True)
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
    ds = load_solar_wind("2024-01-30", "2024-02-01", ["bz_gsm"], catalog=catalog, cache_dir=root, offline=False)
    assert ds.sizes["time"] == 2 * 1440
    ds = load_solar_wind("2024-02-05", "2024-02-06", ["kp", "dst"], catalog=catalog, cache_dir=small_archive.omni_dir, kp_cache_dir=small_archive.kp_dir, offline=False)
    assert ds["kp"].notnull().all()


# Real GFZ lines are space-padded: ` 3 1 5` is 2003-01-05, `20 1 1` is 2020-01-01. Found as:
# pyspedas skips every line that starts with a space, so `solarwind fetch --vars kp` had no
# data at all for 2000-2009. Columns: YYMMDD, Bartels rotation (4) and day (2), 8 Kp x10,
# Kp sum, 8 ap, Ap, Cp, C9.
GFZ_WDC = {
    2003: "# Kp_def2003.wdc, WDC format\n"
          " 3 1 5231227 0 3 71013172023 93  0  2  3  4  5  6  7  9  40.10\n"
          " 3 1 62313 15063878390807733563 48 94236207400179154 181672.29\n",
    2020: "# Kp_def2020.wdc, WDC format\n"
          "20 1 1254222 0 3 71040475390250  0  2  3  4 27 32 39400 630.84\n"
          "20 1 2254223 3 3 3 3 3 3 3 3 24  2  2  2  2  2  2  2  2  20.00\n",
}
EXPECTED_KP = {
    2003: [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 7 / 3, 5, 19 / 3, 26 / 3, 25 / 3, 9, 8, 23 / 3, 10 / 3],
    2020: [0, 1 / 3, 2 / 3, 1, 4, 14 / 3, 16 / 3, 9] + [1 / 3] * 8,
}


@pytest.mark.parametrize("year", [2003, 2020])
def test_gfz_kp_lines_are_read_through_solarwind_fetch(year, tmp_path):
    import subprocess
    import sys

    import xarray as xr

    (tmp_path / f"Kp_def{year}.wdc").write_text(GFZ_WDC[year])
    out = tmp_path / "kp.nc"
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "solarwind", "fetch", "--start", f"{year}-01-05" if year == 2003 else f"{year}-01-01",
         "--end", f"{year}-01-07" if year == 2003 else f"{year}-01-03", "--vars", "kp", "--offline", "--kp-cache", str(tmp_path), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "valid 100.0%" in res.stdout
    with xr.open_dataset(out) as ds:
        kp = ds["kp"].to_series()
    assert len(kp) == 2 * 1440
    every_3h = kp.iloc[::180]
    assert list(every_3h.index.hour) == [0, 3, 6, 9, 12, 15, 18, 21] * 2  # UTC interval starts
    np.testing.assert_allclose(every_3h.to_numpy(), EXPECTED_KP[year], atol=1e-9)
    assert (kp.resample("3h").nunique() == 1).all()  # each value holds through its 3 hours


def test_damaged_kp_lines_are_refused_with_file_and_line(tmp_path):
    from aurora_sw.solarwind.kp import read_kp_wdc

    good = GFZ_WDC[2020].splitlines()
    cases = {
        "year 03 in the file for 2020": good[:2] + [GFZ_WDC[2003].splitlines()[1]],
        "Kp code 95": good[:2] + [good[2][:26] + "95" + good[2][28:]],
        "not a WDC Kp line": good[:2] + [good[2][:14] + "x" + good[2][15:]],
        "no such date 2020-2-30": good[:2] + ["20 230" + good[2][6:]],
    }
    for message, lines in cases.items():
        path = tmp_path / "Kp_def2020.wdc"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(AuroraSWError, match=message) as err:
            read_kp_wdc(path)
        assert f"{path}, line 3" in str(err.value)
    ok = tmp_path / "Kp_def2020.wdc"
    ok.write_text(GFZ_WDC[2020])
    assert read_kp_wdc(ok).index[-1] == pd.Timestamp("2020-01-02T21:00")


@pytest.mark.parametrize("keep", [0.4, 0.99])
def test_truncated_omni_cdf_is_named_with_what_to_do(cache, tmp_path, keep):
    """Found as: a download cut short gave "Aborted." (cdflib's EOFError) or "no variable 'flow_speed'"."""
    import shutil
    import subprocess
    import sys

    root, _, paths = cache
    damaged_root = tmp_path / "omni"
    shutil.copytree(root, damaged_root)
    damaged = damaged_root / "hro2_1min/2024/omni_hro2_1min_20240201_v01.cdf"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: int(len(data) * keep)])
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "solarwind", "fetch", "--start", "2024-02-01", "--end", "2024-02-02", "--offline", "--cache", str(damaged_root)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr and "Aborted" not in res.stderr, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"aurora-sw: error: {damaged}: damaged or truncated OMNI CDF") and "delete it and re-fetch" in line
    assert "flow_speed" not in line


def test_a_file_that_is_not_a_cdf_is_named(cache, catalog, tmp_path):
    import shutil

    root, _, _ = cache
    shutil.copytree(root, tmp_path / "omni")
    (tmp_path / "omni/hro2_1min/2024/omni_hro2_1min_20240201_v01.cdf").write_text("<html>503 Service Unavailable</html>")
    with pytest.raises(AuroraSWError, match="omni_hro2_1min_20240201_v01.cdf: damaged or truncated OMNI CDF") as err:
        load_solar_wind("2024-02-01", "2024-02-02", ["bz_gsm"], catalog=catalog, cache_dir=tmp_path / "omni", offline=True)
    assert "\n" not in str(err.value)


def test_zone_aware_times_are_converted_to_utc(cache, catalog):
    root, _, _ = cache
    ds = load_solar_wind("2024-01-30T00:00-07:00", "2024-01-30T12:00-07:00", ["bz_gsm"], catalog=catalog, cache_dir=root, offline=True)
    assert pd.Timestamp(ds.time.values[0]) == pd.Timestamp("2024-01-30T07:00")


def test_kp_online_downloads_through_pyspedas_then_reads_the_files_itself(tmp_path, catalog, monkeypatch):
    """Online: pyspedas fetches Kp_defYYYY.wdc from GFZ (the host checked first); our parser reads it."""
    import pyspedas.utilities.download as pyspedas_download

    from aurora_sw.solarwind import kp as kp_mod

    asked = {}

    def fake_download(remote_path, remote_file, local_path, **kwargs):
        asked.update(remote_path=remote_path, remote_file=remote_file)
        for name in remote_file:
            (tmp_path / name).write_text(GFZ_WDC[2003])
        return [local_path + name for name in remote_file]

    monkeypatch.setattr(kp_mod, "host_reachable", lambda url, timeout_s=3.0: url == kp_mod.GFZ_REMOTE)
    monkeypatch.setattr(pyspedas_download, "download", fake_download)
    kp = kp_mod.load_kp("2003-01-05", "2003-01-07", catalog=catalog, cache_dir=tmp_path, offline=False).to_series()
    assert asked == {"remote_path": kp_mod.GFZ_REMOTE, "remote_file": ["Kp_def2003.wdc"]}
    np.testing.assert_allclose(kp.to_numpy(), EXPECTED_KP[2003], atol=1e-9)
