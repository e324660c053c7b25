"""Keograms: the north-south meridian of every frame of a night, stacked in time (as asilib does)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.data import read_frame


def keogram(frames: pd.DataFrame, size: int = 180, width: int = 3, progress: bool = False) -> xr.DataArray:
    """A keogram from manifest rows (``time_utc``, ``path``) of one night.

    Each frame (north up) contributes its central column, averaged over ``width`` pixels, from
    the northern horizon through the zenith to the southern horizon. Unreadable frames are NaN.

    Returns
    -------
    xarray.DataArray
        ``time`` x ``meridian_angle`` x ``channel`` (R, G, B; DN), where ``meridian_angle`` runs
        from 0 deg (northern horizon) through 90 (zenith) to 180 (southern horizon).
    """
    if frames.empty:
        raise AuroraSWError("keogram: no frames")
    frames = frames.sort_values("time_utc")
    c0 = size // 2 - width // 2
    rows = np.full((len(frames), size, 3), np.nan, np.float32)
    for i, path in enumerate(tqdm(frames["path"], desc="keogram", unit="frame", disable=not progress)):
        try:
            rows[i] = read_frame(path, size)[:, c0 : c0 + width].mean(1)
        except OSError:
            continue
    angle = (np.arange(size) + 0.5) / size * 180.0
    times = pd.DatetimeIndex(pd.to_datetime(frames["time_utc"], utc=True)).tz_localize(None)
    return xr.DataArray(
        rows,
        dims=("time", "meridian_angle", "channel"),
        coords={"time": times.to_numpy(), "meridian_angle": ("meridian_angle", angle, {"units": "degree", "long_name": "0 north horizon, 90 zenith, 180 south horizon"}), "channel": ["R", "G", "B"]},
        name="keogram",
        attrs={"units": "DN", "long_name": "north-south keogram"},
    )


def plot_keogram(keo: xr.DataArray, path: str | os.PathLike | None = None):
    """The keogram as an image: time along x, north at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    img = np.nan_to_num(keo.transpose("meridian_angle", "time", "channel").values) / 255.0
    t = keo["time"].values
    fig, ax = plt.subplots(figsize=(9, 3.2), constrained_layout=True)
    ax.imshow(np.clip(img * 1.6, 0, 1), aspect="auto", extent=[mdates.date2num(t[0]), mdates.date2num(t[-1]), 180, 0])
    ax.xaxis_date()
    ax.set_yticks([0, 90, 180], ["N", "zenith", "S"])
    ax.set_xlabel("time (UTC)")
    ax.set_title("keogram")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
