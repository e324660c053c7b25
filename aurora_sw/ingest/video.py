"""AuroraMAX timelapse movies -> one frame per sky minute with its UTC time.

The movie has one frame per 6-s exposure and the local time (with the zone's abbreviation, MST/MDT
at Yellowknife; the zone is the site's IANA ``timezone`` in the catalog) burned in at the bottom
right. Each kept frame's overlay is read by tesseract; instead of hand rules for misreads, the
reads are fitted with ``time = t0 + cadence x frame_index`` (Theil-Sen over the reads that agree,
split where the camera restarted), so a single misread cannot move a frame's time. Every frame
records its OCR text, fitted UTC time and residual; frames whose read disagrees are flagged.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from aurora_sw.camera import crop_sky
from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError
from aurora_sw.ingest.problems import ProblematicFile

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv"}
_OVERLAY_TIME = r"(\d{4})-(\d{2})-(\d{2})\s*(\d{2}):(\d{2}):(\d{2})"
MISMATCH_S = 2.0  # a read further than this from the fit is flagged ocr_mismatch


@dataclass
class VideoFrame:
    index: int  # movie frame number
    rgb: np.ndarray  # full movie frame


def iter_frames(path: Path, step: int) -> Iterator[VideoFrame]:
    """Every ``step``-th movie frame, decoded with PyAV (threaded); only kept frames are converted.

    Raises ``AuroraSWError`` for a file that is not a readable video; a video that breaks off
    midway yields what came before and then raises, so the caller can keep those frames.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise AuroraSWError(f"{path}: not a readable video ({exc.__class__.__name__}: {exc})") from None
    with container:
        if not container.streams.video:
            raise AuroraSWError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        i = -1
        try:
            for frame in container.decode(stream):
                i += 1
                if i % step == 0:
                    yield VideoFrame(i, frame.to_ndarray(format="rgb24"))
        except (av.error.FFmpegError, OSError) as exc:
            raise AuroraSWError(f"{path}: video breaks off after frame {i} ({exc.__class__.__name__})") from None
    if i < 0:
        raise AuroraSWError(f"{path}: no frames could be decoded")


@lru_cache(maxsize=16)
def zone_offsets(tz: tzinfo) -> dict[str, timedelta]:
    """The UTC offsets of a zone's abbreviations (``{"MST": -7 h, "MDT": -6 h}`` for
    America/Yellowknife), from the zone's rules in a recent year: the standard and the daylight
    abbreviation a camera's overlay may carry.

    Parameters
    ----------
    tz
        A ``tzinfo`` (the site's ``ZoneInfo``).

    Returns
    -------
    dict
        Abbreviation -> offset from UTC (local = UTC + offset).
    """
    out = {}
    for month in (1, 7):
        t = datetime(2024, month, 1, 12, tzinfo=tz)
        out[t.tzname()] = t.utcoffset()
    return out


@lru_cache(maxsize=16)
def _overlay_re(tz: tzinfo) -> re.Pattern:
    names = "|".join(re.escape(n) for n in sorted(zone_offsets(tz), key=len, reverse=True))
    return re.compile(rf"{_OVERLAY_TIME}\s*({names})?")


def overlay_characters(tz: tzinfo) -> str:
    """The characters an overlay of zone ``tz`` can hold (tesseract's whitelist): digits, ``-``,
    ``:``, space and the letters of the zone's abbreviations."""
    letters = "".join(sorted(set("".join(zone_offsets(tz))) - {"+", "-"}))
    return f"0123456789-:{letters} "


def read_overlay(rgb: np.ndarray, box: tuple[int, int, int, int], tz: tzinfo | None = None) -> str:
    """OCR of the burned-in time: crop, grey, 3x upscale, blur, Otsu, invert, tesseract --psm 7.

    ``tz`` (the site's zone) limits the letters read to its abbreviations; ``None``: MST/MDT.
    """
    import pytesseract

    # One OpenMP thread per tesseract call: 2-3x faster for a one-line crop than its default.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    x0, y0, x1, y1 = box
    crop = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    crop = cv2.GaussianBlur(crop, (3, 3), 0)
    _, bw = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    chars = overlay_characters(tz) if tz is not None else "0123456789-:MSTD "
    text = pytesseract.image_to_string(255 - bw, config=f"--psm 7 -c tessedit_char_whitelist={chars}")
    return " ".join(text.split())


def parse_overlay(text: str, tz: tzinfo) -> datetime | None:
    """UTC time of an overlay text such as ``2024-01-31 18:19:54 MST`` (None if unparsable).

    The zone abbreviation (one of ``tz``'s, :func:`zone_offsets`: MST/MDT at Yellowknife) fixes
    the offset, also on DST-switch nights; without it the zone's rules decide.
    """
    m = _overlay_re(tz).search(text)
    if not m:
        return None
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None
    offsets = zone_offsets(tz)
    if zone in offsets:
        return (local - offsets[zone]).replace(tzinfo=timezone.utc)
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def fit_times(index: np.ndarray, read_s: np.ndarray, cadence_s: float, tol_s: float = 30.0, confirm: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Robust time = t0 + slope x index, in segments split where the camera restarted.

    Parameters
    ----------
    index
        Movie frame numbers (increasing).
    read_s
        OCR'd UTC times in seconds (NaN where unreadable).
    cadence_s
        Nominal seconds of sky time per movie frame (6).
    tol_s
        Offsets (read - cadence x index) within this of the segment's belong to it.
    confirm
        A new segment starts only when this many consecutive reads agree on the new offset; a
        lone disagreeing read is a misread.

    Returns
    -------
    fitted_s, residual_s
        Fitted UTC seconds for every frame (NaN if no segment covers it) and read - fit.
    """
    from scipy.stats import theilslopes

    offset = read_s - cadence_s * index
    valid = np.flatnonzero(np.isfinite(offset))
    segment = np.full(len(index), -1)
    seg, current, recent = -1, None, []
    k = 0
    while k < len(valid):
        i = valid[k]
        if current is None or abs(offset[i] - current) > tol_s:
            ahead = valid[k : k + confirm]
            if len(ahead) == confirm and np.ptp(offset[ahead]) <= tol_s:
                seg += 1
                current, recent = float(np.median(offset[ahead])), []
            else:
                k += 1
                continue  # a misread
        segment[i] = seg
        recent = (recent + [offset[i]])[-9:]
        current = float(np.median(recent))
        k += 1
    fitted = np.full(len(index), np.nan)
    if seg < 0:
        return fitted, np.full(len(index), np.nan)
    # Frames without a read belong to the segment of the nearest read before them.
    filled = pd.Series(np.where(segment >= 0, segment, np.nan)).ffill().bfill().to_numpy()
    for s in range(seg + 1):
        members = np.flatnonzero(segment == s)
        if len(members) >= 5:
            slope, intercept, _, _ = theilslopes(read_s[members], index[members])
        else:
            slope, intercept = cadence_s, float(np.median(offset[members]))
        if abs(slope - cadence_s) > 0.05 * cadence_s:  # a short or odd segment: trust the camera's cadence
            slope, intercept = cadence_s, float(np.median(offset[members]))
        # Round t0 to the second the overlay resolves.
        t0 = np.round(np.median(read_s[members] - slope * index[members]))
        rows = filled == s
        fitted[rows] = t0 + slope * index[rows]
    return fitted, read_s - fitted


def video_records(
    path: Path,
    site: Site,
    *,
    frames_dir: Path,
    every_s: float = 60.0,
    out_size: int = 720,
    progress: bool = True,
) -> tuple[list[dict], list[ProblematicFile]]:
    """Sample, OCR, fit and crop one movie; write the kept frames as JPEGs named by UTC time.

    Returns
    -------
    records, problems
        Frame records for the manifest (``time_utc``, ``path``, ``source``, ``frame_index``,
        ``ocr_text``, ``time_residual_s``, ``flags``) and the problems met (each with its reason).
    """
    from tqdm.auto import tqdm

    step = max(int(round(every_s / site.frame_cadence_s)), 1)
    frames, problems = [], []
    try:
        for vf in tqdm(iter_frames(path, step), desc=f"decoding {path.name}", unit="frame", disable=not progress):
            frames.append(vf)
    except AuroraSWError as exc:
        problems.append(ProblematicFile.of(path, "unreadable_video", str(exc).split(": ", 1)[-1]))
        if not frames:
            return [], problems
    epoch_guess = site.camera_epochs[-1]
    box = tuple(epoch_guess.overlay_box)
    texts = [read_overlay(f.rgb, box, site.tz) for f in tqdm(frames, desc=f"reading time {path.name}", unit="frame", disable=not progress)]
    reads = [parse_overlay(t, site.tz) for t in texts]
    idx = np.array([f.index for f in frames], float)
    read_s = np.array([r.timestamp() if r else np.nan for r in reads])
    fitted, residual = fit_times(idx, read_s, site.frame_cadence_s)
    if np.isnan(fitted).all():
        problems.append(ProblematicFile.of(path, "no_overlay_time", "the burned-in time could not be read on any frame; nothing ingested"))
        return [], problems
    records = []
    for f, text, t_s, res in zip(frames, texts, fitted, residual):
        if np.isnan(t_s):
            continue
        t = pd.Timestamp(t_s, unit="s", tz="UTC")
        epoch = site.camera_epoch(t.to_pydatetime())
        crop = crop_sky(f.rgb, epoch, out_size=out_size)
        out = frames_dir / f"{t:%Y-%m-%d}" / t.strftime("%Y%m%dT%H%M%SZ.jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), crop[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        mismatch = not np.isfinite(res) or abs(res) > MISMATCH_S
        records.append(
            {
                "time_utc": t,
                "path": str(out.resolve()),
                "source": str(path.resolve()),
                "frame_index": int(f.index),
                "ocr_text": text,
                "time_residual_s": float(res) if np.isfinite(res) else np.nan,
                "flags": "ocr_mismatch" if mismatch else "",
            }
        )
    n_bad = sum(r["flags"] == "ocr_mismatch" for r in records)
    if n_bad:
        log.info("%s: %d of %d frames' overlay reads disagree with the fit (flagged ocr_mismatch)", path.name, n_bad, len(records))
    return records, problems


def find_videos(folder: Path) -> list[Path]:
    """Movie files under ``folder`` (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
