"""Score an archive into the aurora index, here or on a Dask cluster: one entry for every face.

``aurora-sw score`` and ``pipelines/score_archive.py`` call :func:`score`; the scoring itself, its
checks, resume and writer lock are :func:`aurora_sw.index.pipeline.score_archive`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ScoreResult", "score"]


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score` did: nights scored and kept, frames scored and left unscored, the store."""

    scored: list[str]
    skipped: list[str]
    frames: int
    unreadable: int
    store: Path

    def summary(self) -> str:
        """One line for a log or a terminal."""
        return (f"{len(self.scored)} nights scored ({self.frames} frames, {self.unreadable} unreadable), "
                f"{len(self.skipped)} already complete -> {self.store}")


def score(
    archive: str | os.PathLike,
    model: str | os.PathLike,
    out: str | os.PathLike = "index.zarr",
    *,
    resume: bool = False,
    batch_size: int | None = None,
    workers: int = 0,
    backend: str = "auto",
    cam: bool = False,
    decode: str = "cpu",
    dask: bool = False,
    scheduler: str | None = None,
    catalog_path: str | os.PathLike | None = None,
    site_key: str | None = None,
    progress: bool = True,
) -> ScoreResult:
    """Score every minute of every night of ``archive`` into the index store ``out``.

    Parameters
    ----------
    archive, model, out
        The archive folder (``manifest.parquet``), the classifier checkpoint, the Zarr store.
    resume
        Keep complete, intact nights; score the rest and damaged ones.
    batch_size, workers, backend, cam, decode
        As :func:`aurora_sw.index.pipeline.score_archive` (``workers``: DataLoader processes).
    dask, scheduler
        Spread nights over a local Dask cluster (``dask``), or over the running scheduler at
        ``scheduler`` (e.g. ``tcp://host:8786``); the client is closed however scoring ends.
    catalog_path
        The catalog used, recorded in the store's attributes.
    site_key
        The site the frames are from (default: the catalog's default site), recorded in the store.

    Returns
    -------
    ScoreResult
    """
    from aurora_sw.cluster import dask_client
    from aurora_sw.index.pipeline import score_archive

    with dask_client(dask=dask, scheduler=scheduler) as client:
        r = score_archive(archive, model, out, resume=resume, batch_size=batch_size, num_workers=workers, client=client, progress=progress,
                          catalog_path=str(catalog_path) if catalog_path else None, site_key=site_key, backend=backend, cam=cam, decode=decode)
    return ScoreResult(scored=list(r["scored"]), skipped=list(r["skipped"]), frames=int(r["frames"]), unreadable=int(r["unreadable"]), store=Path(out))
