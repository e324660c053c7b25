"""Superposed epochs recover a planted response; event finders find planted events."""

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.analysis.epochs import superposed_epoch, threshold_crossings


def test_planted_response_is_recovered_and_beats_random_epochs():
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=60 * 24 * 40, freq="1min")
    y = rng.normal(0, 1, len(t))
    events = pd.DatetimeIndex(sorted(rng.choice(t[3000:-3000], 25, replace=False)))
    for e in events:
        j = t.get_loc(e)
        y[j + 30 : j + 90] += 3.0  # response 30-90 min after each event
    y[(t.hour >= 16) & (t.hour < 22)] = np.nan  # holes, as night-only data have
    res = superposed_epoch(xr.DataArray(y, coords={"time": t}, dims="time", name="y"), events, (-120, 240), bin_min=10, n_random=100)
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
