"""Keograms: one meridian of every frame of a night, stacked in time (as asilib does).

Two sources: :func:`keogram` decodes a night's frames (any resolution, along any meridian:
``azimuth_deg`` east of geographic north, or the site's magnetic meridian through
:func:`meridian_azimuth`); :func:`aurora_sw.index.store.open_keogram` reads the quick-look
north-south keogram (:data:`~aurora_sw.index.schema.KEOGRAM_ROWS` rows) that scoring stores with
the index from the frames it decodes anyway, so an app can draw a night without decoding a frame.
The stored keogram stays north-south: it is part of the index's format and checksums, and any
other meridian is a decode of the night's frames away.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from aurora_sw.camera import magnetic_north_azimuth, read_square_frame
from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import MERIDIAN_ANGLE_ATTRS

_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def check_azimuth(azimuth_deg: float) -> float:
    """``azimuth_deg`` as a float, or :class:`AuroraSWError` when it is not in [0, 360)."""
    if not (np.isfinite(azimuth_deg) and 0.0 <= azimuth_deg < 360.0):
        raise AuroraSWError(f"keogram: azimuth {azimuth_deg:g} deg must be in 0 <= azimuth < 360 (east of north; 0 = north-south, 90 = east-west)")
    return float(azimuth_deg)


def meridian_azimuth(site: Site, time: datetime, *, azimuth_deg: float = 0.0, magnetic: bool = False) -> float:
    """The azimuth (deg east of geographic north, in [0, 360)) of the meridian a keogram follows.

    Parameters
    ----------
    site, time
        Where and when (UTC): only needed for ``magnetic``.
    azimuth_deg
        The meridian's azimuth: from geographic north, or from magnetic north when ``magnetic``.
    magnetic
        Measure from the site's magnetic meridian (AACGM at 110 km,
        :func:`aurora_sw.camera.magnetic_north_azimuth`; needs ``aacgmv2``).
    """
    azimuth_deg = check_azimuth(azimuth_deg)
    if magnetic:
        azimuth_deg = float(np.mod(azimuth_deg + magnetic_north_azimuth(site, time), 360.0))
    return azimuth_deg


def _point_up(img: np.ndarray, azimuth_deg: float) -> np.ndarray:
    """The frame (north up, east left) turned about its centre so that ``azimuth_deg`` is up.

    Azimuth runs anticlockwise on a sky image, so the frame turns clockwise; quarter turns move
    whole pixels.
    """
    quarters = azimuth_deg / 90.0
    if quarters == int(quarters):
        return np.rot90(img, -int(quarters))
    n = img.shape[0]
    turn = cv2.getRotationMatrix2D(((n - 1) / 2.0, (n - 1) / 2.0), -azimuth_deg, 1.0)
    return cv2.warpAffine(img, turn, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def meridian_strip(img: np.ndarray, rows: int, width: int = 3, *, azimuth_deg: float = 0.0) -> np.ndarray:
    """One meridian of a square frame (north up, east left), as ``rows`` x 3 float32 (DN).

    The meridian runs from the horizon at ``azimuth_deg`` (east of north; default 0, the
    north-south meridian) through the zenith to the opposite horizon. The ``width`` pixels across
    it are averaged (the central columns of the frame turned so that ``azimuth_deg`` is up), then
    resampled (area average) to ``rows`` pixels from the horizon at ``azimuth_deg`` (row 0).
    """
    if azimuth_deg % 360.0:
        img = _point_up(img, azimuth_deg % 360.0)
    c0 = img.shape[1] // 2 - width // 2
    strip = img[:, c0 : c0 + width].astype(np.float32).mean(1)
    if strip.shape[0] != rows:
        strip = cv2.resize(strip[:, None, :], (1, rows), interpolation=cv2.INTER_AREA)[:, 0, :]
    return strip


def meridian_angles(rows: int) -> np.ndarray:
    """Pixel-centre meridian angles (degree) of a ``rows``-pixel strip."""
    return (np.arange(rows) + 0.5) / rows * 180.0


def compass_name(azimuth_deg: float) -> str:
    """``N``, ``NE``, ... for the eight compass points, else the azimuth in degrees."""
    azimuth_deg = float(np.mod(azimuth_deg, 360.0))
    if azimuth_deg % 45.0 == 0:
        return _COMPASS[int(azimuth_deg // 45)]
    return f"{azimuth_deg:.0f}°"


def keogram_array(rows: np.ndarray, times: np.ndarray, *, azimuth_deg: float = 0.0) -> xr.DataArray:
    """Label ``rows`` (time x meridian pixel x RGB, DN) as a keogram DataArray along the meridian
    from the horizon at ``azimuth_deg`` (deg east of north)."""
    angle_attrs, attrs = MERIDIAN_ANGLE_ATTRS, {"units": "DN", "long_name": "north-south keogram"}
    if azimuth_deg:
        a, b = compass_name(azimuth_deg), compass_name(azimuth_deg + 180.0)
        angle_attrs = {"units": "degree", "long_name": f"meridian angle: 0 horizon at azimuth {azimuth_deg:g} ({a}), 90 zenith, 180 horizon opposite ({b})"}
        attrs = {"units": "DN", "long_name": f"keogram along the {a}-{b} meridian (azimuth {azimuth_deg:g} deg east of north)"}
    return xr.DataArray(
        rows,
        dims=("time", "meridian_angle", "channel"),
        coords={"time": ("time", times, {"long_name": "time (UTC)"}), "meridian_angle": ("meridian_angle", meridian_angles(rows.shape[1]), angle_attrs), "channel": ["R", "G", "B"]},
        name="keogram",
        attrs={**attrs, "azimuth_deg": float(azimuth_deg)},
    )


def keogram(frames: pd.DataFrame, *, size: int = 180, width: int = 3, azimuth_deg: float = 0.0, progress: bool = False) -> xr.DataArray:
    """A keogram from manifest rows (``time_utc``, ``path``) of one night.

    Each frame (north up, east left) contributes its meridian along ``azimuth_deg``, averaged over
    ``width`` pixels across it, from the horizon at ``azimuth_deg`` through the zenith to the
    opposite horizon. Unreadable frames are NaN.

    Parameters
    ----------
    frames
        Manifest rows of one night.
    size
        Pixels from horizon to horizon (the frames are decoded at this size).
    width
        Pixels across the meridian that are averaged.
    azimuth_deg
        The meridian's azimuth, deg east of geographic north in [0, 360): 0 (default) north-south,
        90 east-west; :func:`meridian_azimuth` gives the magnetic meridian's.
    progress
        Show a progress bar.

    Returns
    -------
    xarray.DataArray
        ``time`` x ``meridian_angle`` x ``channel`` (R, G, B; DN), where ``meridian_angle`` runs
        from 0 deg (horizon at ``azimuth_deg``; north by default) through 90 (zenith) to 180.

    Raises
    ------
    AuroraSWError
        No frames, ``size``/``width`` not pixel counts with 1 <= width <= size, or an azimuth
        outside [0, 360).
    """
    if frames.empty:
        raise AuroraSWError("keogram: no frames")
    if size < 1 or not 1 <= width <= size:
        raise AuroraSWError(f"keogram: size {size} and width {width} must be pixel counts with 1 <= width <= size (e.g. size 180)")
    azimuth_deg = check_azimuth(azimuth_deg)
    frames = frames.sort_values("time_utc")
    rows = np.full((len(frames), size, 3), np.nan, np.float32)
    for i, path in enumerate(tqdm(frames["path"], desc="keogram", unit="frame", disable=not progress)):
        try:
            rows[i] = meridian_strip(read_square_frame(path, size), size, width, azimuth_deg=azimuth_deg)
        except OSError:
            continue
    times = pd.DatetimeIndex(pd.to_datetime(frames["time_utc"], utc=True)).tz_localize(None)
    return keogram_array(rows, times.to_numpy(), azimuth_deg=azimuth_deg)


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
    azimuth = float(keo.attrs.get("azimuth_deg", 0.0))
    ax.set_yticks([0, 90, 180], [compass_name(azimuth), "zenith", compass_name(azimuth + 180.0)])
    ax.set_xlabel("time (UTC)")
    ax.set_title("keogram" if not azimuth else f"keogram, meridian at azimuth {azimuth:g} deg")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
