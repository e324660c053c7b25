"""The archive manifest: one row per kept frame, with UTC time, night, sky conditions and flags.

Written as ``ARCHIVE/manifest.parquet``. Re-ingesting the same sources adds nothing twice (rows
are keyed by frame path and time), and a minute the manifest already has is not added again from
another file (the first frame of a minute stays; the other is listed as ``duplicate_minute``).
One ingest at a time writes an archive (:func:`aurora_sw.locking.writer_lock`); writes go to a
temporary file renamed into place, so a killed run never leaves a half-written manifest.

Every frame is read strictly (:func:`aurora_sw.camera.read_frame`): an unreadable file is left
out; a truncated, too small or greyscale frame keeps its row, flagged with that reason, and is
never scored. Files that could not be used are listed, each with its reason, in the returned
summary and in ``ARCHIVE/ingest_problems.csv`` (one row per file and reason, however often the
archive is re-ingested).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aurora_sw.camera import FrameError, read_frame
from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.ingest.jpeg import scan_frames
from aurora_sw.ingest.journal import JOURNAL_NAME, MovieJournal
from aurora_sw.ingest.problems import PROBLEM_COLUMNS, ProblematicFile
from aurora_sw.ingest.video import OCR_EVERY, VIDEO_SUFFIXES, find_videos, remove_stale_pending, video_records
from aurora_sw.locking import writer_lock
from aurora_sw.sky import local_night, sky_conditions
from aurora_sw.times import aware_utc

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "time_utc", "night", "source", "frame_index", "ocr_text", "time_residual_s",
    "sun_alt", "sun_az", "moon_alt", "moon_az", "moon_phase", "moon_illum",
    "sun_class", "moon_class", "flags", "path",
]
# Quality flags: comma-separated names in the manifest (each has its bit in the index's bitmask,
# aurora_sw.index.schema.FLAG_BITS). A frame flagged with a reason of aurora_sw.camera.FRAME_PROBLEMS
# keeps its minute but is never scored or labelled.
MANIFEST_NAME = "manifest.parquet"
PROBLEMS_NAME = "ingest_problems.csv"


@dataclass
class IngestSummary:
    """What an ingest did: rows added and kept, and every file that could not be used.

    ``problems`` are :class:`~aurora_sw.ingest.problems.ProblematicFile` records: ``path``,
    ``reason`` (a code: ``truncated``, ``no_time``, ``duplicate_minute``, ...) and ``problem``
    (the explanation).
    """

    manifest_path: Path
    n_added: int
    n_total: int
    problems: list[ProblematicFile] = field(default_factory=list)

    @property
    def problem_counts(self) -> dict[str, int]:
        """Number of problems of each reason, most frequent first."""
        return dict(Counter(p.reason for p in self.problems).most_common())


def add_flag(flags: str | None, flag: str) -> str:
    """Comma-separated ``flags`` with ``flag`` added once (an empty ``flag`` adds nothing)."""
    names = [f for f in flags.split(",") if f] if isinstance(flags, str) else []
    if flag and flag not in names:
        names.append(flag)
    return ",".join(names)


def _quality_flags(path: str, previous: np.ndarray | None) -> tuple[str, np.ndarray | None, str]:
    """Flags for one frame and what is wrong with it ("" if nothing).

    A frame :func:`~aurora_sw.camera.read_frame` refuses gets its reason as the flag (and is not
    looked at further); otherwise dark, overexposed, duplicate (of the previous frame). Decodes at
    1/8 size (JPEG DCT scaling), which is all these checks need.
    """
    try:
        img = read_frame(path, reduce=8)
    except FrameError as exc:
        return exc.reason, None, exc.problem
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
    return ",".join(flags), sky, ""


def _check_cadence(every_s: float) -> None:
    if not 0 < every_s < float("inf"):  # NaN too: a zero or negative cadence keeps nothing sensible
        raise AuroraSWError(f"ingest cadence (--every) {every_s:g} s: give a positive duration such as 60 (one frame a minute)")


def _die_with_parent() -> None:
    """In a movie worker: end when the ingest that started it ends, even killed (Linux's
    PR_SET_PDEATHSIG), so no orphan goes on writing frames outside the archive's lock."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers end when their queue closes


def _check_movie_options(ocr_every: int, workers: int) -> None:
    if workers < 1:
        raise AuroraSWError(f"ingest --workers {workers}: give 1 (one movie at a time) or more")
    if ocr_every < 1:
        raise AuroraSWError(f"ingest --ocr-every {ocr_every}: give 1 (read every kept frame's time) or more")


def _movies(videos: list[Path], site, *, frames_dir: Path | None, every_s: float, ocr_every: int, workers: int, progress: bool, client=None):
    """(records, problems) of each movie, in order: here one after another, ``workers`` at a time
    in worker processes, or on a Dask ``client``'s workers (each movie writes its own frames; one
    progress bar over the movies)."""
    if not videos:
        return
    remove_stale_pending(frames_dir)  # frames of a killed run, never renamed; the archive's lock is ours
    if client is not None:
        job = partial(video_records, site=site, frames_dir=frames_dir, every_s=every_s, progress=False, ocr_every=ocr_every)
        futures = client.map(job, videos, pure=False)
        try:
            yield from (f.result() for f in tqdm(futures, desc="ingesting movies", unit="movie", disable=not progress))
        finally:
            client.cancel(futures)
        return
    if workers == 1 or len(videos) == 1:
        for video in videos:
            yield video_records(video, site, frames_dir=frames_dir, every_s=every_s, progress=progress, ocr_every=ocr_every)
        return
    from concurrent.futures import ProcessPoolExecutor

    job = partial(video_records, site=site, frames_dir=frames_dir, every_s=every_s, progress=False, ocr_every=ocr_every)
    with ProcessPoolExecutor(max_workers=min(workers, len(videos)), initializer=_die_with_parent) as pool:
        yield from tqdm(pool.map(job, videos), total=len(videos), desc="ingesting movies", unit="movie", disable=not progress)


def build_manifest(
    sources: list[str | os.PathLike],
    catalog: Catalog | None = None,
    *,
    site_key: str | None = None,
    every_s: float = 60.0,
    check_quality: bool = True,
    progress: bool = True,
    frames_dir: Path | None = None,
    skip_videos: set[str] | None = None,
    ocr_every: int = OCR_EVERY,
    workers: int = 1,
    client=None,
    journal: str | os.PathLike | None = None,
) -> tuple[pd.DataFrame, list[ProblematicFile]]:
    """Frame records of ``sources`` sampled at ``every_s`` of sky time, with sky conditions.

    Parameters
    ----------
    sources
        Folders of JPEG/PNG frames with the UTC time in the file name, AuroraMAX movies, or
        folders holding movies.
    catalog
        The catalog (default :func:`~aurora_sw.catalog.load_catalog`).
    site_key
        The site the frames are from (default: the catalog's default site).
    every_s
        Keep the first frame of each ``every_s``-second bin of UTC time (60 = one a minute).
    check_quality
        Read each kept frame strictly (at 1/8 size) for the flags: a
        :data:`~aurora_sw.camera.FRAME_PROBLEMS` reason, or dark/overexposed/duplicate.
    frames_dir
        Where frames extracted from movies are written (720x720 sky crops named by UTC time).
    skip_videos
        Movie paths already in the archive; they are not decoded again.
    ocr_every
        Kept movie frames between the first pass's overlay reads
        (:func:`~aurora_sw.ingest.video.sparse_fit`; 1: read every kept frame's time).
    workers
        Movies ingested at once, each in its own process (1: one after another, here).
    client
        A ``dask.distributed.Client`` (:func:`aurora_sw.cluster.dask_client`): movies go to its
        workers instead (``workers`` is then unused); they must see ``frames_dir``.
    journal
        A folder where each movie's records are kept as soon as it is decoded, and taken from
        by a later call instead of decoding the movie again
        (:class:`~aurora_sw.ingest.journal.MovieJournal`; :func:`ingest` removes it once the
        manifest is written). The result is the same either way.

    Returns
    -------
    manifest : pandas.DataFrame
        Columns :data:`MANIFEST_COLUMNS`, sorted by time; one frame per ``every_s`` bin (the
        first by time, then path). Frames :func:`~aurora_sw.camera.read_frame` refuses are
        flagged with the reason (:data:`~aurora_sw.camera.FRAME_PROBLEMS`).
    problems : list of ProblematicFile
        Every file that is not usable, and every frame with the same UTC time as a kept one
        (``duplicate_minute``), each with its reason.
    """
    _check_cadence(every_s)
    _check_movie_options(ocr_every, workers)
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
                    problems.append(ProblematicFile.of(rec["path"], "no_time", rec["problem"]))
                else:
                    records.append(rec)
        else:
            problems.append(ProblematicFile.of(src, "not_a_source", "not a folder of frames nor a movie file"))
    done = set(skip_videos or ())
    todo = [v for v in videos if str(v.resolve()) not in done]
    if todo and frames_dir is None:
        raise AuroraSWError(f"{todo[0]}: ingesting movies needs a folder for the extracted frames")
    kept = MovieJournal(journal, frames_dir, site=site, every_s=every_s, ocr_every=ocr_every) if journal is not None and frames_dir else None
    decoded = {video: kept.load(video) for video in todo} if kept is not None else {}
    to_decode = [video for video in todo if decoded.get(video) is None]
    if len(to_decode) < len(todo):
        log.info("%d of %d movies taken from %s, decoded by an earlier run", len(todo) - len(to_decode), len(todo), journal)
    movies = _movies(to_decode, site, frames_dir=frames_dir, every_s=every_s, ocr_every=ocr_every, workers=workers, progress=progress, client=client)
    for video, (recs, probs) in zip(to_decode, movies):  # _movies yields in the order given
        if kept is not None:
            kept.save(video, recs, probs)
        decoded[video] = recs, probs
    for video in todo:  # in the sources' order, as a run that decoded them all
        records += decoded[video][0]
        problems += decoded[video][1]
    if not records:
        return pd.DataFrame(columns=MANIFEST_COLUMNS), problems

    df = pd.DataFrame(records).sort_values(["time_utc", "path"]).reset_index(drop=True)
    df["time_utc"] = aware_utc(df["time_utc"])
    bins = df["time_utc"].dt.floor(pd.Timedelta(seconds=every_s)).to_numpy()
    first = np.r_[True, bins[1:] != bins[:-1]]
    keeper = np.maximum.accumulate(np.where(first, np.arange(len(df)), 0))  # the kept row of each row's bin
    times, paths = df["time_utc"].to_numpy(), df["path"].to_numpy()
    # Later frames of a bin are the sampling; one at the very time of the kept frame is a copy.
    for i in np.flatnonzero(~first & (times == times[keeper])):
        problems.append(ProblematicFile.of(paths[i], "duplicate_minute", f"the same UTC time as {paths[keeper[i]]}, which is kept"))
    df = df[first].reset_index(drop=True)

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
            f, prev_new, problem = _quality_flags(path, prev)
            flags.append(",".join(x for x in (earlier, f) if x))
            prev = prev_new if prev_new is not None else prev
            if problem:
                problems.append(ProblematicFile.of(path, f, problem))
    else:
        flags = list(df["flags"])
    df["flags"] = flags
    return df[MANIFEST_COLUMNS], problems


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


def _merge(old: pd.DataFrame, new: pd.DataFrame, every_s: float) -> tuple[pd.DataFrame, int, list[ProblematicFile]]:
    """The manifest ``old`` with the rows of ``new`` added: (merged, rows added, problems).

    A row already there (same path and time) keeps its place and takes the flags just found, so
    a bad frame replaced in place loses its flag on the next ingest. A new unreadable frame is
    not added (there is no image to keep); truncated, too small and greyscale ones are, flagged.
    A new row in a time bin the manifest already holds (a copy of the same frames in another
    folder) is not added: the first frame of a minute stays and the newcomer is a
    ``duplicate_minute`` problem.
    """
    if new.empty:
        return old, 0, []
    step = pd.Timedelta(seconds=every_s)
    old_times = aware_utc(old["time_utc"])
    row_of = {(p, t): i for i, p, t in zip(old.index, old["path"], old_times)}
    at = [row_of.get((p, t)) for p, t in zip(new["path"], new["time_utc"])]
    known = np.array([i is not None for i in at])
    old = old.copy()
    old.loc[[i for i in at if i is not None], "flags"] = new.loc[known, "flags"].to_numpy()
    holder = dict(zip(old_times.dt.floor(step), old["path"]))
    fresh = new[~known & ~new["flags"].str.contains("unreadable", regex=False).to_numpy()]
    taken = [holder.get(b) for b in fresh["time_utc"].dt.floor(step)]
    problems = [
        ProblematicFile.of(p, "duplicate_minute", f"the manifest already has {other} for {t:%Y-%m-%d %H:%M:%S} UTC; the first frame stays")
        for p, t, other in zip(fresh["path"], fresh["time_utc"], taken) if other is not None
    ]
    fresh = fresh[[other is None for other in taken]]
    merged = pd.concat([old, fresh], ignore_index=True) if len(old) else fresh
    return merged.sort_values(["time_utc", "path"]).reset_index(drop=True), len(fresh), problems


def _write_problems(path: Path, problems: list[ProblematicFile], examined: set[str]) -> None:
    """Update ``ingest_problems.csv``: one row per file and reason.

    Rows of files examined in this run are replaced by what this run found (a file repaired
    since drops out); rows of other files stay. Replaced atomically, like the manifest.
    """
    rows = pd.DataFrame([p.as_row() for p in problems], columns=PROBLEM_COLUMNS)
    if path.exists():
        try:
            old = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            old = pd.DataFrame(columns=PROBLEM_COLUMNS)  # our own report, damaged: this run rewrites it
        if "reason" not in old:  # written before problems had a reason
            old["reason"] = old.get("problem", "")
        old = old.reindex(columns=PROBLEM_COLUMNS, fill_value="")
        rows = pd.concat([old[~old["path"].isin(examined)], rows], ignore_index=True)
    elif rows.empty:
        return
    rows = rows.drop_duplicates(["path", "reason"], keep="last").sort_values(["path", "reason"])
    tmp = path.with_name(path.name + ".tmp")
    rows.to_csv(tmp, index=False)
    os.replace(tmp, path)


def ingest(
    sources: list[str | os.PathLike],
    archive: str | os.PathLike,
    catalog: Catalog | None = None,
    *,
    site_key: str | None = None,
    every_s: float = 60.0,
    progress: bool = True,
    lock_timeout_s: float = 60.0,
    ocr_every: int = OCR_EVERY,
    workers: int = 1,
    client=None,
) -> IngestSummary:
    """Add the frames of ``sources`` to the archive's manifest (idempotent).

    Rows already in the manifest (same path and time) stay, with their flags brought up to
    date; new rows are added unless their minute is already there (``duplicate_minute``); the
    manifest is replaced atomically. ``ingest_problems.csv`` gets one row per file and reason.

    Parameters
    ----------
    sources
        Folders of frames, movies, or folders of movies (:func:`build_manifest`).
    archive
        The archive folder (created); its manifest is ``ARCHIVE/manifest.parquet``.
    catalog
        The catalog (default :func:`~aurora_sw.catalog.load_catalog`).
    site_key
        The site the frames are from (default: the catalog's default site).
    every_s
        Keep one frame per this many seconds of sky time.
    ocr_every, workers, client
        How sparsely movie overlays are read, how many movies at once, or on which Dask cluster
        (:func:`build_manifest`).
    lock_timeout_s
        Seconds to wait while another process writes this archive; after that the run stops
        with :class:`aurora_sw.locking.LockedError` naming the holder, having changed nothing.
        The lock is held for the whole run, so two ingests never decode the same movies twice
        nor lose each other's rows.
    """
    _check_cadence(every_s)  # before the lock, which makes the archive folder
    _check_movie_options(ocr_every, workers)
    archive = Path(archive)
    path = archive / MANIFEST_NAME
    # The lock (which makes the archive folder) comes first: a refused run leaves nothing behind.
    with writer_lock(path, timeout_s=lock_timeout_s, advice="let it finish and run again, or wait longer with --lock-timeout SECONDS"):
        old = read_manifest(path) if path.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
        new, problems = build_manifest(
            sources, catalog, site_key=site_key, every_s=every_s, progress=progress, frames_dir=archive / "frames", skip_videos=set(old["source"]),
            ocr_every=ocr_every, workers=workers, client=client, journal=archive / JOURNAL_NAME,
        )
        merged, n_added, duplicates = _merge(old, new, every_s)
        problems += duplicates
        # The problems first: a run killed between the two then finds its movies' problems again (from the
        # journal), where a manifest already written would have them skipped as done, their problems never listed.
        _write_problems(archive / PROBLEMS_NAME, problems, set(new["path"]) | {p.path for p in problems})
        _write_atomic(merged, path)
        shutil.rmtree(archive / JOURNAL_NAME, ignore_errors=True)  # the manifest holds its movies now
    return IngestSummary(manifest_path=path, n_added=n_added, n_total=len(merged), problems=problems)
