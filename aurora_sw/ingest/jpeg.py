"""Folders of JPEG/PNG frames whose file names carry the UTC time (patterns from the catalog)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from aurora_sw.catalog import Catalog
from aurora_sw.errors import AuroraSWError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def filename_patterns(catalog: Catalog) -> list[re.Pattern]:
    """All ``filename_patterns`` of the catalog's jpeg sources, compiled (case-insensitive)."""
    pats = [p for src in catalog.sources.values() if src.kind == "jpeg" for p in src.filename_patterns]
    return [re.compile(p, re.IGNORECASE) for p in pats]


def time_from_name(name: str, patterns: list[re.Pattern]) -> pd.Timestamp | None:
    """UTC time encoded in a frame's file name, or None if no pattern matches."""
    for pat in patterns:
        m = pat.match(name)
        if m:
            g = m.groupdict()
            try:
                return pd.Timestamp(
                    year=int(g["Y"]), month=int(g["m"]), day=int(g["d"]),
                    hour=int(g["H"]), minute=int(g["M"]), second=int(g["S"]), tz="UTC",
                )
            except ValueError:
                return None
    return None


def scan_frames(folder: Path, catalog: Catalog) -> Iterator[dict]:
    """Frame records for every image under ``folder`` (recursively).

    Yields dicts with ``time_utc``, ``path`` and ``source``; a file whose name has no time yields
    a record with ``time_utc=None`` and ``problem`` saying why, so the caller can report it.
    """
    if not folder.is_dir():
        raise AuroraSWError(f"{folder}: not a folder of frames")
    patterns = filename_patterns(catalog)
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        t = time_from_name(path.name, patterns)
        rec = {"time_utc": t, "path": str(path.resolve()), "source": str(folder)}
        if t is None:
            rec["problem"] = "no UTC time in the file name (see sources.*.filename_patterns in the catalog)"
        yield rec
