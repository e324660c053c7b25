"""AuroraMAX timelapse movies -> one frame per sky minute with its UTC time.

The movie has one frame per 6-s exposure and the local time (with the zone's abbreviation, MST/MDT
at Yellowknife; the zone is the site's IANA ``timezone`` in the catalog) burned in at the bottom
right. Kept frames are streamed: cropped and written as decoded, only their overlay crops kept.
Instead of hand rules for misreads, the overlay reads are fitted with ``time = t0 + cadence x
frame_index`` (Theil-Sen over the reads that agree, split where the camera restarted), so a single
misread cannot move a frame's time; the fit needs only a few reads per segment, so the overlay is
read sparsely and densified around anything odd (:func:`sparse_fit`), in batches of lines to one
tesseract call (:func:`read_overlay_crops`). Every frame records its OCR text ('' where not read),
fitted UTC time and residual; frames whose read disagrees are flagged."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from aurora_sw.camera import crop_sky
from aurora_sw.catalog import Site
from aurora_sw.errors import AuroraSWError, CatalogError
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


def overlay_crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The burned-in time's box of a movie frame, in grey (uint8; what :func:`read_overlay_crop` reads).

    A few tens of kB a frame: streaming ingest keeps these, not the frames, until the time fit."""
    x0, y0, x1, y1 = box
    return cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)


def _binarised(grey: np.ndarray) -> np.ndarray:
    """An overlay crop as tesseract reads it best: 3x upscale, blur, Otsu, dark text on white."""
    crop = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    crop = cv2.GaussianBlur(crop, (3, 3), 0)
    _, bw = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return 255 - bw


def _tesseract_config(tz: tzinfo | None, psm: int) -> str:
    """tesseract's options for overlays: page segmentation ``psm``, the zone's characters only."""
    # One OpenMP thread per tesseract call: 2-3x faster for a one-line crop than its default.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    chars = overlay_characters(tz) if tz is not None else "0123456789-:MSTD "
    return f"--psm {psm} -c tessedit_char_whitelist={chars}"


def _tesseract(image: np.ndarray, tz: tzinfo | None, psm: int) -> str:
    import pytesseract

    return pytesseract.image_to_string(image, config=_tesseract_config(tz, psm))


def read_overlay_crop(grey: np.ndarray, tz: tzinfo | None = None) -> str:
    """OCR of one overlay crop (:func:`overlay_crop`), tesseract --psm 7 (one line).

    ``tz`` (the site's zone) limits the letters read to its abbreviations; ``None``: MST/MDT.
    """
    return " ".join(_tesseract(_binarised(grey), tz, 7).split())


#: Overlay crops read in one tesseract call (:func:`read_overlay_crops`).
OCR_BATCH = 64


def read_overlay_crops(greys: Sequence[np.ndarray], tz: tzinfo | None = None) -> list[str]:
    """OCR of many overlay crops: stacked, up to :data:`OCR_BATCH` to one tesseract call (--psm 6,
    a block of lines), about 5x faster than a call each, which starts tesseract and loads its model
    every time.

    Each word tesseract finds is given to the crop its box lies in on the stacked image (crops are
    separated by blank bands), never by counting lines: a blank overlay, or a blob that splits a
    line in two, cannot shift the other frames' texts. A crop with no word reads ''.
    """
    import pytesseract

    texts: list[str] = []
    for start in range(0, len(greys), OCR_BATCH):
        batch = [_binarised(g) for g in greys[start : start + OCR_BATCH]]
        if len(batch) == 1:
            texts.append(" ".join(_tesseract(batch[0], tz, 7).split()))
            continue
        height, width = max(b.shape[0] for b in batch), max(b.shape[1] for b in batch)
        band = 40  # blank rows between crops
        pitch = height + band
        tall = np.full((pitch * len(batch), width), 255, np.uint8)
        for k, b in enumerate(batch):
            tall[k * pitch : k * pitch + b.shape[0], : b.shape[1]] = b
        data = pytesseract.image_to_data(tall, config=_tesseract_config(tz, 6), output_type=pytesseract.Output.DICT)
        words: list[list[tuple[int, int, str]]] = [[] for _ in batch]
        for text, top, h, left in zip(data["text"], data["top"], data["height"], data["left"]):
            if not str(text).strip():
                continue
            k = int((top + h / 2) // pitch)
            if 0 <= k < len(batch) and (top + h / 2) - k * pitch < height:  # inside crop k, not in a band
                words[k].append((top // 8, left, str(text).strip()))
        texts += [" ".join(w for _, _, w in sorted(ws)) for ws in words]
    return texts


def read_overlay(rgb: np.ndarray, box: tuple[int, int, int, int], tz: tzinfo | None = None) -> str:
    """OCR of the burned-in time of a movie frame (:func:`overlay_crop`, then :func:`read_overlay_crop`)."""
    return read_overlay_crop(overlay_crop(rgb, box), tz)


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
        OCR'd UTC times in seconds (NaN where unreadable, or not read).
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
    fitted, residual, _ = _fit_segments(index, read_s, cadence_s, tol_s, confirm)
    return fitted, residual


def _fit_segments(index: np.ndarray, read_s: np.ndarray, cadence_s: float, tol_s: float = 30.0, confirm: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_times`, also returning each frame's segment (-1: none; frames without a read
    take the segment of the nearest read before them)."""
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
        return fitted, np.full(len(index), np.nan), np.full(len(index), -1)
    # Frames without a read belong to the segment of the nearest read before them.
    filled = pd.Series(np.where(segment >= 0, segment, np.nan)).ffill().bfill().to_numpy()
    for s in range(seg + 1):
        members = np.flatnonzero(segment == s)
        slope = cadence_s
        if len(members) >= 5:
            slope = theilslopes(read_s[members], index[members])[0]
        if abs(slope - cadence_s) > 0.05 * cadence_s:  # a short or odd segment: trust the camera's cadence
            slope = cadence_s
        # Round t0 to the second the overlay resolves.
        t0 = np.round(np.median(read_s[members] - slope * index[members]))
        rows = filled == s
        fitted[rows] = t0 + slope * index[rows]
    return fitted, read_s - fitted, np.nan_to_num(filled, nan=-1).astype(int)


#: Kept frames between the overlay reads of the first pass (:func:`sparse_fit`).
OCR_EVERY = 10


def sparse_fit(
    index: np.ndarray,
    read: Callable[[list[int]], Sequence[tuple[float, str]]],
    cadence_s: float,
    *,
    every: int = OCR_EVERY,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The time fit of :func:`fit_times` from as few overlay reads as confirm it.

    ``time = t0 + 6 s x frame index`` needs a few reads per segment, not one per frame. A first
    pass reads every ``every``-th kept frame and the last; then, until nothing is odd, it reads
    more where something is: both neighbours of a read that disagrees with the fit or cannot be
    parsed (a lone misread stays a flagged misread; a restart gathers the reads that confirm its
    new segment), and every frame between two consecutive reads that fall in different segments
    (a restart: its first frame is found exactly) or carry different zone abbreviations (a DST
    switch: confirmed continuous in UTC). Frames not read take their segment's fitted time.

    Parameters
    ----------
    index
        Movie frame numbers of the kept frames (increasing).
    read
        ``read(ks)``: for each kept frame ``k`` of ``ks`` (0-based positions in ``index``), the UTC
        seconds (NaN if unparsable) and zone abbreviation ('' if none) of its overlay; asked at
        most once per frame by this function, in a few large batches.
    cadence_s
        Nominal seconds of sky time per movie frame.
    every
        Kept frames between the first pass's reads (1: read every frame).

    Returns
    -------
    fitted_s, residual_s, was_read
        As :func:`fit_times` over all kept frames (residual NaN where not read), and which frames
        were read.
    """
    if every < 1:
        raise AuroraSWError(f"overlay reads every {every} kept frames: give 1 or more")
    n = len(index)
    read_s = np.full(n, np.nan)
    zone = np.full(n, "", dtype=object)
    was_read = np.zeros(n, bool)

    def ensure(positions) -> int:
        new = sorted({int(p) for p in positions if 0 <= p < n and not was_read[p]})
        for p, (seconds, abbreviation) in zip(new, read(new) if new else []):
            read_s[p], zone[p] = seconds, abbreviation
            was_read[p] = True
        return len(new)

    ensure([*range(0, n, every), n - 1])
    while True:
        pos = np.flatnonzero(was_read)
        _, residual, segment = _fit_segments(index[pos], read_s[pos], cadence_s)
        wanted: list[int] = []
        for k in np.flatnonzero(~(np.abs(residual) <= MISMATCH_S)):  # NaN: unparsable or outside every segment
            wanted += [pos[k] - 1, pos[k] + 1]
        parsed = np.isfinite(read_s[pos])
        change = (segment[1:] != segment[:-1]) | ((zone[pos][1:] != zone[pos][:-1]) & parsed[1:] & parsed[:-1])
        for k in np.flatnonzero(change & (np.diff(pos) > 1)):
            wanted += range(pos[k] + 1, pos[k + 1])
        if not ensure(wanted):
            break
    fitted, residual, _ = _fit_segments(index, read_s, cadence_s)
    return fitted, residual, was_read


def _fits(rgb: np.ndarray, box: tuple[int, int, int, int], epochs) -> bool:
    """Whether a movie frame holds the overlay box and every epoch's sky circle."""
    h, w = rgb.shape[:2]
    circles = all(e.mask_center_xy[0] + e.mask_radius_px <= w and e.mask_center_xy[1] + e.mask_radius_px <= h for e in epochs)
    return box[2] <= w and box[3] <= h and circles


def _geometry(epoch) -> tuple:
    """What a crop depends on: the sky circle's centre and radius."""
    return (tuple(epoch.mask_center_xy), epoch.mask_radius_px)


def remove_stale_pending(frames_dir: Path) -> None:
    """Remove the frames of a killed movie ingest, never renamed to their times (call it holding the
    archive's lock, before any movie of this run starts: then none of these is in use)."""
    for stale in frames_dir.glob(".pending-*"):
        shutil.rmtree(stale, ignore_errors=True)


def video_records(
    path: Path,
    site: Site,
    *,
    frames_dir: Path,
    every_s: float = 60.0,
    out_size: int = 720,
    progress: bool = True,
    ocr_every: int = OCR_EVERY,
) -> tuple[list[dict], list[ProblematicFile]]:
    """Sample, OCR, fit and crop one movie, streaming: each kept frame is cropped and written as it
    is decoded; only its overlay crop (grey, ~23 kB) waits for the time fit, so memory stays flat
    in the movie's length. The overlay is read sparsely (:func:`sparse_fit`); the frames are then
    renamed to their UTC times.

    Parameters
    ----------
    path
        The movie.
    site
        Its camera site (cadence, zone, camera epochs).
    frames_dir
        The archive's frames folder: ``DATE/YYYYMMDDTHHMMSSZ.jpg``.
    every_s
        Sky seconds between kept frames (60: one a minute).
    out_size
        Side of the square sky crop written (pixels).
    ocr_every
        Kept frames between the first pass's overlay reads (1: read every kept frame).

    Returns
    -------
    records, problems
        Frame records for the manifest (``time_utc``, ``path``, ``source``, ``frame_index``,
        ``ocr_text`` ('' where the overlay was not read: the time is the fit's),
        ``time_residual_s``, ``flags``) and the problems met (each with its reason).
    """
    from tqdm.auto import tqdm

    if ocr_every < 1:
        raise AuroraSWError(f"--ocr-every {ocr_every}: give 1 (read every kept frame's time) or more")
    step = max(int(round(every_s / site.frame_cadence_s)), 1)
    box = tuple(site.camera_epochs[-1].overlay_box)
    frames_dir.mkdir(parents=True, exist_ok=True)
    pending = Path(tempfile.mkdtemp(prefix=f".pending-{path.stem}-", dir=frames_dir))
    overlays: list[np.ndarray] = []
    indices: list[int] = []
    cropped_with: list = []
    texts: dict[int, str] = {}
    problems: list[ProblematicFile] = []

    def read(ks: list[int]) -> list[tuple[float, str]]:
        todo = [k for k in ks if k not in texts]
        texts.update(zip(todo, read_overlay_crops([overlays[k] for k in todo], site.tz)))
        out = []
        for k in ks:
            t, m = parse_overlay(texts[k], site.tz), _overlay_re(site.tz).search(texts[k])
            out.append(((t.timestamp() if t else np.nan), (m.group(7) or "") if m else ""))
        return out

    def epoch_at(t_s: float):
        try:
            return site.camera_epoch(datetime.fromtimestamp(t_s, timezone.utc))
        except CatalogError:
            return None

    def write_crop(index: int, rgb: np.ndarray, epoch) -> None:
        cv2.imwrite(str(pending / f"{index}.jpg"), crop_sky(rgb, epoch, out_size=out_size)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])

    try:
        epoch = None
        # Crops are written by one thread beside the decoder (OpenCV lets go of the GIL), a few
        # frames behind it at most: memory stays flat.
        with ThreadPoolExecutor(max_workers=1) as writer:
            writes: deque = deque()
            try:
                for vf in tqdm(iter_frames(path, step), desc=f"ingesting {path.name}", unit="frame", disable=not progress):
                    k = len(indices)
                    if k == 0 and not _fits(vf.rgb, box, site.camera_epochs):
                        h, w = vf.rgb.shape[:2]
                        problems.append(ProblematicFile.of(path, "unreadable_video", f"frames are {w}x{h}: smaller than the overlay box {list(box)} or the sky circle the catalog's camera epochs give (an AuroraMAX movie is 1280x720)"))
                        return [], problems
                    overlays.append(overlay_crop(vf.rgb, box))
                    indices.append(vf.index)
                    if epoch is None:  # the camera's geometry: from the first overlay that reads
                        t_s, _ = read([k])[0]
                        epoch = epoch_at(t_s) if np.isfinite(t_s) else None
                    used = epoch or site.camera_epochs[-1]
                    cropped_with.append(used)
                    writes.append(writer.submit(write_crop, vf.index, vf.rgb, used))
                    while len(writes) > 4:
                        writes.popleft().result()
            except AuroraSWError as exc:
                problems.append(ProblematicFile.of(path, "unreadable_video", str(exc).split(": ", 1)[-1]))
            for write in writes:
                write.result()
        if not indices:
            return [], problems
        idx = np.array(indices, float)
        fitted, residual, was_read = sparse_fit(idx, read, site.frame_cadence_s, every=ocr_every)
        if np.isnan(fitted).all():
            problems.append(ProblematicFile.of(path, "no_overlay_time", "the burned-in time could not be read and confirmed (3 agreeing reads in a row) anywhere in the movie; nothing ingested"))
            return [], problems
        log.debug("%s: %d of %d kept frames' overlays read", path.name, int(was_read.sum()), len(idx))
        # A camera epoch that changes inside the movie, with another sky circle: crop those frames again.
        recrop = {indices[k]: e for k, t_s in enumerate(fitted)
                  if np.isfinite(t_s) and (e := epoch_at(t_s)) is not None and _geometry(e) != _geometry(cropped_with[k])}
        if recrop:
            try:
                for vf in iter_frames(path, step):
                    if vf.index in recrop:
                        write_crop(vf.index, vf.rgb, recrop[vf.index])
            except AuroraSWError:
                pass  # the movie breaks off as in the first pass (already a problem): the frames before it are done
        records = []
        claimed: set[Path] = set()
        for k, (t_s, res) in enumerate(zip(fitted, residual)):
            if np.isnan(t_s):
                continue
            t = pd.Timestamp(t_s, unit="s", tz="UTC")
            out = frames_dir / f"{t:%Y-%m-%d}" / t.strftime("%Y%m%dT%H%M%SZ.jpg")
            if out in claimed:  # two kept frames fitted to one second: keep the first, never overwrite it
                problems.append(ProblematicFile.of(path, "duplicate_minute", f"frame {indices[k]} fitted to {t:%Y-%m-%d %H:%M:%S} UTC like an earlier frame; left out"))
                continue
            claimed.add(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(pending / f"{indices[k]}.jpg", out)
            mismatch = bool(was_read[k]) and not (abs(res) <= MISMATCH_S)
            records.append(
                {
                    "time_utc": t,
                    "path": str(out.resolve()),
                    "source": str(path.resolve()),
                    "frame_index": int(indices[k]),
                    "ocr_text": texts.get(k, ""),
                    "time_residual_s": float(res) if np.isfinite(res) else np.nan,
                    "flags": "ocr_mismatch" if mismatch else "",
                }
            )
    finally:
        shutil.rmtree(pending, ignore_errors=True)
    n_bad = sum(r["flags"] == "ocr_mismatch" for r in records)
    log.info("%s: %d kept frames, %d overlays read (%d disagree with the fit: flagged ocr_mismatch)", path.name, len(records), len(texts), n_bad)
    return records, problems


def find_videos(folder: Path) -> list[Path]:
    """Movie files under ``folder`` (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
