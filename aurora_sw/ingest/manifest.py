"""The archive manifest: one row per kept frame, with UTC time, night, sky conditions and flags.

Written as ``ARCHIVE/manifest.parquet``. Re-ingesting the same sources adds nothing twice (rows
are keyed by frame path and time); writes go to a temporary file renamed into place, so a killed
run never leaves a half-written manifest. Files that could not be used are listed, each with its
reason, in ``ARCHIVE/ingest_problems.csv`` and in the returned summary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.ingest.jpeg import scan_frames
from aurora_sw.ingest.video import VIDEO_SUFFIXES, find_videos, video_records
from aurora_sw.sky import local_night, sky_conditions

MANIFEST_COLUMNS = [
    "time_utc", "night", "source", "frame_index", "ocr_text", "time_residual_s",
    "sun_alt", "sun_az", "moon_alt", "moon_az", "moon_phase", "moon_illum",
    "sun_class", "moon_class", "flags", "path",
]
# Quality flags: comma-separated names in the manifest, a CF bitmask in the index.
FLAG_BITS = {"unreadable": 1, "dark": 2, "overexposed": 4, "duplicate": 8, "ocr_mismatch": 16}
MANIFEST_NAME = "manifest.parquet"
PROBLEMS_NAME = "ingest_problems.csv"


@dataclass
class IngestSummary:
    """What an ingest did: rows added and kept, and every file that could not be used."""

    manifest_path: Path
    n_added: int
    n_total: int
    problems: list[dict] = field(default_factory=list)


def _quality_flags(path: str, previous: np.ndarray | None) -> tuple[str, np.ndarray | None]:
    """Flags for one frame: unreadable, dark, overexposed, duplicate (of the previous frame).

    Decodes at 1/8 size (JPEG DCT scaling), which is all these checks need.
    """
    import cv2

    img = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_8)
    if img is None or img.size == 0:
        return "unreadable", None
    h, w = img.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    inside = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 <= (0.9 * min(h, w) / 2) ** 2
    sky = img[inside].astype(np.float32)
    flags = []
    if sky.mean() < 3.0:
        flags.append("dark")
    if (sky > 250).mean() > 0.5:
        flags.append("overexposed")
    if previous is not None and previous.shape == sky.shape and np.abs(previous - sky).mean() < 0.05:
        flags.append("duplicate")
    return ",".join(flags), sky


def build_manifest(
    sources: list[str | os.PathLike],
    catalog: Catalog | None = None,
    site_key: str = "yellowknife",
    every_s: float = 60.0,
    check_quality: bool = True,
    progress: bool = True,
    frames_dir: Path | None = None,
    skip_videos: set[str] | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Frame records of ``sources`` sampled at ``every_s`` of sky time, with sky conditions.

    Parameters
    ----------
    sources
        Folders of JPEG/PNG frames with the UTC time in the file name, AuroraMAX movies, or
        folders holding movies.
    every_s
        Keep the first frame of each ``every_s``-second bin of UTC time (60 = one a minute).
    check_quality
        Decode each kept frame (at 1/8 size) for the unreadable/dark/overexposed/duplicate flags.
    frames_dir
        Where frames extracted from movies are written (720x720 sky crops named by UTC time).
    skip_videos
        Movie paths already in the archive; they are not decoded again.

    Returns
    -------
    manifest : pandas.DataFrame
        Columns :data:`MANIFEST_COLUMNS`, sorted by time.
    problems : list of dict
        ``{"path": ..., "problem": ...}`` for every file that was skipped.
    """
    catalog = catalog or load_catalog()
    site = catalog.site(site_key)
    records, problems = [], []
    videos = []
    for src in sources:
        src = Path(src)
        if src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES:
            videos.append(src)
        elif src.is_dir():
            videos += find_videos(src)
            for rec in scan_frames(src, catalog):
                if rec.get("problem"):
                    problems.append({"path": rec["path"], "problem": rec["problem"]})
                else:
                    records.append(rec)
        else:
            problems.append({"path": str(src), "problem": "not a folder of frames nor a movie file"})
    done = set(skip_videos or ())
    for video in videos:
        if str(video.resolve()) in done:
            continue
        if frames_dir is None:
            raise AuroraSWError(f"{video}: ingesting movies needs a folder for the extracted frames")
        recs, probs = video_records(video, site, frames_dir, every_s, progress=progress)
        records += recs
        problems += probs
    if not records:
        return pd.DataFrame(columns=MANIFEST_COLUMNS), problems

    df = pd.DataFrame(records).sort_values(["time_utc", "path"]).reset_index(drop=True)
    df["time_utc"] = pd.to_datetime(df["time_utc"], utc=True)
    bins = df["time_utc"].dt.floor(pd.Timedelta(seconds=every_s)).to_numpy()
    df = df[np.r_[True, bins[1:] != bins[:-1]]].reset_index(drop=True)

    geo = sky_conditions(pd.DatetimeIndex(df["time_utc"]), site, catalog.sky_conditions)
    for col in ["sun_alt", "sun_az", "moon_alt", "moon_az", "moon_phase", "moon_illum", "sun_class", "moon_class"]:
        df[col] = geo[col].to_numpy()
    df["night"] = pd.to_datetime(local_night(pd.DatetimeIndex(df["time_utc"]), site)).strftime("%Y-%m-%d")
    for col, default in (("frame_index", -1), ("ocr_text", ""), ("time_residual_s", np.nan), ("flags", "")):
        df[col] = df[col].fillna(default) if col in df else default
    df["frame_index"] = df["frame_index"].astype(int)
    from_video = df["frame_index"] >= 0
    df.loc[~from_video, "frame_index"] = df[~from_video].groupby("night").cumcount()

    flags = []
    if check_quality:
        prev = None
        for path, earlier in tqdm(zip(df["path"], df["flags"]), total=len(df), desc="checking frames", unit="frame", disable=not progress):
            f, prev_new = _quality_flags(path, prev)
            flags.append(",".join(x for x in (earlier, f) if x))
            prev = prev_new if prev_new is not None else prev
            if f == "unreadable":
                problems.append({"path": path, "problem": "unreadable image (corrupt, truncated or not an image)"})
    else:
        flags = list(df["flags"])
    df["flags"] = flags
    df = df[~df["flags"].str.contains("unreadable")].reset_index(drop=True)
    return df[MANIFEST_COLUMNS], problems


def flags_to_bits(flags: pd.Series) -> np.ndarray:
    """Comma-separated flag names -> integer bitmask (:data:`FLAG_BITS`)."""
    out = np.zeros(len(flags), np.int16)
    for name, bit in FLAG_BITS.items():
        out |= np.where(flags.fillna("").str.contains(name, regex=False), bit, 0).astype(np.int16)
    return out


def read_manifest(archive: str | os.PathLike) -> pd.DataFrame:
    """Read ``ARCHIVE/manifest.parquet`` (or a manifest file given directly); frame paths come
    back absolute (they are stored relative to the manifest's folder)."""
    path = Path(archive)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists():
        raise AuroraSWError(f"{path}: no manifest here; run `aurora-sw ingest SOURCE --out ARCHIVE` first")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise AuroraSWError(f"{path}: cannot read the manifest ({exc})") from None
    missing = set(MANIFEST_COLUMNS) - set(df.columns)
    if missing:
        raise AuroraSWError(f"{path}: not an aurora-sw manifest (missing columns {sorted(missing)})")
    base = os.path.abspath(path.parent)
    df["path"] = [p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p)) for p in df["path"].astype(str)]
    return df


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write the manifest with frame paths relative to its folder, so an archive (or a project
    folder holding it and its frames) can be moved; :func:`read_manifest` makes them absolute."""
    base = os.path.abspath(path.parent)
    df = df.assign(path=[os.path.relpath(os.path.abspath(p), base) for p in df["path"].astype(str)])
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def ingest(
    sources: list[str | os.PathLike],
    archive: str | os.PathLike,
    catalog: Catalog | None = None,
    site_key: str = "yellowknife",
    every_s: float = 60.0,
    progress: bool = True,
) -> IngestSummary:
    """Add the frames of ``sources`` to the archive's manifest (idempotent).

    Rows already in the manifest (same path and time) are kept as they are; new rows are
    appended; the manifest is replaced atomically. Problems are appended to
    ``ingest_problems.csv``.
    """
    archive = Path(archive)
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / MANIFEST_NAME
    old = read_manifest(path) if path.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
    new, problems = build_manifest(
        sources, catalog, site_key, every_s, progress=progress, frames_dir=archive / "frames", skip_videos=set(old["source"])
    )
    known = set(zip(old["path"], pd.to_datetime(old["time_utc"], utc=True)))
    fresh = new[[(p, t) not in known for p, t in zip(new["path"], new["time_utc"])]] if len(new) else new
    merged = pd.concat([old, fresh], ignore_index=True) if len(old) else fresh
    merged = merged.sort_values(["time_utc", "path"]).reset_index(drop=True)
    _write_atomic(merged, path)
    if problems:
        prob = pd.DataFrame(problems)
        prob_path = archive / PROBLEMS_NAME
        prob.to_csv(prob_path, mode="a", header=not prob_path.exists(), index=False)
    return IngestSummary(manifest_path=path, n_added=len(fresh), n_total=len(merged), problems=problems)
