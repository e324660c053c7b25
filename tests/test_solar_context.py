"""Solar context: rotations against published values, the 27-day recurrence, solar events."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aurora_sw.analysis.epochs import superposed_epoch
from aurora_sw.analysis.recurrence import daily, recurrence_autocorrelation, recurrence_table
from aurora_sw.catalog import load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.solarwind import events as events_module
from aurora_sw.solarwind.events import load_events, load_flares
from aurora_sw.solarwind.rotation import bartels_rotation, carrington_longitude, carrington_rotation, rotation_coordinates


def meeus_rotation_start_jde(c: int) -> float:
    """Start of Carrington rotation ``c`` (JDE), Meeus, Astronomical Algorithms, ch. 29 (independent of sunpy)."""
    m = np.radians(281.96 + 26.882476 * c)
    return 2398140.2270 + 27.2752316 * c + 0.1454 * np.sin(m) - 0.0085 * np.sin(2 * m) - 0.0141 * np.cos(2 * m)


def test_carrington_rotations_start_when_meeus_says():
    from astropy.time import Time

    # Meeus' worked example 29.a: rotation 1699 began 1980 August 29.22 TD (JDE 2444480.7230)
    assert abs(meeus_rotation_start_jde(1699) - 2444480.7230) < 1e-4
    for c in (1699, 2000, 2250, 2282):
        start = Time(meeus_rotation_start_jde(c), format="jd", scale="tt").utc.datetime
        cr = carrington_rotation([start])[0]
        assert abs(cr - c) < 0.002 or abs(cr - c - 1) < 0.002, (c, cr)  # within ~1 hour of the start
        before, after = carrington_rotation([start - pd.Timedelta(hours=3), start + pd.Timedelta(hours=3)])
        assert int(np.floor(before)) == c - 1 and int(np.floor(after)) == c


def test_l0_and_bartels():
    t = pd.date_range("2024-02-01", periods=5, freq="6h")
    l0 = carrington_longitude(t)
    assert np.all(np.diff(l0) < 0) and np.all((l0 >= 0) & (l0 < 360))  # L0 decreases ~13.2 deg/day
    assert np.allclose(-np.diff(l0) / 0.25, 13.2, atol=0.3)
    # Bartels rotation 1 began 1832-02-08; 27-day rotations
    assert bartels_rotation("1832-02-08") == (1, 1) and bartels_rotation("1832-03-06") == (2, 1)
    coords = rotation_coordinates(pd.DatetimeIndex(["2024-02-05T12:00"]))
    assert (coords["bartels_rotation"].iloc[0], coords["bartels_day"].iloc[0]) == bartels_rotation("2024-02-05")


def test_merged_dataset_carries_rotation_columns():
    from aurora_sw.analysis.merge import merge_index_solarwind
    from aurora_sw.index.store import build_index

    t = pd.date_range("2024-02-06T02:00Z", periods=60, freq="1min")
    frames = pd.DataFrame({"time_utc": t, "night": "2024-02-05", "flags": "", "p_aurora": 0.5, "sun_alt": -30.0, "sun_az": 0.0, "moon_alt": -10.0,
                           "moon_az": 0.0, "moon_phase": 90.0, "moon_illum": 0.5, "sun_class": "Night", "moon_class": "NoMoon",
                           **{n: 1.0 for n in ("sky_r", "sky_g", "sky_b", "green_excess", "red_excess", "aurora_area", "arc_orientation", "arc_elongation", "arc_curvature")}})
    index = build_index(frames)
    sw = xr.Dataset({"bz_gsm": ("time", np.zeros(60))}, coords={"time": t.tz_localize(None).to_numpy()})
    merged = merge_index_solarwind(index, sw)
    assert merged["carrington_rotation"].attrs["units"] == "1"
    assert 2280 < float(merged["carrington_rotation"][0]) < 2281
    assert int(merged["bartels_rotation"][0]) == 2598


def test_planted_27_day_recurrence_is_found_significant():
    from aurora_sw.synthetic.solarwind import synthetic_solar_wind

    sw = synthetic_solar_wind("2024-01-01", "2024-06-01", seed=2)  # ~5.6 rotations with recurrent streams
    speed = daily(sw["vsw"])
    acf = recurrence_autocorrelation(speed)
    assert acf.attrs["p_value_27d"] < 0.01 and acf.attrs["r_27d"] > acf.attrs["r_crit_27d"]
    assert int(acf["lag_days"][int(np.argmax(acf["r"].sel(lag=slice(20 * 1440, None)).values)) + 20]) in (26, 27, 28)
    table = recurrence_table(speed, "bartels")
    assert table.shape[1] == 27 and table.shape[0] >= 6
    stripe = table.mean().idxmax()  # the recurrent stream: the same column in rotation after rotation
    full = table.dropna()  # whole rotations
    assert len(full) >= 4 and (full.drop(columns=stripe).median(axis=1) < full[stripe]).all()
    # a control without recurrence (shuffled days) is not significant at 27 days
    shuffled = pd.Series(np.random.default_rng(0).permutation(speed.to_numpy()), index=speed.index)
    assert recurrence_autocorrelation(shuffled).attrs["p_value_27d"] > 0.01


@pytest.fixture()
def flare_cache(tmp_path):
    """A flare cache for Feb-Mar 2024 as load_flares writes it (times are made up for the test)."""
    times = pd.to_datetime(["2024-02-03T10:00", "2024-02-09T13:00", "2024-02-16T06:00", "2024-02-22T20:00", "2024-03-02T04:00", "2024-03-10T15:00"])
    for month in ("2024-02", "2024-03"):
        sel = times[times.strftime("%Y-%m") == month]
        df = pd.DataFrame({"time": sel, "peak_time": sel + pd.Timedelta(minutes=10), "end_time": sel + pd.Timedelta(minutes=30), "goes_class": "M2.1", "noaa_ar": 13576})
        (tmp_path / "flares_M1.0").mkdir(exist_ok=True)
        df.to_csv(tmp_path / "flares_M1.0" / f"{month}.csv", index=False)
    return tmp_path, times


def test_cached_flares_are_read_offline_and_missing_months_named(flare_cache, monkeypatch):
    cache, times = flare_cache
    monkeypatch.setattr(events_module, "_query_hek", lambda *a: pytest.fail("must not query the HEK"))
    got = load_flares("2024-02-01", "2024-04-01", cache_dir=cache, offline=True)
    assert list(got["time"]) == list(times) and set(got["goes_class"]) == {"M2.1"}
    with pytest.raises(NetworkUnavailableError, match="2024-04, 2024-05"):
        load_flares("2024-03-01", "2024-06-01", cache_dir=cache, offline=True)


def test_online_without_network_is_one_clear_line(flare_cache, monkeypatch):
    cache, _ = flare_cache
    monkeypatch.setattr(events_module, "host_reachable", lambda url, timeout_s=3.0: False)
    with pytest.raises(NetworkUnavailableError, match="cannot reach the HEK"):
        load_flares("2024-04-01", "2024-05-01", cache_dir=cache)


def test_fetched_months_are_cached_whole(tmp_path, monkeypatch):
    calls = []

    def fake_hek(month, min_class):  # stands in for the network; the caching around it is real
        calls.append(month)
        return pd.DataFrame({"time": [month + pd.Timedelta(days=3)], "peak_time": [month], "end_time": [month], "goes_class": ["X1.0"], "noaa_ar": [1]})

    monkeypatch.setattr(events_module, "host_reachable", lambda url, timeout_s=3.0: True)
    monkeypatch.setattr(events_module, "_query_hek", fake_hek)
    assert len(load_flares("2024-01-01", "2024-03-01", cache_dir=tmp_path)) == 2
    assert len(load_flares("2024-01-01", "2024-03-01", cache_dir=tmp_path, offline=True)) == 2
    assert len(calls) == 2 and not list(tmp_path.rglob("*.part"))


def test_csv_event_list_from_the_catalog(tmp_path):
    (tmp_path / "cme.csv").write_text("arrival_utc,speed\n2024-02-10T08:00Z,600\n2024-03-05T12:00Z,800\n")
    text = (load_catalog().path.read_text()).replace("events:\n", "events:\n  cme_arrivals: {source: csv, path: cme.csv, time_column: arrival_utc}\n", 1)
    (tmp_path / "catalog.yaml").write_text(text)
    cat = load_catalog(tmp_path / "catalog.yaml")
    ev = load_events("cme_arrivals", "2024-02-01", "2024-03-01", catalog=cat)
    assert list(ev["time"]) == [pd.Timestamp("2024-02-10T08:00")]
    with pytest.raises(AuroraSWError, match="unknown event list"):
        load_events("nope", "2024-02-01", "2024-03-01", catalog=cat)
    bad = text.replace("time_column: arrival_utc", "time_column: when")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(AuroraSWError, match="no column 'when'"):
        load_events("cme_arrivals", "2024-02-01", "2024-03-01", catalog=load_catalog(tmp_path / "bad.yaml"))


def test_event_sea_recovers_a_planted_response_two_days_after(flare_cache):
    cache, _ = flare_cache
    flares = load_flares("2024-02-01", "2024-04-01", cache_dir=cache, offline=True)
    t = pd.date_range("2024-01-25", "2024-03-25", freq="1min")
    rng = np.random.default_rng(0)
    hours_since = np.full(len(t), np.inf)
    for ev in flares["time"]:
        dt = (t - ev).total_seconds().to_numpy() / 3600
        hours_since = np.where((dt >= 0) & (dt < hours_since), dt, hours_since)
    response = 0.2 + 0.6 * np.exp(-0.5 * ((hours_since - 48) / 6) ** 2) + 0.1 * rng.standard_normal(len(t))
    night_only = (t.hour >= 2) & (t.hour < 14)  # imaged only at night: holes every day
    da = xr.DataArray(np.where(night_only, response, np.nan), coords={"time": t.to_numpy()}, dims="time", name="p_aurora")
    sea = superposed_epoch(da, pd.DatetimeIndex(flares["time"]), window_min=(-2 * 1440, 5 * 1440), bin_min=60, n_random=200)
    peak_h = float(sea["epoch"][int(np.argmax(sea["median"].fillna(-1).values))]) / 60
    assert 40 <= peak_h <= 56, peak_h
    at_peak = sea.sel(epoch=slice(44 * 60, 52 * 60))
    assert bool((at_peak["median"] > at_peak["random_high"]).any())
    assert int(sea["n"].min()) < int(sea["n"].max())  # night-only data leaves holes, and n shows them
