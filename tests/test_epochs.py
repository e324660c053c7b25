"""Superposed epochs recover a planted response; event finders find planted events; bad
windows are refused (the command's own refusals are tested with correlate's in test_lag.py)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aurora_sw.analysis.epochs import superposed_epoch, threshold_crossings
from aurora_sw.errors import AuroraSWError


def planted(holes=True):
    """40 days of noise with a response 30-90 min after each of 25 events, and daily holes (as
    night-only data have)."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=60 * 24 * 40, freq="1min")
    y = rng.normal(0, 1, len(t))
    events = pd.DatetimeIndex(sorted(rng.choice(t[3000:-3000], 25, replace=False)))
    for e in events:
        j = t.get_loc(e)
        y[j + 30 : j + 90] += 3.0
    if holes:
        y[(t.hour >= 16) & (t.hour < 22)] = np.nan
    return xr.DataArray(y, coords={"time": t}, dims="time", name="y"), events


def test_planted_response_is_recovered_and_beats_random_epochs():
    da, events = planted()
    res = superposed_epoch(da, events, (-120, 240), bin_min=10, n_random=100)
    inside = res.sel(epoch=slice(40, 80))
    assert (inside["median"] > inside["random_high"]).all()
    assert abs(float(res["median"].sel(epoch=-60))) < 1.0
    assert int(res["n"].max()) <= 25 and int(res["n"].min()) < 25  # holes reduce n, and it is reported


def test_southward_turnings_and_onsets_are_found():
    t = pd.date_range("2024-01-01", periods=600, freq="1min")
    bz = np.full(600, 3.0)
    bz[200:260] = -6.0
    bz[400:450] = -5.0
    turns = threshold_crossings(xr.DataArray(bz, coords={"time": t}, dims="time"), -3.0, below=True, quiet_min=60)
    assert list(turns) == [t[200], t[400]]
    p = np.where((np.arange(600) > 100) & (np.arange(600) < 130), 0.9, 0.1)
    onsets = threshold_crossings(xr.DataArray(p, coords={"time": t}, dims="time"), 0.5, quiet_min=60)
    assert list(onsets) == [t[101]]


def test_bins_that_do_not_divide_a_day_still_line_up_with_the_events():
    # 7-min bins: pandas' resample starts them at midnight, floor() at the Unix epoch; the events
    # must be placed in the resampled bins, not looked up by a floor that never matches.
    da, events = planted()
    res = superposed_epoch(da, events, (-120, 240), bin_min=7, n_random=50)
    assert res.attrs["n_events"] == 25 and res.attrs["n_events_without_data"] == 0
    assert float(res["median"].sel(epoch=slice(42, 77)).min()) > 2.0


def test_events_outside_the_series_count_only_when_their_window_reaches_it():
    da, events = planted(holes=False)
    t = pd.DatetimeIndex(da["time"].values)
    early = t[0] - pd.Timedelta(minutes=60)  # its window (-120..240) reaches 180 min into the series
    far = t[0] - pd.Timedelta(days=3)  # no data anywhere in its window
    res = superposed_epoch(da, events.append(pd.DatetimeIndex([early, far])), (-120, 240), bin_min=10, n_random=20)
    assert res.attrs["n_events"] == 26 and res.attrs["n_events_without_data"] == 1
    assert int(res["n"].sel(epoch=100)) == 26 and int(res["n"].sel(epoch=0)) == 25


@pytest.mark.parametrize("kwargs, message", [(dict(window_min=(100, -100)), "start must not exceed the stop"), (dict(bin_min=0), "bin_min")])
def test_bad_windows_and_bins_are_refused(kwargs, message):
    da, events = planted()
    with pytest.raises(AuroraSWError, match=message):
        superposed_epoch(da, events, **kwargs)

