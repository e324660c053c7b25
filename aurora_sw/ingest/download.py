"""Download AuroraMAX movies by date, from the URL pattern in the catalog (plain HTTP, no client library).

Files land as ``OUT/auroramaxHD_YYYYMMDD_720p.mp4``, written to ``.part`` first and renamed when
complete, so an interrupted download never looks finished; files already there are skipped.
Without a network it says so in one line, at once.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.ingest.problems import ProblematicFile
from aurora_sw.network import host_reachable


def movie_url(date: pd.Timestamp, catalog: Catalog, source: str = "auroramax_movie", resolution: str | None = None) -> str:
    """The movie URL for a night's date (``sources.SOURCE.url`` with ``{date}`` and ``{resolution}``)."""
    src = catalog.sources.get(source)
    if src is None or not src.url:
        raise AuroraSWError(f"{catalog.path}: sources.{source}.url: no URL pattern in the catalog")
    return src.url.format(date=pd.Timestamp(date), resolution=resolution or src.resolution or "720p")


def download_movies(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    out: str | os.PathLike,
    *,
    catalog: Catalog | None = None,
    resolution: str | None = None,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> tuple[list[Path], list[ProblematicFile]]:
    """Download the movies of the nights ``start`` .. ``end`` (inclusive dates).

    Returns
    -------
    files, problems
        The movie paths now present, and a
        :class:`~aurora_sw.ingest.problems.ProblematicFile` (the URL, ``http_error`` or
        ``download_failed``) for each night that could not be fetched (no movie that night, e.g. in summer, or a server error).

    Raises
    ------
    NetworkUnavailableError
        The server cannot be reached at all.
    """
    catalog = catalog or load_catalog()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dates = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D")
    urls = [movie_url(d, catalog, resolution=resolution) for d in dates]
    files, problems = [], []
    todo = [(u, out / u.rsplit("/", 1)[-1]) for u in urls]
    todo_missing = [(u, p) for u, p in todo if not p.exists()]
    files += [p for u, p in todo if p.exists()]
    if todo_missing and not host_reachable(todo_missing[0][0]):
        host = todo_missing[0][0].split("/")[2]
        raise NetworkUnavailableError(f"no network: cannot reach {host} to download AuroraMAX movies ({len(todo_missing)} missing)")
    for url, path in tqdm(todo_missing, desc="downloading", unit="movie", disable=not progress):
        part = path.with_name(path.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp, open(part, "wb") as fh:
                shutil.copyfileobj(resp, fh, length=1 << 20)
        except urllib.error.HTTPError as exc:
            part.unlink(missing_ok=True)
            problems.append(ProblematicFile.of(url, "http_error", f"HTTP {exc.code} ({'no movie that night' if exc.code == 404 else exc.reason})"))
            continue
        except (urllib.error.URLError, OSError) as exc:
            part.unlink(missing_ok=True)
            problems.append(ProblematicFile.of(url, "download_failed", f"download failed ({exc})"))
            continue
        os.replace(part, path)
        files.append(path)
    return sorted(files), problems
