"""How the aurora index follows the solar wind: the lagged correlation, asked one way everywhere.

``aurora-sw correlate``, the Explorer's Correlations page and the demo call :func:`correlate`, so
the same index, drivers, lags and conditions give the same peak lag and CI on every face.

The choices made once, here:

- **Peak rule: largest |r|** (``PEAK_RULE``). It is the only rule that needs no sign known in
  advance: the aurora follows Newell's coupling with r > 0 but the IMF Bz with r < 0 (southward
  field drives it), and the default drivers are both. A max-r rule finds Bz's weak positive side
  lobe instead of its response; the surrogate test uses the same |r| score, so the global p-value
  stays honest for "the best of all lags, either sign".
- **500 block-bootstrap replicates** (``N_BOOT``) for the peak-lag CI: 2.5 % percentiles are
  stable to a minute with 500 (12 replicates beyond each end), and it takes well under a second
  for four nights and 241 lags.
- **The driver is smoothed on its full series, then cut** to the span that can pair with the index
  at the lags asked for, so the result does not depend on how much solar wind a face happened to
  load (the decorrelation factor and the surrogates would).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.analysis.lag import METHODS, lagged_correlation, pairs_at_lag, peak_summary
from aurora_sw.analysis.merge import condition_mask, running_mean
from aurora_sw.errors import AuroraSWError

__all__ = ["CorrelationResult", "DEFAULT_DRIVERS", "DEFAULT_LAGS", "N_BOOT", "PEAK_RULE", "correlate", "solar_wind_span"]

DEFAULT_DRIVERS: tuple[str, ...] = ("newell", "bz_gsm")
DEFAULT_LAGS = range(-120, 241)
PEAK_RULE = "abs"
N_BOOT = 500
N_SURROGATES = 500


def _lag_bounds(lags: Iterable[float]) -> tuple[float, float]:
    values = np.asarray(list(lags), float)
    if values.size == 0:
        raise AuroraSWError("correlate: no lags to scan: give at least one lag in minutes, e.g. range(-120, 241)")
    return float(values.min()), float(values.max())


def solar_wind_span(index_times: pd.DatetimeIndex, lags: Sequence[float] = DEFAULT_LAGS, smooth_min: int = 0) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The solar-wind times :func:`correlate` needs for an index spanning ``index_times``.

    Positive lags pair the index with earlier solar wind, negative lags with later; a running
    mean needs half its window beyond both ends. UTC, inclusive.
    """
    first, last = _lag_bounds(lags)
    half = pd.Timedelta(minutes=smooth_min // 2 + 1 if smooth_min else 0)
    return (index_times.min() - pd.Timedelta(minutes=max(last, 0)) - half,
            index_times.max() + pd.Timedelta(minutes=max(-first, 0)) + half)


@dataclass(frozen=True)
class CorrelationResult:
    """What :func:`correlate` found, for every driver against one index response.

    Attributes
    ----------
    response
        The index variable, masked to the sky conditions (NaN elsewhere, never dropped).
    drivers
        The solar-wind drivers as correlated (running mean applied, cut to the pairing span).
    lags
        Driver name -> the :func:`aurora_sw.analysis.lag.lagged_correlation` Dataset (on ``lag``,
        minutes; positive: solar wind leads), its attrs extended with ``sky_conditions``,
        ``smooth_min`` and, when run, ``granger_f``/``granger_p``.
    conditions, smooth_min
        The sky conditions kept and the driver's running mean (minutes; 0: none).
    """

    response: xr.DataArray
    drivers: xr.Dataset
    lags: Mapping[str, xr.Dataset]
    conditions: tuple[str, ...]
    smooth_min: int

    def peak_lag(self, driver: str) -> float:
        """The peak lag of ``driver`` in minutes."""
        return float(self.lags[driver].attrs["peak_lag_min"])

    def peak_lag_ci(self, driver: str) -> tuple[float, float]:
        """The bootstrap CI of ``driver``'s peak lag in minutes (NaN without bootstrap)."""
        a = self.lags[driver].attrs
        return float(a["peak_lag_ci_low"]), float(a["peak_lag_ci_high"])

    def summary(self, driver: str) -> str:
        """One line that can be quoted as it is: :func:`peak_summary`, plus Granger's p when run."""
        res = self.lags[driver]
        line = peak_summary(res)
        if "granger_p" in res.attrs:
            line += f"  Granger p = {res.attrs['granger_p']:.2g}"
        return line

    def pairs_at_peak(self, driver: str) -> tuple[np.ndarray, np.ndarray]:
        """The (driver at t, response at t + peak lag) pairs behind the peak r, for a scatter plot."""
        return pairs_at_lag(self.drivers[driver], self.response, self.peak_lag(driver))

    def write(self, out: str | Path) -> list[Path]:
        """Save each driver's result as ``lag_DRIVER_RESPONSE.nc`` with its CCF plot, and the scatter
        at the peak lag as ``scatter_DRIVER_RESPONSE.png``, in ``out``; returns the NetCDF paths."""
        from aurora_sw.analysis.plots import plot_lagged_correlation, plot_scatter_at_lag

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, res in self.lags.items():
            stem = f"lag_{name}_{self.response.name}"
            res.to_netcdf(out / f"{stem}.nc")
            plot_lagged_correlation(res, out / f"{stem}.png")
            plot_scatter_at_lag(self.drivers[name], self.response, self.peak_lag(name), out / f"scatter_{name}_{self.response.name}.png")
            written.append(out / f"{stem}.nc")
        return written


def correlate(
    index: xr.Dataset,
    solarwind: xr.Dataset,
    *,
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    response: str = "p_aurora",
    lags: Sequence[float] = DEFAULT_LAGS,
    conditions: Sequence[str] = (),
    smooth_min: int = 0,
    method: str = "pearson",
    peak: str = PEAK_RULE,
    n_boot: int = N_BOOT,
    n_surrogates: int = N_SURROGATES,
    granger: bool = True,
    seed: int = 0,
) -> CorrelationResult:
    """Lagged correlation of solar-wind drivers with an aurora-index response, with honest significance.

    Parameters
    ----------
    index
        The aurora index (``open_index(...)``): ``response`` and, with ``conditions``, ``sun_class``
        and ``moon_class`` on a UTC ``time``.
    solarwind
        The solar wind (UTC ``time``) with every driver; any span that covers
        :func:`solar_wind_span` (more is cut off, less leaves lags with fewer pairs, masked).
    drivers
        Solar-wind variables, each correlated separately.
    response
        Index variable.
    lags
        Lags in minutes, strictly increasing (positive: solar wind leads).
    conditions
        Sky conditions to keep (e.g. ``("Night", "NoMoon")``); other minutes of the response are NaN.
    smooth_min
        Centred running mean of the drivers in minutes (0: none).
    method
        ``"pearson"`` or ``"spearman"``.
    peak
        What the peak maximises: ``"abs"`` (the rule, see the module), ``"max"`` or ``"min"``.
    n_boot, n_surrogates
        Block-bootstrap replicates (peak-lag CI) and phase-randomised drivers (global p-value).
    granger
        Also run a Granger test (HAC, 10-min bins) per driver.
    seed
        Seed of the bootstrap and the surrogates: the same seed gives the same result.

    Returns
    -------
    CorrelationResult

    Examples
    --------
    >>> res = correlate(open_index("index.zarr"), xr.open_dataset("solarwind.nc"), drivers=["newell"])  # doctest: +SKIP
    >>> res.peak_lag("newell"), res.peak_lag_ci("newell")  # doctest: +SKIP
    (46.0, (43.0, 50.0))
    """
    drivers = tuple(drivers)
    conditions = tuple(conditions)
    if not drivers:
        raise AuroraSWError("correlate: name at least one solar-wind driver, e.g. newell")
    if response not in index:
        raise AuroraSWError(f"correlate: the index has no variable {response!r}; it has {', '.join(map(str, index.data_vars))}")
    missing = [d for d in drivers if d not in solarwind]
    if missing:
        raise AuroraSWError(f"correlate: the solar wind has no {', '.join(map(repr, missing))}; it has {', '.join(map(str, solarwind.data_vars))}")
    if method not in METHODS:
        raise AuroraSWError(f"correlate: method {method!r}: use {' or '.join(METHODS)}")
    if smooth_min < 0:
        raise AuroraSWError(f"correlate: smooth_min {smooth_min}: the running mean needs a window of 1 minute or more (0: none)")
    y = index[response].where(condition_mask(index, list(conditions))).load()
    sw = solarwind[list(drivers)]
    if smooth_min:
        sw = running_mean(sw, smooth_min)
    start, end = solar_wind_span(pd.DatetimeIndex(index["time"].values), lags, smooth_min)
    sw = sw.sel(time=slice(start, end)).load()
    results = {}
    for name in drivers:
        res = lagged_correlation(sw[name], y, lags=lags, method=method, n_boot=n_boot, peak=peak, n_surrogates=n_surrogates, seed=seed)
        res.attrs.update(sky_conditions=",".join(conditions) or "all", smooth_min=int(smooth_min))
        if granger:
            from aurora_sw.analysis.causality import granger_test

            g = granger_test(sw[name], y)
            res.attrs.update(granger_f=g["f_stat"], granger_p=g["p_value"])
        results[name] = res
    return CorrelationResult(response=y, drivers=sw, lags=results, conditions=conditions, smooth_min=int(smooth_min))
