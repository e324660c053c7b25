"""What an ingest has decoded from each movie before it writes the manifest, so a rerun after an
interruption decodes only the movies not yet done.

The manifest is written once, at the end of a run (atomically: it is one table, deduplicated and
checked as a whole). A 331-night archive takes about an hour to decode, so each movie's frame
records and problems are kept in ``ARCHIVE/.movies_done/`` as soon as the movie is done, one pair
of Parquet files each; the run that writes the manifest removes the folder. An entry is used only
for the same movie file (path, size, modification time) decoded with the same options (cadence,
overlay reads, site), and only while its frames are all still on disk. Frame paths are kept relative
to the archive's frame folder, so an archive copied elsewhere mid-ingest finishes with its own frames.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pandas as pd

from aurora_sw.catalog import Site
from aurora_sw.ingest.problems import PROBLEM_COLUMNS, ProblematicFile

__all__ = ["JOURNAL_NAME", "MovieJournal"]

log = logging.getLogger(__name__)

#: The journal's folder in an archive.
JOURNAL_NAME = ".movies_done"
#: A movie's frame records (:func:`aurora_sw.ingest.video.video_records`), as stored.
RECORD_COLUMNS = ["time_utc", "path", "source", "frame_index", "ocr_text", "time_residual_s", "flags"]


class MovieJournal:
    """The movies one archive's unfinished ingest has decoded (see the module's docstring).

    Parameters
    ----------
    folder
        The journal's folder (``ARCHIVE/.movies_done``); made on the first :meth:`save`.
    frames_dir
        Where the movies' frames are written (``ARCHIVE/frames``): records keep their frame paths
        relative to it.
    site, every_s, ocr_every
        The options the records depend on: an entry made with others is not used.
    """

    def __init__(self, folder: str | os.PathLike, frames_dir: str | os.PathLike, *, site: Site, every_s: float, ocr_every: int) -> None:
        self.folder = Path(folder)
        self.frames_dir = Path(frames_dir).resolve()
        self._options = f"{site.model_dump_json()}|{every_s!r}|{ocr_every}"

    def _stem(self, video: Path) -> Path:
        st = video.stat()
        key = f"{video.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self._options}"
        return self.folder / hashlib.sha256(key.encode()).hexdigest()[:32]

    def load(self, video: Path) -> tuple[list[dict], list[ProblematicFile]] | None:
        """The movie's records and problems as a run decoded them, or None: not done, done another
        way, its file changed since, a frame gone, or an entry that cannot be read."""
        stem = self._stem(video)
        records_file, problems_file = stem.with_suffix(".records.parquet"), stem.with_suffix(".problems.parquet")
        if not records_file.is_file():
            return None
        try:
            records = pd.read_parquet(records_file).to_dict("records")
            problems = [ProblematicFile(**row) for row in pd.read_parquet(problems_file).to_dict("records")]
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file: decode the movie again
            log.warning("%s: unreadable entry for %s (%s: %s); decoding the movie again", records_file, video, type(exc).__name__, exc)
            return None
        for r in records:
            r["path"] = str((self.frames_dir / r["path"]).resolve())
        if not all(os.path.exists(r["path"]) for r in records):
            return None
        return records, problems

    def save(self, video: Path, records: list[dict], problems: list[ProblematicFile]) -> None:
        """Keep a decoded movie's records and problems: the problems first, then the records, each
        written whole and renamed into place, so an entry is complete or absent."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self._stem(video)
        _write(pd.DataFrame([p.as_row() for p in problems], columns=PROBLEM_COLUMNS), stem.with_suffix(".problems.parquet"))
        kept = pd.DataFrame(records, columns=RECORD_COLUMNS)
        kept["path"] = [os.path.relpath(path, self.frames_dir) for path in kept["path"].astype(str)]
        _write(kept, stem.with_suffix(".records.parquet"))


def _write(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
