"""Synthetic OMNI-like solar wind and the auroral activity it drives (with a planted delay)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from aurora_sw.solarwind.coupling import newell_coupling
from aurora_sw.times import naive_utc

# OMNI HRO fill values, as in the real CDFs.
OMNI_FILLS = {
    "bz_gsm": 9999.99,
    "by_gsm": 9999.99,
    "bx_gse": 9999.99,
    "vsw": 99999.9,
    "density": 999.99,
    "pressure": 99.99,
    "ae": 99999,
    "sym_h": 99999,
}
SOLAR_ROTATION_DAYS = 27.0
NEWELL_SCALE = 1.0e4  # typical active-time Newell value, (km/s)^(4/3) nT^(2/3)


def _ou(rng: np.random.Generator, n: int, tau_min: float, sigma: float) -> np.ndarray:
    """Ornstein-Uhlenbeck (AR(1)) series at 1-min steps: correlation time ``tau_min``, std ``sigma``."""
    phi = np.exp(-1.0 / tau_min)
    eps = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sigma)
    # A linear recursion; scipy's lfilter does it in C.
    from scipy.signal import lfilter

    out[1:] = lfilter([1.0], [1.0, -phi], eps[1:], zi=[phi * out[0]])[0]
    return out


def _events(rng: np.random.Generator, n: int, rate_per_day: float, median_min: float, amp: tuple[float, float]) -> np.ndarray:
    """Sum of smooth-edged box events (e.g. southward IMF turnings) of random length and amplitude."""
    out = np.zeros(n)
    n_events = rng.poisson(rate_per_day * n / 1440.0)
    t = np.arange(n)
    for start in rng.uniform(0, n, n_events):
        length = rng.lognormal(np.log(median_min), 0.5)
        a = rng.uniform(*amp)
        ramp = 8.0
        rise = expit((t - start) / ramp)
        fall = expit(-(t - start - length) / ramp)
        out += a * rise * fall
    return out


def _high_speed_streams(minutes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two recurrent coronal-hole streams per 27-day rotation: fast rise, 3-4 day decay (km/s)."""
    day = minutes / 1440.0
    phase = np.mod(day, SOLAR_ROTATION_DAYS)
    v = np.zeros_like(day)
    for onset, peak in ((rng.uniform(0, 8), rng.uniform(200, 320)), (rng.uniform(13, 20), rng.uniform(120, 220))):
        dt = np.mod(phase - onset, SOLAR_ROTATION_DAYS)
        v += peak * (1 - np.exp(-dt / 0.4)) * np.exp(-dt / 3.5)
    return v


def synthetic_solar_wind(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 0,
    gap_rate_per_day: float = 1.5,
) -> xr.Dataset:
    """OMNI-like 1-min solar wind at the bow-shock nose, gap-free ``*_true`` and gapped observed.

    Parameters
    ----------
    start, end
        UTC span (end exclusive), 1-min cadence.
    seed
        Random seed; the same seed gives the same series.
    gap_rate_per_day
        Mean number of data gaps a day (lengths 5-180 min), as OMNI has.

    Returns
    -------
    xarray.Dataset
        On ``time`` (UTC): ``bz_gsm``, ``by_gsm``, ``bx_gse`` (nT), ``vsw`` (km/s), ``density``
        (cm^-3), ``pressure`` (nPa) with NaN in gaps, and the same without gaps as ``*_true``.
        The solar rotation phase is anchored at the Unix epoch so that the 27-day streams recur
        across calls with the same seed.
    """
    rng = np.random.default_rng([seed, 27])
    time = pd.date_range(naive_utc(start), naive_utc(end), freq="1min", inclusive="left")
    n = len(time)
    minutes = (time - pd.Timestamp("1970-01-01")).total_seconds().to_numpy() / 60.0
    bz = _ou(rng, n, 90, 2.5) - _events(rng, n, 3.0, 80, (3.0, 11.0)) + _events(rng, n, 1.5, 90, (2.0, 6.0))
    by = _ou(rng, n, 180, 3.5)
    bx = _ou(rng, n, 240, 3.0)
    v = 360.0 + _high_speed_streams(minutes, np.random.default_rng([seed, 1])) + _ou(rng, n, 360, 25.0)
    density = np.clip(5.0 * (400.0 / v) ** 2 * np.exp(_ou(rng, n, 240, 0.35)), 0.3, None)
    pressure = 1.6726e-6 * density * v**2
    true = {"bz_gsm": bz, "by_gsm": by, "bx_gse": bx, "vsw": v, "density": density, "pressure": pressure}

    observed = {k: x.copy() for k, x in true.items()}
    for group in (("bz_gsm", "by_gsm", "bx_gse"), ("vsw", "density", "pressure")):
        for g_start in rng.uniform(0, n, rng.poisson(gap_rate_per_day * n / 1440.0)):
            length = int(rng.uniform(5, 180))
            sl = slice(int(g_start), int(g_start) + length)
            for k in group:
                observed[k][sl] = np.nan

    attrs = {
        "bz_gsm": ("nT", "IMF Bz (GSM)"),
        "by_gsm": ("nT", "IMF By (GSM)"),
        "bx_gse": ("nT", "IMF Bx (GSE)"),
        "vsw": ("km/s", "solar wind flow speed"),
        "density": ("cm^-3", "proton density"),
        "pressure": ("nPa", "flow pressure"),
    }
    data_vars = {}
    for k, (units, long_name) in attrs.items():
        data_vars[k] = ("time", observed[k], {"units": units, "long_name": long_name})
        data_vars[f"{k}_true"] = ("time", true[k], {"units": units, "long_name": f"{long_name}, gap-free truth"})
    return xr.Dataset(data_vars, coords={"time": time.to_numpy()}, attrs={"source": "aurora_sw.synthetic", "seed": seed})


def aurora_activity(
    sw: xr.Dataset,
    delay_min: float = 45.0,
    seed: int = 0,
    smooth_min: int = 15,
    noise: float = 0.12,
) -> xr.DataArray:
    """Auroral activity driven by the Newell coupling ``delay_min`` minutes earlier, plus noise.

    ``activity(t) = mean_{|s| <= smooth/2} N(t - delay + s) / 1e4 + AR(1) noise``, computed from
    the gap-free solar wind. The centred smoothing window keeps the cross-correlation peak at
    exactly ``delay_min``: this is the delay the lag analysis must recover.

    Returns
    -------
    xarray.DataArray
        Dimensionless activity on ``time`` (about 0 quiet, 1 active, >2 storm), with attrs
        ``planted_delay_min``.
    """
    n = sw.sizes["time"]
    drive = newell_coupling(sw["vsw_true"].values, sw["by_gsm_true"].values, sw["bz_gsm_true"].values) / NEWELL_SCALE
    kernel = np.ones(smooth_min) / smooth_min
    drive = np.convolve(np.pad(drive, smooth_min, mode="edge"), kernel, mode="same")[smooth_min:-smooth_min]
    d = int(round(delay_min))
    delayed = np.concatenate([np.full(d, drive[0]), drive[: n - d]]) if d > 0 else drive
    rng = np.random.default_rng([seed, 45])
    act = np.clip(delayed + _ou(rng, n, 30, noise), 0.0, None)
    return xr.DataArray(
        act,
        coords={"time": sw["time"].values},
        dims="time",
        name="activity",
        attrs={"units": "1", "long_name": "synthetic auroral activity", "planted_delay_min": float(delay_min)},
    )


def synthetic_kp(sw: xr.Dataset) -> pd.Series:
    """3-hourly Kp (0..9 in thirds) from the mean Newell coupling of each 3-h interval."""
    drive = pd.Series(
        newell_coupling(sw["vsw_true"].values, sw["by_gsm_true"].values, sw["bz_gsm_true"].values),
        index=pd.DatetimeIndex(sw["time"].values),
    )
    mean3h = drive.resample("3h").mean()
    kp = np.clip(1.0 + 2.2 * np.log1p(mean3h / 3000.0) ** 1.3, 0.0, 9.0)
    return (np.round(kp * 3) / 3).rename("kp")
