"""Strict frame reading: a frame is decoded only if it is whole, large enough and in colour.

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

import cv2
import numpy as np

from aurora_sw.errors import AuroraSWError

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
_GREY_SPREAD_DN = 1
_BLACK_DN = 16  # an all-black frame is "dark" (flagged elsewhere), not greyscale

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames).
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


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


def _jpeg_problem(data: bytes) -> tuple[str, str] | None:
    """Walk the JPEG's header segments to its first scan, then look for the end-of-image marker.

    Entropy-coded data never holds an unescaped FF D9 (0xFF is stuffed as FF 00), so a file with
    no end-of-image marker after its first scan was cut short. The frame header gives the size and
    the number of colour components without decoding anything.
    """
    pos, n = 2, len(data)
    frame = None
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
        if marker in _SOF_MARKERS and length >= 8:
            height = int.from_bytes(data[pos + 3 : pos + 5], "big")
            width = int.from_bytes(data[pos + 5 : pos + 7], "big")
            frame = (width, height, data[pos + 7])
        pos += length
        if marker == 0xDA:
            break
    if frame is None:
        return "unreadable", "no frame header before the image data"
    if data.rfind(b"\xff\xd9") < pos:
        return "truncated", f"no end-of-image marker after the image data, {n} bytes"
    width, height, components = frame
    if min(width, height) < MIN_FRAME_PX:
        return "too_small", f"{width}x{height} px, fewer than {MIN_FRAME_PX}"
    if components == 1:
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
    if data[:2] == b"\xff\xd8":
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


def read_frame(path: str | os.PathLike, *, reduce: int = 1) -> np.ndarray:
    """Decode a frame strictly as an RGB uint8 array.

    Parameters
    ----------
    path
        A JPEG or PNG frame (other formats OpenCV reads are decoded, with the size and colour
        checks only).
    reduce
        Decode at 1/``reduce`` of the full size (1, 2, 4 or 8; JPEG DCT scaling, so a reduced
        decode costs a fraction of a full one).

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
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise FrameError(path, "unreadable", exc.strerror or str(exc)) from None
    problem = frame_problem(data)
    if problem:
        raise FrameError(path, *problem)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[reduce])
    if img is None or img.size == 0:
        raise FrameError(path, "unreadable")
    full = (img.shape[0] * reduce, img.shape[1] * reduce)
    if min(full) < MIN_FRAME_PX:
        raise FrameError(path, "too_small", f"{full[1]}x{full[0]} px, fewer than {MIN_FRAME_PX}")
    if _channel_spread(img) <= _GREY_SPREAD_DN and img.max() > _BLACK_DN:
        raise FrameError(path, "greyscale", "its three channels are equal")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_square_frame(path: str | os.PathLike, size: int) -> np.ndarray:
    """Decode a square sky frame strictly (:func:`read_frame`) as ``size x size`` RGB uint8.

    A JPEG is decoded at the coarsest DCT scale that still gives ``size`` pixels of a 720 px frame
    (AuroraMAX stills and movie crops), then area-averaged to ``size``: decoding no more than is
    kept is what makes scoring, keograms and the indices fast.

    Raises
    ------
    FrameError
        As :func:`read_frame`: unreadable, truncated, too small or greyscale.
    """
    reduce = next((factor for factor in (8, 4, 2) if size * factor <= 720), 1)
    img = read_frame(path, reduce=reduce)
    if img.shape[0] != size or img.shape[1] != size:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img
