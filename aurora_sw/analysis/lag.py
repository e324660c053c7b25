"""Time-lagged correlation with honest significance.

Convention: ``r`` at lag ``L`` correlates ``driver(t)`` with ``response(t + L)``, so a positive
lag means the driver (the solar wind) leads the response (the aurora).

How it is computed: both series are put on one regular grid, gaps are NaN, and for every lag
the six sums of a pairwise-complete Pearson correlation (n, Sx, Sy, Sxx, Syy, Sxy) are formed
as cross-correlations by FFT, separately for each block of response time. Summing the blocks
gives ``r`` at every lag in O(n log n); resampling the blocks with replacement (block bootstrap)
gives the sampling distribution of the peak lag at the cost of one matrix product.

Significance accounts for autocorrelation through the effective sample size
N_eff = N / (1 + 2 sum_k rho_x(k) rho_y(k)) (Bartlett 1935; Bretherton et al. 1999, J. Climate 12,
whose eq. 31, N (1 - r1x r1y) / (1 + r1x r1y), is the AR(1) case). The full sum matters for minute
data: a smoothed series has a lag-1 autocorrelation near 1 but a memory of tens of minutes, and
the AR(1) form would count a few independent pairs in a night. Naive p-values (N pairs) are given
beside them for comparison.

What a scan over many lags can and cannot claim:

- A lag with few pairs gives any r it likes (r = -1 from 31 pairs is easy), so lags with fewer
  than ``max(min_pairs, min_pairs_fraction x`` the pairs of the best-covered lag``)`` pairs, or an
  effective sample size below ``min_n_eff``, are masked: r and its p-values are NaN there, and the
  result says how many were masked and why.
- The per-lag p-value is that of a lag chosen in advance. The peak is the best of many lags, so
  its global p-value is the rank of the observed peak score among the peak scores (over the same
  lags) of drivers that keep the driver's power spectrum but not its timing: phase-randomised
  surrogates (Theiler et al. 1992, Physica D 58, 77; Ebisuzaki 1997, J. Climate 10, 2147), all
  correlated at once by FFT.
- When the bootstrap CI of the peak lag covers more than half of the lags scanned, the scan has
  not found a lag: ``peak_lag_ci_unbounded`` is 1 and the faces say "no well-defined peak"
  instead of giving a p-value.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import xarray as xr
from scipy import fft as sfft
from scipy import stats

from aurora_sw.errors import AuroraSWError

_SUMS = ("n", "sx", "sy", "sxx", "syy", "sxy")
METHODS = ("pearson", "spearman")
PEAKS = ("abs", "max", "min")
# A peak-lag CI wider than this fraction of the lags scanned does not locate a lag.
UNBOUNDED_CI_FRACTION = 0.5
# Surrogates and bootstrap replicates are processed in chunks of about this many float64 values:
# memory stays near 100 MB whatever the number of lags or the series' length.
_CHUNK_VALUES = 2**21


def align_on_grid(driver: xr.DataArray, response: xr.DataArray, step: pd.Timedelta | None = None) -> tuple[np.ndarray, np.ndarray, pd.Timedelta]:
    """Both series on one regular time grid (NaN where missing); the step defaults to the response's."""
    for name, da in (("driver", driver), ("response", response)):
        if "time" not in da.dims or da.ndim != 1:
            raise AuroraSWError(f"lagged_correlation: {name} must be a 1-D DataArray on 'time'")
    t_d = pd.DatetimeIndex(driver["time"].values)
    t_r = pd.DatetimeIndex(response["time"].values)
    if step is None:
        # Timedelta differences, whatever the datetime unit (pandas 3 keeps s/ms/us/ns).
        diffs = t_r.to_series().diff().dropna()
        diffs = diffs[diffs > pd.Timedelta(0)]
        step = diffs.median() if len(diffs) else pd.Timedelta(minutes=1)
    start = min(t_d.min(), t_r.min()).floor(step)
    end = max(t_d.max(), t_r.max()).ceil(step)
    grid = pd.date_range(start, end, freq=step)
    def on_grid(da: xr.DataArray) -> np.ndarray:
        s = da.to_series()
        if not s.index.is_unique:
            s = s.groupby(level=0).mean()
        return s.reindex(grid, method="nearest", tolerance=step / 2).to_numpy(float)

    return on_grid(driver), on_grid(response), step


def _ranks(a: np.ndarray) -> np.ndarray:
    out = np.full_like(a, np.nan)
    ok = np.isfinite(a)
    out[ok] = stats.rankdata(a[ok])
    return out


def _block_sums(x: np.ndarray, y: np.ndarray, lag_steps: np.ndarray, block: int) -> np.ndarray:
    """Per-block lagged sums, shape (6, n_blocks, n_lags): pairs (x[t - L], y[t]), t in the block."""
    n = len(y)
    lmin, lmax = int(lag_steps.min()), int(lag_steps.max())
    span = lmax - lmin
    k_blocks = -(-n // block)
    mx, my = np.isfinite(x).astype(float), np.isfinite(y).astype(float)
    x0 = np.where(mx > 0, x, 0.0)
    y0 = np.where(my > 0, y, 0.0)
    nfft = sfft.next_fast_len(block + span, real=True)

    def windows(a: np.ndarray) -> np.ndarray:
        # A_k[i] = a[k*block - lmax + i], zero outside the series.
        pad_front = max(lmax, 0)
        pad_back = k_blocks * block + max(-lmin, 0) + span + 1
        ap = np.concatenate([np.zeros(pad_front), a, np.zeros(pad_back)])
        start = pad_front - lmax
        view = np.lib.stride_tricks.sliding_window_view(ap[start:], block + span)
        return view[: k_blocks * block : block]

    def blocks(b: np.ndarray) -> np.ndarray:
        return np.concatenate([b, np.zeros(k_blocks * block - n)]).reshape(k_blocks, block)

    fa = {name: sfft.rfft(windows(a), nfft, axis=1) for name, a in (("mx", mx), ("x0", x0), ("x2", x0 * x0))}
    fb = {name: np.conj(sfft.rfft(blocks(b), nfft, axis=1)) for name, b in (("my", my), ("y0", y0), ("y2", y0 * y0))}
    pairs = (("mx", "my"), ("x0", "my"), ("mx", "y0"), ("x2", "my"), ("mx", "y2"), ("x0", "y0"))
    m_index = lmax - lag_steps  # correlation index m = lmax - L
    out = np.empty((6, k_blocks, len(lag_steps)))
    for i, (a, b) in enumerate(pairs):
        corr = sfft.irfft(fa[a] * fb[b], nfft, axis=1)
        out[i] = corr[:, m_index]
    out[0] = np.round(out[0])  # pair counts are integers
    return out


def _pearson_from_sums(s: np.ndarray) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy = s
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sy
        vx = n * sxx - sx * sx
        vy = n * syy - sy * sy
        r = cov / np.sqrt(vx * vy)
    return np.where(n >= 3, np.clip(r, -1.0, 1.0), np.nan)


#: Autocorrelation lags tried first by :func:`decorrelation_factor` (a week of minutes).
_SHORT_ACF_LAGS = 10_080


def decorrelation_factor(x: np.ndarray, y: np.ndarray) -> float:
    """How many pairs of ``x`` and ``y`` carry one independent pair's information.

    ``1 + 2 sum_k rho_x(k) rho_y(k)`` over lags k = 1, 2, ... (Bartlett 1935; Bretherton et al.
    1999, whose eq. 31 is its AR(1) case), the autocorrelations taken pairwise over the valid
    samples of the regular grid. The sum stops where either autocorrelation first drops to zero
    (or has no pairs): beyond that the estimates are noise, or a recurrence (a daily cycle across
    the day gaps, a 27-day rotation) that is not memory. Per series, not on the product: for a
    series with itself the product is a square and never turns negative.
    """
    for a in (x, y):
        if (np.isfinite(a[:-1]) & np.isfinite(a[1:])).sum() < 3:
            raise AuroraSWError("fewer than 3 consecutive valid samples: cannot estimate the autocorrelation")
    longest = max(len(x) // 2, 2)
    # The sum ends at the first zero of either autocorrelation, so the lags up to it are all it needs:
    # try a short range first (the FFTs are then the series' length, not 1.5 times it) and take
    # every lag only when neither autocorrelation has reached zero within it. The result is the same.
    for last in sorted({min(_SHORT_ACF_LAGS, longest), longest}):
        ks = np.arange(1, last)
        products = np.ones(len(ks))
        ended = False
        for a in (x, y):
            rho = _lagged_r_of_rows(a[None, :], a, ks)[0]
            zero = np.flatnonzero(~(rho > 0))
            ended |= bool(zero.size)
            products[zero[0] if zero.size else len(ks) :] = 0.0
            products *= np.nan_to_num(rho)
        if ended:
            break
    return float(1 + 2 * products.sum())


def effective_sample_size(n: np.ndarray | float, factor: float) -> np.ndarray:
    """``n`` pairs over the :func:`decorrelation_factor`, at least 3."""
    return np.maximum(np.asarray(n, float) / factor, 3.0)


def correlation_p_value(r: np.ndarray, n_eff: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a correlation ``r`` with ``n_eff`` independent pairs (t test)."""
    df = np.maximum(n_eff - 2, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * np.sqrt(df / np.maximum(1 - r**2, 1e-300))
    return 2 * stats.t.sf(np.abs(t), df)


def _score(r: np.ndarray, peak: str) -> np.ndarray:
    """What the peak maximises: |r|, r or -r."""
    return {"abs": np.abs(r), "max": r, "min": -r}[peak]


def phase_randomised(x: np.ndarray, n_surrogates: int, rng: np.random.Generator) -> np.ndarray:
    """Surrogates of ``x`` with its power spectrum and uniformly random Fourier phases.

    They keep ``x``'s autocorrelation (its periodogram exactly) and lose any timing relation to
    another series: the null hypothesis of Ebisuzaki (1997). Gaps (NaN) are filled with the mean
    for the transform and put back in every surrogate, so a lag scan over the surrogates sees the
    pair counts of the data.

    Parameters
    ----------
    x
        A series on a regular grid; NaN are gaps.
    n_surrogates
        How many surrogates.
    rng
        The random generator (a seeded one for reproducible runs).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_surrogates, len(x))``, NaN where ``x`` is NaN.
    """
    ok = np.isfinite(x)
    mean = x[ok].mean()
    amplitude = np.abs(sfft.rfft(np.where(ok, x - mean, 0.0)))
    phases = rng.uniform(0.0, 2 * np.pi, (n_surrogates, len(amplitude)))
    phases[:, 0] = 0.0  # the mean has no phase
    if len(x) % 2 == 0:
        phases[:, -1] = np.pi * rng.integers(0, 2, n_surrogates)  # the Nyquist term must stay real
    out = sfft.irfft(amplitude * np.exp(1j * phases), len(x), axis=1) + mean
    out[:, ~ok] = np.nan
    return out


def _in_rank_order(surrogates: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The values of ``x`` rearranged into each surrogate's order (Spearman: surrogates of ranks are ranks)."""
    ok = np.isfinite(x)
    order = np.argsort(surrogates[:, ok], axis=1)
    values = np.empty((len(surrogates), int(ok.sum())))
    np.put_along_axis(values, order, np.broadcast_to(np.sort(x[ok]), values.shape), axis=1)
    surrogates[:, ok] = values
    return surrogates


def _lagged_sums_of_rows(xs: np.ndarray, y: np.ndarray, lag_steps: np.ndarray) -> tuple[np.ndarray, ...]:
    """The six lagged sums (n, Sx, Sy, Sxx, Syy, Sxy) of every row of ``xs`` (drivers sharing one
    gap pattern) with ``y``, pairs (x[t - L], y[t]), from whole-series FFT cross-correlations (no
    blocks): each of shape ``(len(xs), len(lag_steps))``.
    """
    n = xs.shape[1]
    nfft = sfft.next_fast_len(n + int(np.abs(lag_steps).max()) + 1, real=True)
    k = lag_steps % nfft  # irfft(conj(A) B)[k] = sum_t a[t] b[t + k]: lag k, negative lags wrap
    mx = np.isfinite(xs[0]).astype(float)
    my = np.isfinite(y).astype(float)
    y0 = np.where(my > 0, y, 0.0)
    x0 = np.where(np.isfinite(xs), xs, 0.0)
    f_my, f_y0 = sfft.rfft(my, nfft), sfft.rfft(y0, nfft)
    f_x0 = np.conj(sfft.rfft(x0, nfft, axis=1))
    f_x2 = np.conj(sfft.rfft(x0 * x0, nfft, axis=1))

    def lagged(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
        return sfft.irfft(fa * fb, nfft, axis=-1)[..., k]

    # The gaps are the data's in every row, so n, Sy and Syy are computed once.
    f_mx = np.conj(sfft.rfft(mx, nfft))
    n_pairs = np.broadcast_to(np.round(lagged(f_mx, f_my)), (len(xs), len(k)))
    s_y = np.broadcast_to(lagged(f_mx, f_y0), (len(xs), len(k)))
    s_yy = np.broadcast_to(lagged(f_mx, sfft.rfft(y0 * y0, nfft)), (len(xs), len(k)))
    return n_pairs, lagged(f_x0, f_my), s_y, lagged(f_x2, f_my), s_yy, lagged(f_x0, f_y0)


def _lagged_r_of_rows(xs: np.ndarray, y: np.ndarray, lag_steps: np.ndarray) -> np.ndarray:
    """Pearson r of every row of ``xs`` (drivers sharing one gap pattern) with ``y`` at every lag:
    shape ``(len(xs), len(lag_steps))``."""
    return _pearson_from_sums(_lagged_sums_of_rows(xs, y, lag_steps))


def _surrogate_peak_scores(x: np.ndarray, y: np.ndarray, lag_steps: np.ndarray, peak: str, n_surrogates: int,
                           rng: np.random.Generator, ranks: bool) -> np.ndarray:
    """The peak score (max over ``lag_steps``) of each of ``n_surrogates`` phase-randomised drivers."""
    per_chunk = max(1, _CHUNK_VALUES // (len(x) + int(np.abs(lag_steps).max())))
    scores = []
    for start in range(0, n_surrogates, per_chunk):
        xs = phase_randomised(x, min(per_chunk, n_surrogates - start), rng)
        if ranks:
            xs = _in_rank_order(xs, x)
        s = _score(_lagged_r_of_rows(xs, y, lag_steps), peak)
        scores.append(np.where(np.isnan(s), -np.inf, s).max(axis=1))
    return np.concatenate(scores)


def _bootstrap_peak_lags(sums: np.ndarray, lags: np.ndarray, valid: np.ndarray, enough: Callable[[np.ndarray], np.ndarray],
                         peak: str, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Peak lag of each block-bootstrap replicate (blocks drawn with replacement), over the valid lags.

    A replicate's pair count at a lag varies with the blocks drawn, so the mask applies to each
    replicate again (``enough``): else a replicate finds its peak at a lag with a handful of pairs.
    """
    b = sums[:, sums[0].sum(axis=1) > 0, :]  # blocks with any pairs
    k = b.shape[1]
    weights = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(float)  # (n_boot, k)
    per_chunk = max(1, _CHUNK_VALUES // (6 * len(lags)))  # a 40001-lag scan must not need GBs
    peaks = []
    for start in range(0, n_boot, per_chunk):
        boot = np.einsum("bk,skl->sbl", weights[start : start + per_chunk], b)  # (6, chunk, n_lags)
        s = _score(_pearson_from_sums(boot), peak)
        ok = valid & enough(boot[0]) & np.isfinite(s)
        peaks.append(lags[np.argmax(np.where(ok, s, -np.inf), axis=1)])
    return np.concatenate(peaks)


def _checked_lags(lags: np.ndarray | range | slice) -> np.ndarray:
    """The lags as a float array, or an error that says what is wrong with them."""
    if isinstance(lags, slice):
        if lags.start is None or lags.stop is None:
            raise AuroraSWError(f"lagged_correlation: lags {lags} needs a start and a stop in minutes, e.g. slice(-120, 240)")
        step = 1 if lags.step is None else lags.step
        if step <= 0:
            raise AuroraSWError(f"lagged_correlation: lags {lags}: the step must be a positive number of minutes")
        lags = np.arange(lags.start, lags.stop + step, step)
    lags = np.asarray(list(lags), float)
    if lags.size == 0:
        raise AuroraSWError("lagged_correlation: no lags to scan: give at least one lag in minutes (a range's start must not exceed its stop)")
    if not np.all(np.isfinite(lags)) or np.any(np.diff(lags) <= 0):
        raise AuroraSWError(f"lagged_correlation: lags must be finite and strictly increasing minutes; got {lags[:5].tolist()}...")
    return lags


def lagged_correlation(
    driver: xr.DataArray,
    response: xr.DataArray,
    lags: np.ndarray | range | slice = range(-120, 241),
    method: str = "pearson",
    n_boot: int = 500,
    block_min: float = 180.0,
    peak: str = "abs",
    alpha: float = 0.05,
    seed: int = 0,
    step: pd.Timedelta | None = None,
    n_surrogates: int = 500,
    min_pairs: int = 30,
    min_pairs_fraction: float = 0.5,
    min_n_eff: float = 10.0,
) -> xr.Dataset:
    """Correlation of ``driver(t)`` with ``response(t + lag)`` over a range of lags.

    Parameters
    ----------
    driver, response
        1-D DataArrays on ``time`` (UTC). NaN are gaps; pairs are used where both exist.
    lags
        Lags in minutes (positive: driver leads), strictly increasing. Integers, or a slice
        ``start:stop:step`` (stop included).
    method
        ``"pearson"``, or ``"spearman"`` (Pearson of each series' ranks over its valid samples).
    n_boot
        Block-bootstrap replicates for the CI of the peak lag (0 to skip).
    block_min
        Bootstrap block length in minutes of response time; longer than the series' memory.
    peak
        ``"abs"`` (largest |r|), ``"max"`` or ``"min"``.
    alpha
        Significance level of the band and of the peak-lag CI (0.05 -> 95 %).
    seed
        Seed of the bootstrap and of the surrogates: the same seed gives the same result.
    step
        Grid step (default: the response's median time step).
    n_surrogates
        Phase-randomised drivers for the global p-value of the peak (0 to skip).
    min_pairs, min_pairs_fraction, min_n_eff
        A lag is masked (r = NaN) unless it has at least ``max(min_pairs, min_pairs_fraction x``
        the pairs at the best-covered lag``)`` pairs and an effective sample size of ``min_n_eff``.

    Returns
    -------
    xarray.Dataset
        On ``lag`` (minutes): ``r``, ``n_pairs``, ``n_eff``, ``p_value`` (autocorrelation-aware,
        for that lag alone), ``p_value_naive`` and ``r_crit`` (the two-sided band: |r| > r_crit
        is significant at that lag); all but ``n_pairs`` and ``n_eff`` are NaN at masked lags.
        Attributes: ``peak_lag_min``, ``peak_r``, ``peak_p_value`` and ``peak_p_value_naive`` (at
        the peak lag as if it had been chosen in advance), ``peak_p_value_global`` (the chance
        that a surrogate driver's best lag scores as high; at least ``1 / (n_surrogates + 1)``;
        NaN without surrogates), ``n_surrogates``, ``peak_lag_ci_low``/``high`` (NaN without
        bootstrap), ``peak_lag_ci_fraction`` (CI width over the span of unmasked lags) and
        ``peak_lag_ci_unbounded`` (1 when that exceeds ``UNBOUNDED_CI_FRACTION``: no
        well-defined peak), ``n_lags_masked``, ``min_pairs_used``, ``lag_mask`` (a sentence
        saying how many lags were masked and why), ``method``, ``convention``.

    Examples
    --------
    >>> ds = lagged_correlation(sw["newell"], index["p_aurora"], lags=range(-60, 181))  # doctest: +SKIP
    >>> ds.attrs["peak_lag_min"], ds.attrs["peak_p_value_global"]  # doctest: +SKIP
    (45.0, 0.002)
    """
    if method not in METHODS:
        raise AuroraSWError(f"lagged_correlation: method must be 'pearson' or 'spearman', not {method!r}")
    if peak not in PEAKS:
        raise AuroraSWError(f"lagged_correlation: peak must be one of {', '.join(PEAKS)}, not {peak!r}")
    if not 0 < alpha < 1:
        raise AuroraSWError(f"lagged_correlation: alpha must lie between 0 and 1 (0.05 for 95 %), not {alpha}")
    if n_boot < 0 or n_surrogates < 0 or block_min <= 0:
        raise AuroraSWError(f"lagged_correlation: n_boot ({n_boot}) and n_surrogates ({n_surrogates}) must be >= 0 and block_min ({block_min}) > 0")
    if min_pairs < 3 or not 0 <= min_pairs_fraction <= 1:
        raise AuroraSWError(f"lagged_correlation: min_pairs ({min_pairs}) must be >= 3 and min_pairs_fraction ({min_pairs_fraction}) within 0..1")
    lags = _checked_lags(lags)
    x, y, step = align_on_grid(driver, response, step)
    step_min = step.total_seconds() / 60.0
    lag_steps = np.round(lags / step_min).astype(int)
    if np.any(np.diff(lag_steps) <= 0):
        raise AuroraSWError(f"lagged_correlation: lags closer than the data's time step ({step_min:g} min) fall on the same step; use a lag step of {step_min:g} min or more")
    if method == "spearman":
        x, y = _ranks(x), _ranks(y)
    # Centre on the valid means: keeps the sums small and the FFT exact to ~1e-12.
    x = x - np.nanmean(x)
    y = y - np.nanmean(y)
    block = max(int(round(block_min / step_min)), 1)
    if n_boot > 0:  # the block bootstrap resamples per-block sums
        sums = _block_sums(x, y, lag_steps, block)
        total = sums.sum(axis=1)
    else:  # r alone: whole-series FFTs, no per-block sums (issue 17)
        total = np.stack([a[0] for a in _lagged_sums_of_rows(x[None, :], y, lag_steps)])
    n = total[0]
    if n.max() < 3:
        raise AuroraSWError("lagged_correlation: no overlapping data at any lag")
    r = _pearson_from_sums(total)
    factor = decorrelation_factor(x, y)
    n_eff = effective_sample_size(n, factor)

    need = max(min_pairs, int(np.ceil(min_pairs_fraction * n.max())))

    def enough(n_pairs: np.ndarray) -> np.ndarray:
        return (n_pairs >= need) & (effective_sample_size(n_pairs, factor) >= min_n_eff)

    valid = enough(n) & np.isfinite(r)
    n_masked = int((~valid).sum())
    mask_note = (
        f"{n_masked} of {len(lags)} lags masked (r = NaN): fewer than {need} pairs (at least {min_pairs}, and "
        f"{min_pairs_fraction:.0%} of the {int(n.max())} at the best-covered lag) or n_eff < {min_n_eff:g}"
    )
    if not valid.any():
        raise AuroraSWError(f"lagged_correlation: no lag has enough data: {mask_note}; use a longer series or a narrower lag range")
    r = np.where(valid, r, np.nan)
    p = correlation_p_value(r, n_eff)
    p_naive = correlation_p_value(r, n)
    tcrit = stats.t.ppf(1 - alpha / 2, np.maximum(n_eff - 2, 1))
    r_crit = np.where(valid, tcrit / np.sqrt(np.maximum(n_eff - 2, 1) + tcrit**2), np.nan)

    score = _score(r, peak)
    i_peak = int(np.nanargmax(score))
    attrs = {
        "method": method,
        "convention": "r(lag) = corr(driver(t), response(t + lag)); positive lag: driver leads",
        "peak": peak,
        "peak_lag_min": float(lags[i_peak]),
        "peak_r": float(r[i_peak]),
        "peak_p_value": float(p[i_peak]),
        "peak_p_value_naive": float(p_naive[i_peak]),
        "alpha": alpha,
        "block_min": float(block_min),
        "n_boot": int(n_boot),
        "n_lags_masked": n_masked,
        "min_pairs_used": int(need),
        "min_n_eff": float(min_n_eff),
        "lag_mask": mask_note,
    }
    rng = np.random.default_rng(seed)
    lo = hi = np.nan
    if n_boot > 0:
        peaks = _bootstrap_peak_lags(sums, lags, valid, enough, peak, n_boot, rng)
        lo, hi = np.percentile(peaks, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        attrs["n_blocks"] = int((sums[0].sum(axis=1) > 0).sum())
    span = lags[valid].max() - lags[valid].min()
    ci_fraction = (hi - lo) / span if span > 0 else np.nan
    attrs.update(
        peak_lag_ci_low=float(lo),
        peak_lag_ci_high=float(hi),
        peak_lag_ci_fraction=float(ci_fraction),
        peak_lag_ci_unbounded=int(bool(ci_fraction > UNBOUNDED_CI_FRACTION)),
    )
    p_global = np.nan
    if n_surrogates > 0:
        null = _surrogate_peak_scores(x, y, lag_steps[valid], peak, n_surrogates, rng, ranks=method == "spearman")
        p_global = (1 + np.count_nonzero(null >= score[i_peak])) / (n_surrogates + 1)
    attrs.update(peak_p_value_global=float(p_global), n_surrogates=int(n_surrogates),
                 surrogates="phase-randomised driver, same gaps (Ebisuzaki 1997)")
    ds = xr.Dataset(
        {
            "r": ("lag", r, {"units": "1", "long_name": f"{method} correlation (NaN: too few pairs)"}),
            "n_pairs": ("lag", n.astype(np.int64), {"units": "1", "long_name": "number of pairs"}),
            "n_eff": ("lag", n_eff, {"units": "1", "long_name": "effective sample size (Bretherton et al. 1999)"}),
            "p_value": ("lag", p, {"units": "1", "long_name": "two-sided p-value at this lag alone, autocorrelation-aware"}),
            "p_value_naive": ("lag", p_naive, {"units": "1", "long_name": "two-sided p-value assuming independent pairs"}),
            "r_crit": ("lag", r_crit, {"units": "1", "long_name": f"|r| above this is significant at {alpha} at this lag alone"}),
        },
        coords={"lag": ("lag", lags, {"units": "min", "long_name": "lag (positive: driver leads)"})},
        attrs=attrs,
    )
    for name, da in (("driver", driver), ("response", response)):
        ds.attrs[name] = str(da.name)
    return ds


def pairs_at_lag(driver: xr.DataArray, response: xr.DataArray, lag_min: float) -> tuple[np.ndarray, np.ndarray]:
    """The pairs behind ``r`` at one lag: ``driver(t)`` and ``response(t + lag_min)``, both finite.

    On the grid of :func:`align_on_grid` (so in minutes, never by position in a gappy series);
    positive ``lag_min``: the driver leads. Returns ``(x, y)``, equal-length arrays.
    """
    x, y, step = align_on_grid(driver, response)
    k = int(round(lag_min / (step.total_seconds() / 60)))
    xs, ys = (x[: len(x) - k], y[k:]) if k >= 0 else (x[-k:], y[: len(y) + k])
    ok = np.isfinite(xs) & np.isfinite(ys)
    return xs[ok], ys[ok]


def format_global_p(p: float, n_surrogates: int) -> str:
    """The global p-value as it can be quoted: ``<= 1/(n+1)`` when no surrogate reached the peak.

    With ``n`` surrogates the estimate ``(1 + k) / (1 + n)`` cannot go below ``1 / (1 + n)``; at that
    floor the honest statement is an upper bound, not a value.
    """
    if not np.isfinite(p):
        return "n/a"
    floor = 1.0 / (1 + n_surrogates)
    return f"<= {floor:.2g}" if p <= floor * (1 + 1e-9) else f"{p:.2g}"


def peak_summary(ds: xr.Dataset) -> str:
    """One line about the peak of a :func:`lagged_correlation` result that can be quoted as it is.

    The peak lag with its CI, r, the p-value at that lag (and the naive one) and the global
    p-value of the best of all lags scanned; or, when the CI spans most of the lags, that there
    is no well-defined peak, and no p-value.
    """
    a = ds.attrs
    level = f"{1 - a['alpha']:.0%}"
    ci = f"{level} CI {a['peak_lag_ci_low']:.0f}..{a['peak_lag_ci_high']:.0f}" if np.isfinite(a["peak_lag_ci_low"]) else "no CI: n_boot = 0"
    if a["peak_lag_ci_unbounded"]:
        return (f"no well-defined peak: the best lag, {a['peak_lag_min']:.0f} min (r = {a['peak_r']:+.3f}), has a {ci} "
                f"spanning {a['peak_lag_ci_fraction']:.0%} of the lags scanned; no p-value given")
    text = f"peak lag {a['peak_lag_min']:6.0f} min ({ci})  r = {a['peak_r']:+.3f}  p = {a['peak_p_value']:.2g} at this lag (naive {a['peak_p_value_naive']:.2g})"
    if a["n_surrogates"]:
        n_lags = ds.sizes["lag"] - a["n_lags_masked"]
        text += f", {format_global_p(a['peak_p_value_global'], a['n_surrogates'])} for the best of {n_lags} lags ({a['n_surrogates']} surrogates)"
    return text


def lagged_correlation_naive(driver: np.ndarray, response: np.ndarray, lag_steps: np.ndarray) -> np.ndarray:
    """Reference: shift, drop incomplete pairs and correlate, one lag at a time (slow, simple).

    ``driver`` and ``response`` are on the same regular grid; returns Pearson r per lag.
    """
    n = len(response)
    out = np.full(len(lag_steps), np.nan)
    for i, L in enumerate(lag_steps):
        if L >= 0:
            a, b = driver[: n - L], response[L:]
        else:
            a, b = driver[-L:], response[: n + L]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() >= 3:
            out[i] = np.corrcoef(a[ok], b[ok])[0, 1]
    return out
