"""Figures of the analyses (matplotlib, written as PNG/SVG): the pictures people look at first."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.analysis.lag import format_global_p


def _figure(width: float = 7.0, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), constrained_layout=True)


def _save(fig, path: str | os.PathLike | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig


def plot_lagged_correlation(ds: xr.Dataset, path: str | os.PathLike | None = None):
    """r against lag with the autocorrelation-aware 95 % band and the peak lag's CI."""
    fig, ax = _figure()
    a = ds.attrs
    ax.plot(ds["lag"], ds["r"], color="#1b9e77", lw=1.8, label="r")
    ax.fill_between(ds["lag"], -ds["r_crit"], ds["r_crit"], color="0.85", label="95 % band (effective N)")
    if np.isfinite(a.get("peak_lag_ci_low", np.nan)):
        ax.axvspan(a["peak_lag_ci_low"], a["peak_lag_ci_high"], color="#d95f02", alpha=0.2, label="peak-lag 95 % CI")
    ax.axvline(a["peak_lag_min"], color="#d95f02", lw=1)
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xlabel("lag (min; positive: solar wind leads)")
    ax.set_ylabel(f"{a.get('method', 'pearson')} r")
    if a.get("peak_lag_ci_unbounded"):
        verdict = "no well-defined peak"
    elif np.isfinite(a.get("peak_p_value_global", np.nan)):
        p_text = format_global_p(a["peak_p_value_global"], a.get("n_surrogates", 0))  # the best of all lags, not one chosen in advance
        verdict = f"global p {p_text.replace('<=', '≤')}" if p_text.startswith("<") else f"global p = {p_text}"
    else:
        verdict = f"p = {a['peak_p_value']:.1g} at that lag"
    ax.set_title(f"{a.get('driver')} -> {a.get('response')}: peak {a['peak_lag_min']:.0f} min, r = {a['peak_r']:.2f}, {verdict}")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_scatter_at_lag(driver: xr.DataArray, response: xr.DataArray, lag_min: float, path: str | os.PathLike | None = None):
    """Response(t + lag) against driver(t) at one lag, with the binned median."""
    from aurora_sw.analysis.lag import pairs_at_lag

    xs, ys = pairs_at_lag(driver, response, lag_min)
    fig, ax = _figure(5.5, 4.5)
    ax.scatter(xs, ys, s=3, alpha=0.25, color="#7570b3")
    if len(xs) > 20:
        edges = np.percentile(xs, np.linspace(0, 100, 11))
        mids, meds = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (xs >= lo) & (xs <= hi)
            if sel.any():
                mids.append(np.median(xs[sel]))
                meds.append(np.median(ys[sel]))
        ax.plot(mids, meds, "o-", color="#d95f02", label="decile medians")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"{driver.name} ({driver.attrs.get('units', '')}) at t")
    ax.set_ylabel(f"{response.name} at t + {lag_min:.0f} min")
    return _save(fig, path)


def plot_superposed_epoch(ds: xr.Dataset, path: str | os.PathLike | None = None):
    """Median and quartiles around the events, the random-epoch envelope, and events per bin."""
    fig, ax = _figure()
    e = ds["epoch"]
    scale, unit = (60.0, "h") if ds.attrs.get("bin_min", 1) >= 60 else (1.0, "min")
    t = e / scale
    ax.fill_between(t, ds["random_low"], ds["random_high"], color="0.85", label="random epochs (95 %)")
    ax.fill_between(t, ds["q25"], ds["q75"], color="#1b9e77", alpha=0.25, label="quartiles")
    ax.plot(t, ds["median"], color="#1b9e77", lw=1.8, label="median")
    ax.axvline(0, color="#d95f02", lw=1)
    ax.set_xlabel(f"time from event ({unit})")
    ax.set_ylabel(f"{ds.attrs.get('variable')}")
    ax.set_title(f"superposed epochs: {ds.attrs['n_events']} events")
    twin = ax.twinx()
    twin.plot(t, ds["n"], color="0.5", lw=0.8, ls=":")
    twin.set_ylabel("events per bin", color="0.5")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_recurrence(tables: dict[str, pd.DataFrame], autocorrelation: xr.Dataset | None = None, path: str | os.PathLike | None = None):
    """Recurrence charts side by side (one row per solar rotation, one column per day), and the
    daily autocorrelation with its significance band when given.

    ``tables`` maps a panel title (e.g. ``"aurora fraction"``, ``"Kp (daily mean)"``) to a
    :func:`aurora_sw.analysis.recurrence.recurrence_table`; grey cells are days without data.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(tables) + (autocorrelation is not None)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.6), constrained_layout=True, squeeze=False)
    cmaps = ["viridis", "magma", "cividis", "plasma"]
    for k, (ax, (title, table)) in enumerate(zip(axes[0], tables.items())):
        img = ax.imshow(np.ma.masked_invalid(table.to_numpy(float)), aspect="auto", cmap=cmaps[k % len(cmaps)], interpolation="nearest",
                        extent=(0.5, table.shape[1] + 0.5, table.index[-1] + 0.5, table.index[0] - 0.5))
        ax.set_facecolor("0.9")  # grey: no data that day
        ax.set_xlabel(f"day of the {table.attrs.get('rotation', '')} rotation")
        ax.set_ylabel(table.index.name.replace("_", " "))
        ax.set_title(title)
        ax.yaxis.get_major_locator().set_params(integer=True)
        fig.colorbar(img, ax=ax, shrink=0.8)
    if autocorrelation is not None:
        ax = axes[0][-1]
        d = autocorrelation["lag_days"]
        ax.fill_between(d, -autocorrelation["r_crit"], autocorrelation["r_crit"], color="0.85", label="95 % band (effective N)")
        ax.plot(d, autocorrelation["r"], color="#1b9e77", lw=1.6, label="r")
        ax.axvline(27, color="#d95f02", lw=1, ls="--", label="27 days")
        a = autocorrelation.attrs
        ax.set_title(f"daily autocorrelation: r(27 d) = {a['r_27d']:.2f}, p = {a['p_value_27d']:.1g}", fontsize=10)
        ax.set_xlabel("lag (days)")
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_occurrence(ds: xr.Dataset, path: str | os.PathLike | None = None, *, min_minutes: int = 30):
    """Occurrence heat map (rate per cell, observed minutes written in it; cells with fewer than
    ``min_minutes`` greyed out) and, when the first quantity is MLT, the MLT dial: midnight at the
    bottom, noon at the top, the second quantity outwards."""
    first, second = ds["rate"].dims
    rate = ds["rate"].where(ds["minutes"] >= min_minutes)
    dial = first == "mlt"
    fig, ax = _figure(12.0 if dial else 7.0, 4.8)
    if dial:
        fig.clf()
        ax = fig.add_subplot(1, 2, 1)
        polar = fig.add_subplot(1, 2, 2, projection="polar")
    im = ax.imshow(rate.values.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=max(0.05, float(np.nanmax(rate.values)) if np.isfinite(rate.values).any() else 1.0))
    for i in range(ds.sizes[first]):
        for j in range(ds.sizes[second]):
            n = int(ds["minutes"].values[i, j])
            if n:
                ax.text(i, j, str(n), ha="center", va="center", fontsize=6, color="w" if n >= min_minutes else "0.5")
    ax.set_xticks(range(ds.sizes[first]), ds[first].values, fontsize=7)
    ax.set_yticks(range(ds.sizes[second]), ds[second].values, fontsize=7)
    ax.set_xlabel(ds[first].attrs.get("long_name", first))
    ax.set_ylabel(ds[second].attrs.get("long_name", second))
    ax.set_title(f"aurora occurrence (numbers: observed minutes; grey: < {min_minutes})", fontsize=9)
    fig.colorbar(im, ax=ax, label="fraction of observed minutes with aurora")
    if dial:
        theta = (np.arange(ds.sizes[first] + 1) / ds.sizes[first]) * 2 * np.pi - np.pi / 2  # MLT 0 at the bottom
        radius = np.arange(ds.sizes[second] + 1)
        polar.pcolormesh(theta, radius, rate.values.T, cmap="viridis", vmin=im.norm.vmin, vmax=im.norm.vmax, shading="flat")
        polar.set_xticks(np.radians([270, 0, 90, 180]), ["00", "06", "12", "18"])
        polar.set_yticks(np.arange(ds.sizes[second]) + 0.5, ds[second].values, fontsize=6)
        polar.set_title(f"MLT dial ({second} outwards)", fontsize=9)
    return _save(fig, path)
