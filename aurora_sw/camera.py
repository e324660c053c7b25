"""The camera as data: its sky geometry and strict frame reading.

**Geometry.** A frame is the square crop of the sky circle (:func:`crop_sky`), as every stage
downstream of ingest sees it: an equidistant fisheye with the zenith at the centre, the horizon on
the inscribed circle, north up and east left (as a camera looking up sees the sky). One projection,
written once: :func:`pixel_to_altaz` and its inverse :func:`altaz_to_pixel`, :func:`pixel_altaz`
for every pixel, :func:`circle_mask` for the sky circle, and :func:`skymap`, which carries each
pixel's azimuth, elevation and the latitude/longitude where its line of sight meets an emission
height, as asilib's and pyaurorax's skymaps do. Latitudes and longitudes are geodetic (WGS84, as
the catalog's sites), mapped on a sphere of :data:`EARTH_RADIUS_KM` (the mean radius) about the
site: the ellipsoid would change a mapped point's distance from the site by under 0.5 %, less than
the fisheye model's own error.

**Strict frame reading.** A frame is decoded only if it is whole, large enough and in colour.

libjpeg decodes a JPEG cut short (an interrupted copy or download) as a full-size image whose
missing part is flat grey, and only prints "Premature end of JPEG file"; OpenCV returns it as a
good frame. A classifier scored such a no-aurora frame, cut to 40 % of its bytes, as
p_aurora = 1.000. So every reader of frames (ingest's quality checks, scoring, training, the
Explorer) goes through :func:`read_frame`, which checks the file's structure before decoding and
raises :class:`FrameError` with the reason, one of :data:`FRAME_PROBLEMS`. Those reasons are also
the manifest's flag names for frames that are kept on the time axis but never scored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
import xarray as xr

from aurora_sw.catalog import CameraEpoch, Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.geomagnetic import EMISSION_HEIGHT_KM, aacgm_module  # the green line's height, where skymaps put each pixel

# Reason (and manifest flag) -> what it means for the user.
FRAME_PROBLEMS = {
    "unreadable": "not an image, or no image data could be decoded",
    "truncated": "the file ends before the image does, as after an interrupted copy or download",
    "too_small": "too few pixels to hold a sky image",
    "greyscale": "a greyscale image; the classifier and the green/red indices need colour",
}
MIN_FRAME_PX = 64  # smaller frames hold no usable sky (AuroraMAX stills are 480 px, movie crops 720)
# A 3-channel JPEG or PNG of a grey image decodes with exactly equal channels (JPEG chroma 128);
# colour frames differ by more somewhere: by 5 DN or more in every synthetic frame, even decoded at 1/8.
GREY_SPREAD_DN = 1
BLACK_DN = 16  # an all-black frame is "dark" (flagged elsewhere), not greyscale

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"  # a JPEG's first two bytes
# JPEG start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames).
SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class FrameError(AuroraSWError, OSError):
    """A frame that must not be used; ``reason`` is one of :data:`FRAME_PROBLEMS`, ``problem``
    the reason with its explanation (for problem lists), the message names the file too.

    It is an ``OSError`` too, so code that already treats an unreadable file as missing keeps
    doing so for every reason.
    """

    def __init__(self, path: str | os.PathLike, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.problem = f"{reason}: {FRAME_PROBLEMS[reason]}" + (f" ({detail})" if detail else "")
        super().__init__(f"{self.path}: {self.problem}")


@dataclass(frozen=True)
class JpegHeader:
    """What a JPEG's header segments say, read up to its first scan without decoding anything."""

    width: int
    height: int
    components: int
    frame_marker: int  #: the frame header's marker: 0xC0 baseline, 0xC1 extended sequential, 0xC2 progressive, ...
    orientation: int  #: the EXIF orientation (1-8; 1 = upright, also when there is none)
    scan_start: int  #: offset of the first scan's entropy-coded data


def jpeg_header(data: bytes) -> JpegHeader | tuple[str, str]:
    """Walk a JPEG's header segments (after its start marker) to its first scan.

    The one reader of JPEG headers: the strict frame check (:func:`frame_problem`) and the GPU
    decode's choice of frames (:func:`aurora_sw.index.device_frames.device_decodable`) both use it.

    Returns
    -------
    JpegHeader or (str, str)
        The header, or a :data:`FRAME_PROBLEMS` key and a detail when the header is damaged or
        ends before the image data.
    """
    pos, n = 2, len(data)
    frame, orientation = None, 1
    while True:
        if pos >= n:
            return "unreadable", "the file ends inside its header"
        if data[pos] != 0xFF:
            return "unreadable", "damaged header"
        while pos < n and data[pos] == 0xFF:  # a marker, after any fill bytes
            pos += 1
        if pos >= n:
            return "unreadable", "the file ends inside its header"
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return "unreadable", "no image data before the end-of-image marker"
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        if pos + 2 > n:
            return "unreadable", "the file ends inside its header"
        length = int.from_bytes(data[pos : pos + 2], "big")
        if pos + length > n:
            return "unreadable", "the file ends inside its header"
        if marker == 0xE1 and orientation == 1:  # APP1: EXIF (or XMP, which has no orientation)
            orientation = exif_orientation(data[pos + 2 : pos + length])
        if marker in SOF_MARKERS and length >= 8:
            frame = (int.from_bytes(data[pos + 5 : pos + 7], "big"), int.from_bytes(data[pos + 3 : pos + 5], "big"), data[pos + 7], marker)
        pos += length
        if marker == 0xDA:
            break
    if frame is None:
        return "unreadable", "no frame header before the image data"
    return JpegHeader(*frame, orientation=orientation, scan_start=pos)


def exif_orientation(segment: bytes) -> int:
    """The EXIF orientation (1-8; 1 = upright) in an APP1 segment's payload, 1 when it has none."""
    if not segment.startswith(b"Exif\x00\x00") or len(segment) < 14:
        return 1
    tiff = segment[6:]
    order = "little" if tiff[:2] == b"II" else "big"
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return 1
    for k in range(int.from_bytes(tiff[ifd : ifd + 2], order)):
        entry = tiff[ifd + 2 + 12 * k : ifd + 14 + 12 * k]
        if len(entry) == 12 and int.from_bytes(entry[:2], order) == 0x0112:
            return int.from_bytes(entry[8:10], order)
    return 1


def _jpeg_problem(data: bytes) -> tuple[str, str] | None:
    """The header (:func:`jpeg_header`), then the end-of-image marker after the first scan.

    Entropy-coded data never holds an unescaped FF D9 (0xFF is stuffed as FF 00), so a file with
    no end-of-image marker after its first scan was cut short. The frame header gives the size and
    the number of colour components without decoding anything.
    """
    header = jpeg_header(data)
    if isinstance(header, tuple):
        return header
    if data.rfind(b"\xff\xd9") < header.scan_start:
        return "truncated", f"no end-of-image marker after the image data, {len(data)} bytes"
    if min(header.width, header.height) < MIN_FRAME_PX:
        return "too_small", f"{header.width}x{header.height} px, fewer than {MIN_FRAME_PX}"
    if header.components == 1:
        return "greyscale", ""
    return None


def _png_problem(data: bytes) -> tuple[str, str] | None:
    """The PNG header (size, colour type) and its closing IEND chunk."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return "unreadable", "the file ends inside its header"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    colour_type = data[25]
    end = data.rfind(b"IEND")
    if end < 0 or end + 8 > len(data):
        return "truncated", f"no IEND chunk at the end, {len(data)} bytes"
    if min(width, height) < MIN_FRAME_PX:
        return "too_small", f"{width}x{height} px, fewer than {MIN_FRAME_PX}"
    if colour_type in (0, 4):  # grey, grey + alpha
        return "greyscale", ""
    return None


def frame_problem(data: bytes) -> tuple[str, str] | None:
    """What is wrong with an encoded frame, judged from its bytes without decoding.

    Returns
    -------
    tuple or None
        ``(reason, detail)`` with ``reason`` one of :data:`FRAME_PROBLEMS`, or ``None`` when
        nothing is wrong that the header and the file's end can tell (formats other than JPEG
        and PNG are left to the decoder).
    """
    if len(data) < 4:
        return "unreadable", f"{len(data)} bytes"
    if data[:2] == JPEG_SOI:
        return _jpeg_problem(data)
    if data[:8] == _PNG_SIGNATURE:
        return _png_problem(data)
    return None


def _channel_spread(img: np.ndarray) -> int:
    """Largest difference (DN) between two colour channels of one pixel, over the image.

    OpenCV's per-channel operations: numpy's reductions over a length-3 axis cost 10x the decode.
    """
    b, g, r = cv2.split(img)
    return int(cv2.max(cv2.max(cv2.absdiff(b, g), cv2.absdiff(g, r)), cv2.absdiff(b, r)).max())


def read_frame_bytes(path: str | os.PathLike) -> bytes:
    """A frame file's bytes, or :class:`FrameError` ``unreadable`` naming why not (missing, a folder,
    no permission). The only step of :func:`read_frame` that waits on the file system."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise FrameError(path, "unreadable", exc.strerror or str(exc)) from None


def read_frame(path: str | os.PathLike, *, reduce: int = 1, data: bytes | None = None) -> np.ndarray:
    """Decode a frame strictly as an RGB uint8 array.

    Parameters
    ----------
    path
        A JPEG or PNG frame (other formats OpenCV reads are decoded, with the size and colour
        checks only).
    reduce
        Decode at 1/``reduce`` of the full size (1, 2, 4 or 8; JPEG DCT scaling, so a reduced
        decode costs a fraction of a full one).
    data
        The file's bytes, when already read (:func:`read_frame_bytes`); ``path`` then only names it.

    Returns
    -------
    numpy.ndarray
        ``height x width x 3`` RGB, uint8.

    Raises
    ------
    FrameError
        With ``reason`` ``unreadable`` (missing file, not an image), ``truncated`` (the file ends
        before the image does), ``too_small`` (under :data:`MIN_FRAME_PX` on a side) or
        ``greyscale`` (one channel, or three equal ones).

    Examples
    --------
    >>> try:
    ...     img = read_frame("20240206T051500Z.jpg", reduce=4)
    ... except FrameError as exc:
    ...     print(exc.reason)
    """
    if data is None:
        data = read_frame_bytes(path)
    problem = frame_problem(data)
    if problem:
        raise FrameError(path, *problem)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[reduce])
    if img is None or img.size == 0:
        raise FrameError(path, "unreadable")
    full = (img.shape[0] * reduce, img.shape[1] * reduce)
    if min(full) < MIN_FRAME_PX:
        raise FrameError(path, "too_small", f"{full[1]}x{full[0]} px, fewer than {MIN_FRAME_PX}")
    if _channel_spread(img) <= GREY_SPREAD_DN and img.max() > BLACK_DN:
        raise FrameError(path, "greyscale", "its three channels are equal")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def dct_reduction(size: int) -> int:
    """The JPEG DCT scale (1, 2, 4 or 8) :func:`read_square_frame` decodes at for ``size`` pixels:
    the coarsest that still gives ``size`` pixels of a 720 px frame."""
    return next((factor for factor in (8, 4, 2) if size * factor <= 720), 1)


def read_square_frame(path: str | os.PathLike, size: int, *, data: bytes | None = None) -> np.ndarray:
    """Decode a square sky frame strictly (:func:`read_frame`) as ``size x size`` RGB uint8.

    A JPEG is decoded at the coarsest DCT scale that still gives ``size`` pixels of a 720 px frame
    (AuroraMAX stills and movie crops), then area-averaged to ``size``: decoding no more than is
    kept is what makes scoring, keograms and the indices fast.

    Raises
    ------
    FrameError
        As :func:`read_frame`: unreadable, truncated, too small or greyscale.
    """
    img = read_frame(path, reduce=dct_reduction(size), data=data)
    if img.shape[0] != size or img.shape[1] != size:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


# ----------------------------------------------------------------------------- geometry

EARTH_RADIUS_KM = 6371.0  # mean radius (IUGG): the sphere that skymaps and the synthetic sky map onto


def circle_mask(size: int, *, radius_frac: float = 1.0) -> np.ndarray:
    """Boolean ``size x size`` mask of the sky circle (the inscribed circle, scaled by ``radius_frac``).

    ``radius_frac=0.9`` keeps the sky above ~9 deg elevation, clear of trees and horizon clutter.
    """
    c = (size - 1) / 2.0
    yy, xx = np.ogrid[:size, :size]
    return (yy - c) ** 2 + (xx - c) ** 2 <= (radius_frac * size / 2.0) ** 2


def crop_sky(frame: np.ndarray, epoch: CameraEpoch, *, out_size: int | None = None) -> np.ndarray:
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


def pixel_to_altaz(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (deg) of pixel positions (x column, y row; pixel centres are whole
    numbers) in a ``size`` x ``size`` sky-circle crop.

    Equidistant fisheye: elevation falls linearly from 90 deg at the centre to 0 on the circle
    (negative beyond it, where the crop holds no sky); azimuth is east of north, 0 to 360, north
    up and east left. The arithmetic keeps the inputs' float type.
    """
    c = (size - 1) / 2.0
    dx, dy = x - c, y - c
    r = np.hypot(dx, dy) / (size / 2.0)
    alt = 90.0 * (1.0 - r)
    az = np.mod(np.degrees(np.arctan2(-dx, -dy)), 360.0)
    return alt, az


def altaz_to_pixel(alt: np.ndarray, az: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel position (x column, y row) of sky directions, elevation and azimuth in degrees: the
    inverse of :func:`pixel_to_altaz`."""
    r = (90.0 - alt) / 90.0 * (size / 2.0)
    z = np.radians(az)
    c = (size - 1) / 2.0
    return c - r * np.sin(z), c - r * np.cos(z)


def pixel_altaz(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (deg, float32 ``size`` x ``size``) of every pixel of a sky-circle crop.

    :func:`pixel_to_altaz` on the pixel grid, with the corners outside the circle at elevation 0
    (the horizon) rather than below it; :func:`skymap` marks them NaN instead.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    alt, az = pixel_to_altaz(xx, yy, size)
    return np.maximum(alt, 0.0).astype(np.float32), az.astype(np.float32)


def ground_distance_km(elevation_deg: np.ndarray, height_km: float, *, observer_height_km: float = 0.0) -> np.ndarray:
    """Great-circle distance (km, at sea level) from the camera to below where a line of sight at
    ``elevation_deg`` meets a spherical shell ``height_km`` above sea level.

    In the triangle Earth centre - camera - point, the central angle is
    ``arccos((R + h0) / (R + h) cos e) - e`` for a camera ``h0`` above sea level; the distance is
    ``R`` times that angle (:data:`EARTH_RADIUS_KM`).
    """
    e = np.radians(elevation_deg)
    ratio = (EARTH_RADIUS_KM + observer_height_km) / (EARTH_RADIUS_KM + height_km)
    theta = np.arccos(np.clip(ratio * np.cos(e), -1, 1)) - e
    return EARTH_RADIUS_KM * theta


def destination(lat_deg: float, lon_deg: float, azimuth_deg: np.ndarray, distance_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (deg, longitude in [-180, 180)) reached from a point by going
    ``distance_km`` along the great circle that starts at ``azimuth_deg`` east of north, on the
    sphere of :data:`EARTH_RADIUS_KM`."""
    p1, l1 = np.radians(lat_deg), np.radians(lon_deg)
    b, d = np.radians(azimuth_deg), np.asarray(distance_km, dtype=float) / EARTH_RADIUS_KM
    p2 = np.arcsin(np.clip(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b), -1, 1))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), np.mod(np.degrees(l2) + 180.0, 360.0) - 180.0


def skymap(site: Site, epoch: CameraEpoch | datetime | None = None, *, size: int | None = None,
           emission_height_km: float = EMISSION_HEIGHT_KM) -> xr.Dataset:
    """The camera's skymap: where in the sky, and above which point of the Earth, each pixel looks.

    Parameters
    ----------
    site
        The camera's site (geodetic latitude, longitude and height of the camera).
    epoch
        The camera epoch (or a time, naive meaning UTC, for the epoch in force then; default: the
        latest epoch).
        Its sky circle sets the native crop size.
    size
        Pixels on a side of the square sky-circle crop the map is for (default: the epoch's native
        crop, twice its circle's radius).
    emission_height_km
        Height above sea level (km) where each line of sight is mapped to the ground: 110 km for
        the green 557.7 nm line (the default), ~230 km for the red 630 nm line.

    Returns
    -------
    xarray.Dataset
        On dims ``(y, x)`` (pixel row from the top, pixel column from the left): ``azimuth`` (deg
        east of geographic north), ``elevation`` (deg), ``lat`` and ``lon`` (deg, geodetic, of the
        point ``emission_height_km`` up along the line of sight), all NaN outside the sky circle.
        Attributes name the site, the epoch, the projection and the height.

    Examples
    --------
    >>> from aurora_sw.catalog import load_catalog
    >>> site = load_catalog().site("yellowknife")
    >>> sm = skymap(site, size=180)
    >>> float(sm.lat[90, 90]), float(sm.lon[90, 90])   # near the zenith: the site
    """
    if epoch is None:
        epoch = max(site.camera_epochs, key=lambda e: e.start)
    elif isinstance(epoch, datetime):
        from aurora_sw.times import utc_time

        epoch = site.camera_epoch(utc_time(epoch).tz_localize("UTC").to_pydatetime())
    size = int(size or 2 * epoch.mask_radius_px)
    if size < 2:
        raise AuroraSWError(f"skymap: size {size} px is no sky-circle crop (e.g. size 720)")
    if not 0 < emission_height_km < 10_000:
        raise AuroraSWError(f"skymap: emission height {emission_height_km} km is not an auroral height (e.g. 110)")
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    alt, az = pixel_to_altaz(xx, yy, size)
    outside = ~circle_mask(size)
    alt[outside] = np.nan
    az[outside] = np.nan
    dist = ground_distance_km(alt, emission_height_km, observer_height_km=site.elevation_m / 1000.0)
    lat, lon = destination(site.lat_deg, site.lon_deg, az, dist)
    lat[outside] = np.nan
    lon[outside] = np.nan
    pixel = {"units": "pixel"}
    return xr.Dataset(
        {
            "azimuth": (("y", "x"), az, {"units": "degree", "long_name": "azimuth of the line of sight, east of geographic north"}),
            "elevation": (("y", "x"), alt, {"units": "degree", "long_name": "elevation of the line of sight above the horizon"}),
            "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude",
                                      "long_name": f"geodetic latitude of the line of sight at {emission_height_km:g} km"}),
            "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude",
                                      "long_name": f"geodetic longitude of the line of sight at {emission_height_km:g} km"}),
        },
        coords={"y": ("y", np.arange(size), {**pixel, "long_name": "pixel row, north at the top"}),
                "x": ("x", np.arange(size), {**pixel, "long_name": "pixel column, east at the left"})},
        attrs={
            "site": site.name, "site_lat_deg": site.lat_deg, "site_lon_deg": site.lon_deg, "site_elevation_m": site.elevation_m,
            "camera_epoch": epoch.name, "epoch_start": epoch.start.isoformat(), "epoch_end": epoch.end.isoformat() if epoch.end else "",
            "projection": "equidistant fisheye: zenith at the centre, horizon on the inscribed circle, north up, east left",
            "emission_height_km": float(emission_height_km),
            "earth_model": f"sphere of radius {EARTH_RADIUS_KM} km about the site's geodetic position",
        },
    )


def bearing_deg(lat1_deg: np.ndarray, lon1_deg: np.ndarray, lat2_deg: np.ndarray, lon2_deg: np.ndarray) -> np.ndarray:
    """Initial great-circle bearing (deg east of north, in [0, 360)) from point 1 towards point 2."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dl = np.radians(np.asarray(lon2_deg) - np.asarray(lon1_deg))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.mod(np.degrees(np.arctan2(y, x)), 360.0)


def magnetic_north_azimuth(site: Site, time: datetime, *, height_km: float = EMISSION_HEIGHT_KM) -> float:
    """Azimuth (deg east of geographic north, in (-180, 180]) of magnetic north above the site.

    The direction of the AACGM-v2 magnetic meridian (the line of constant AACGM longitude, along
    which auroral arcs' normals lie) through the point ``height_km`` above the site at ``time``;
    the site's magnetic declination as auroral work uses it. Needs ``aacgmv2`` (the ``magnetic``
    extra; it builds from source, so it needs a C compiler).

    Raises
    ------
    AuroraSWError
        ``aacgmv2`` is not installed, or AACGM is undefined there (near the magnetic equator) or
        then (outside its coefficients' years).
    """
    from aurora_sw.geomagnetic import site_aacgm
    from aurora_sw.times import utc_time

    aacgmv2 = aacgm_module("the magnetic meridian")
    t = utc_time(time).to_pydatetime()  # naive UTC, as aacgmv2 takes it
    mlat, mlon = site_aacgm(site, t, height_km=height_km)  # checks the years and that AACGM is defined there
    step = 0.1  # deg of AACGM latitude either side of the site (~11 km)
    south = aacgmv2.convert_latlon(mlat - step, mlon, height_km, t, "A2G")
    north = aacgmv2.convert_latlon(mlat + step, mlon, height_km, t, "A2G")
    if not np.isfinite([*south[:2], *north[:2]]).all():
        raise AuroraSWError(f"site {site.name!r}: AACGM coordinates are undefined there at {t:%Y-%m-%d} (near the magnetic equator, or outside the model's years)")
    azimuth = float(bearing_deg(south[0], south[1], north[0], north[1]))
    return azimuth - 360.0 if azimuth > 180.0 else azimuth
