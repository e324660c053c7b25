"""The circular sky mask: crop a camera frame to the sky circle and black out the rest."""

from __future__ import annotations

import numpy as np

from aurora_sw.catalog import CameraEpoch


def circle_mask(size: int, radius_frac: float = 1.0) -> np.ndarray:
    """Boolean ``size x size`` mask of the inscribed circle (scaled by ``radius_frac``)."""
    c = (size - 1) / 2.0
    yy, xx = np.ogrid[:size, :size]
    return (yy - c) ** 2 + (xx - c) ** 2 <= (radius_frac * size / 2.0) ** 2


def crop_sky(frame: np.ndarray, epoch: CameraEpoch, out_size: int | None = None) -> np.ndarray:
    """Crop ``frame`` (H x W x 3) to the epoch's sky circle and zero what lies outside it.

    Parameters
    ----------
    frame
        A camera frame, e.g. a 1280x720 movie frame.
    epoch
        Camera geometry: circle centre (x, y) and radius in pixels of that frame.
    out_size
        Resize the square crop to this many pixels (default: 2 x radius).
    """
    import cv2

    cx, cy = epoch.mask_center_xy
    r = epoch.mask_radius_px
    h, w = frame.shape[:2]
    pad = max(0, r - cx, r - cy, cx + r - w, cy + r - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        cx, cy = cx + pad, cy + pad
    crop = frame[cy - r : cy + r, cx - r : cx + r].copy()
    if out_size and out_size != 2 * r:
        crop = cv2.resize(crop, (out_size, out_size), interpolation=cv2.INTER_AREA)
    crop[~circle_mask(crop.shape[0])] = 0
    return crop


def pixel_altaz(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (deg) of every pixel of a ``size`` x ``size`` sky-circle crop.

    Equidistant fisheye: zenith at the centre, horizon on the circle; north up, east left (as a
    camera looking up sees the sky). Azimuth is east of north.
    """
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - c, yy - c
    r = np.hypot(dx, dy) / (size / 2.0)
    alt = (90.0 * (1.0 - np.clip(r, 0, 1))).astype(np.float32)
    az = np.mod(np.degrees(np.arctan2(-dx, -dy)), 360.0).astype(np.float32)
    return alt, az
