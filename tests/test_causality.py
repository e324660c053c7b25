"""Granger and distributed-lag regressions find a planted lagged driver and reject noise."""

import numpy as np
import pytest
import pandas as pd
import xarray as xr

from aurora_sw.analysis.causality import distributed_lag, granger_test


def ar1(rng, n, phi):
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], rng.normal(size=n))


def da(values, name):
    return xr.DataArray(values, coords={"time": pd.date_range("2024-01-01", periods=len(values), freq="1min")}, dims="time", name=name)


def test_granger_detects_a_lagged_driver_and_not_an_independent_one():
    rng = np.random.default_rng(0)
    n = 20000
    x = ar1(rng, n, 0.98)
    y = 0.8 * np.roll(x, 40) + ar1(rng, n, 0.95)
    y[5000:9000] = np.nan  # a daytime gap
    hit = granger_test(da(x, "x"), da(y, "y"), max_lag_min=90, bin_min=10)
    null = granger_test(da(ar1(rng, n, 0.98), "z"), da(y, "y"), max_lag_min=90, bin_min=10)
    assert hit["p_value"] < 1e-6
    assert null["p_value"] > 0.01


def test_distributed_lag_puts_the_weight_at_the_planted_lag():
    rng = np.random.default_rng(1)
    n = 30000
    x = rng.normal(size=n)  # white driver: lags are separable
    x = np.convolve(x, np.ones(10) / 10, "same")
    y = 2.0 * np.roll(x, 60) + 0.5 * rng.normal(size=n)
    res = distributed_lag(da(x, "x"), da(y, "y"), lags_min=range(0, 121, 10), bin_min=10)
    assert float(res["coef"].idxmax()) == 60
    assert res.attrs["total_effect"] == pytest.approx(2.0, rel=0.25)
    assert float(res["ci_low"].sel(lag=60)) > 0  # the CI excludes zero at the planted lag
    assert float(res["ci_low"].sel(lag=0)) < 0 < float(res["ci_high"].sel(lag=0))  # and includes it at lag 0
