"""Regression views of the lag question (statsmodels): Granger causality and distributed lags.

Both work on a regular grid where gaps are NaN: a row enters only if every lagged value it needs
exists, so night-only aurora data never mixes across the day gap. Standard errors are HAC
(Newey-West), because the residuals of minute data are autocorrelated.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from aurora_sw.analysis.lag import align_on_grid
from aurora_sw.errors import AuroraSWError


def _lagged(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    if k == 0:
        return a.copy()
    out[k:] = a[:-k]
    return out


def _coarsen(x: np.ndarray, y: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin means over ``factor`` samples; a bin is NaN unless at least half of it is present."""
    if factor <= 1:
        return x, y
    n = len(x) // factor * factor

    def binned(a: np.ndarray) -> np.ndarray:
        blocks = a[:n].reshape(-1, factor)
        count = np.isfinite(blocks).sum(1)
        total = np.where(np.isfinite(blocks), blocks, 0.0).sum(1)
        return np.where(count * 2 >= factor, total / np.maximum(count, 1), np.nan)

    return binned(x), binned(y)


def granger_test(driver: xr.DataArray, response: xr.DataArray, max_lag_min: int = 120, bin_min: int = 10, hac_lags: int | None = None) -> dict:
    """Does the driver's past improve the prediction of the response beyond its own past?

    Both series are averaged into ``bin_min`` bins; the unrestricted model regresses the response
    on ``max_lag_min / bin_min`` of its own lags and as many driver lags; a HAC Wald test asks
    whether all driver coefficients are zero.

    Returns
    -------
    dict
        ``f_stat``, ``p_value``, ``df`` (numerator, denominator), ``n_rows``, ``lags``, ``bin_min``.
    """
    import statsmodels.api as sm

    x, y, step = align_on_grid(driver, response)
    factor = max(int(round(bin_min / (step.total_seconds() / 60))), 1)
    x, y = _coarsen(x, y, factor)
    p = max(int(max_lag_min // bin_min), 1)
    cols = [_lagged(y, k) for k in range(1, p + 1)] + [_lagged(x, k) for k in range(1, p + 1)]
    design = np.column_stack(cols)
    ok = np.isfinite(y) & np.isfinite(design).all(1)
    if ok.sum() < 4 * p + 10:
        raise AuroraSWError(f"granger_test: only {int(ok.sum())} complete rows for {p} lags; use a shorter max_lag_min or more data")
    fit = sm.OLS(y[ok], sm.add_constant(design[ok])).fit(cov_type="HAC", cov_kwds={"maxlags": hac_lags or p})
    restriction = np.zeros((p, design.shape[1] + 1))
    restriction[np.arange(p), 1 + p + np.arange(p)] = 1.0
    test = fit.f_test(restriction)
    return {
        "f_stat": float(np.squeeze(test.fvalue)),
        "p_value": float(test.pvalue),
        "df": [int(test.df_num), int(test.df_denom)],
        "n_rows": int(ok.sum()),
        "lags": p,
        "bin_min": bin_min,
    }


def distributed_lag(driver: xr.DataArray, response: xr.DataArray, lags_min: range = range(0, 181, 10), bin_min: int = 10, hac_lags: int | None = None) -> xr.Dataset:
    """Response(t) = a + sum_k b_k driver(t - k) + e, with HAC (Newey-West) standard errors.

    Returns
    -------
    xarray.Dataset
        On ``lag`` (min): ``coef``, ``stderr``, ``ci_low``, ``ci_high`` (95 %); attributes
        ``total_effect`` (sum of coefficients), its ``total_stderr``, ``r2``, ``n_rows``.
    """
    import statsmodels.api as sm

    x, y, step = align_on_grid(driver, response)
    factor = max(int(round(bin_min / (step.total_seconds() / 60))), 1)
    x, y = _coarsen(x, y, factor)
    ks = [int(round(L / bin_min)) for L in lags_min]
    if min(ks) < 0:
        raise AuroraSWError("distributed_lag: lags must be >= 0 (the driver leads)")
    design = np.column_stack([_lagged(x, k) for k in ks])
    ok = np.isfinite(y) & np.isfinite(design).all(1)
    if ok.sum() < 2 * len(ks) + 10:
        raise AuroraSWError(f"distributed_lag: only {int(ok.sum())} complete rows for {len(ks)} lags")
    fit = sm.OLS(y[ok], sm.add_constant(design[ok])).fit(cov_type="HAC", cov_kwds={"maxlags": hac_lags or max(ks) + 1})
    coef, se = fit.params[1:], fit.bse[1:]
    ci = fit.conf_int()[1:]
    weights = np.r_[0.0, np.ones(len(ks))]
    total = fit.t_test(weights)
    lag_coord = ("lag", np.array([k * bin_min for k in ks], float), {"units": "min", "long_name": "lag (driver leads)"})
    return xr.Dataset(
        {
            "coef": ("lag", coef, {"long_name": "distributed-lag coefficient"}),
            "stderr": ("lag", se, {"long_name": "HAC standard error"}),
            "ci_low": ("lag", ci[:, 0]),
            "ci_high": ("lag", ci[:, 1]),
        },
        coords={"lag": lag_coord},
        attrs={
            "total_effect": float(np.squeeze(total.effect)),
            "total_stderr": float(np.squeeze(total.sd)),
            "r2": float(fit.rsquared),
            "n_rows": int(ok.sum()),
            "bin_min": bin_min,
            "driver": str(driver.name),
            "response": str(response.name),
        },
    )
