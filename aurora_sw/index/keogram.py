"""Keograms: the north-south meridian of every frame of a night, stacked in time (as asilib does).

Two sources: :func:`keogram` decodes a night's frames (any resolution);
:func:`aurora_sw.index.store.open_keogram` reads the quick-look keogram
(:data:`~aurora_sw.index.schema.KEOGRAM_ROWS` rows)
that scoring stores with the index from the frames it decodes anyway, so an app can draw a night
without decoding a frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from aurora_sw.camera import read_square_frame
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import MERIDIAN_ANGLE_ATTRS


def meridian_strip(img: np.ndarray, rows: int, width: int = 3) -> np.ndarray:
    """The north-south meridian of a square frame (north up), as ``rows`` x 3 float32 (DN).

    The central ``width`` columns are averaged, then resampled (area average) to ``rows`` pixels
    from the northern horizon (row 0) to the southern horizon.
    """
    c0 = img.shape[1] // 2 - width // 2
    strip = img[:, c0 : c0 + width].astype(np.float32).mean(1)
    if strip.shape[0] != rows:
        strip = cv2.resize(strip[:, None, :], (1, rows), interpolation=cv2.INTER_AREA)[:, 0, :]
    return strip


def meridian_angles(rows: int) -> np.ndarray:
    """Pixel-centre meridian angles (degree) of a ``rows``-pixel strip."""
    return (np.arange(rows) + 0.5) / rows * 180.0


def keogram_array(rows: np.ndarray, times: np.ndarray) -> xr.DataArray:
    """Label ``rows`` (time x meridian pixel x RGB, DN) as a keogram DataArray."""
    return xr.DataArray(
        rows,
        dims=("time", "meridian_angle", "channel"),
        coords={"time": ("time", times, {"long_name": "time (UTC)"}), "meridian_angle": ("meridian_angle", meridian_angles(rows.shape[1]), MERIDIAN_ANGLE_ATTRS), "channel": ["R", "G", "B"]},
        name="keogram",
        attrs={"units": "DN", "long_name": "north-south keogram"},
    )


def keogram(frames: pd.DataFrame, size: int = 180, width: int = 3, progress: bool = False) -> xr.DataArray:
    """A keogram from manifest rows (``time_utc``, ``path``) of one night.

    Each frame (north up) contributes its central column, averaged over ``width`` pixels, from
    the northern horizon through the zenith to the southern horizon. Unreadable frames are NaN.

    Returns
    -------
    xarray.DataArray
        ``time`` x ``meridian_angle`` x ``channel`` (R, G, B; DN), where ``meridian_angle`` runs
        from 0 deg (northern horizon) through 90 (zenith) to 180 (southern horizon).

    Raises
    ------
    AuroraSWError
        No frames, or ``size``/``width`` not pixel counts with 1 <= width <= size.
    """
    if frames.empty:
        raise AuroraSWError("keogram: no frames")
    if size < 1 or not 1 <= width <= size:
        raise AuroraSWError(f"keogram: size {size} and width {width} must be pixel counts with 1 <= width <= size (e.g. size 180)")
    frames = frames.sort_values("time_utc")
    rows = np.full((len(frames), size, 3), np.nan, np.float32)
    for i, path in enumerate(tqdm(frames["path"], desc="keogram", unit="frame", disable=not progress)):
        try:
            rows[i] = meridian_strip(read_square_frame(path, size), size, width)
        except OSError:
            continue
    times = pd.DatetimeIndex(pd.to_datetime(frames["time_utc"], utc=True)).tz_localize(None)
    return keogram_array(rows, times.to_numpy())


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
