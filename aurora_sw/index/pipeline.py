"""Score an archive night by night into the index store: resumable, replaceable, Dask-mappable.

Each night is an independent task (read its frames, score them, write its region, mark it done),
so a killed run resumes where it stopped and nights can be spread over Dask workers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.score import score_frames
from aurora_sw.index.store import done_nights, init_store, write_night
from aurora_sw.ingest import read_manifest
from aurora_sw.ingest.manifest import add_flag
from aurora_sw.model.checkpoint import Checkpoint, load_checkpoint
from aurora_sw.model.gradcam import CAM_ATTRS, cam_statistics, gradcam_maps
from aurora_sw.model.runtime import Backend, default_device, resolve_backend


def score_night(
    frames: pd.DataFrame,
    ckpt: Checkpoint,
    store: str | os.PathLike,
    night: str,
    batch_size: int | None = None,
    num_workers: int = 0,
    backend: Backend = "auto",
    cam: bool = False,
) -> dict:
    """Score one night's manifest rows and write them into the store; returns counts.

    With ``cam``, Grad-CAM statistics (:data:`aurora_sw.model.gradcam.CAM_ATTRS`) are computed
    for the frames classified as aurora; they are NaN elsewhere.
    """
    scores = score_frames(list(frames["path"]), ckpt, batch_size, num_workers, progress=False, backend=backend)
    scored = pd.concat([frames.reset_index(drop=True), scores], axis=1)
    if cam:
        scored = scored.join(_cam_statistics(scored, ckpt))
    scored["flags"] = [add_flag(f, reason) for f, reason in zip(scored["flags"], scored["frame_problem"])]
    write_night(store, night, scored)
    return {"night": night, "frames": int(scores["readable"].sum()), "unreadable": int((~scores["readable"]).sum())}


def _cam_statistics(scored: pd.DataFrame, ckpt: Checkpoint) -> pd.DataFrame:
    """Grad-CAM statistics of the frames at or above the threshold, indexed like ``scored``."""
    aurora = scored.index[scored["p_aurora"].to_numpy() >= ckpt.threshold]
    stats = pd.DataFrame(index=scored.index, columns=list(CAM_ATTRS), dtype=float)
    if len(aurora):
        maps, _, _ = gradcam_maps(ckpt, list(scored.loc[aurora, "path"]))
        stats.loc[aurora] = pd.DataFrame([cam_statistics(m) for m in maps], index=aurora)[list(CAM_ATTRS)]
    return stats


def score_archive(
    archive: str | os.PathLike,
    model: str | os.PathLike | Checkpoint,
    out: str | os.PathLike,
    resume: bool = False,
    batch_size: int | None = None,
    num_workers: int = 0,
    client=None,
    progress: bool = True,
    catalog_path: str | None = None,
    backend: Backend = "auto",
    cam: bool = False,
) -> dict:
    """Score every night of an archive into the index store ``out``.

    Parameters
    ----------
    resume
        Keep nights already complete in ``out`` and score only the others. Without it the store
        is created afresh.
    client
        A ``dask.distributed.Client``: nights are mapped to its workers (each writes its own
        region); ``None`` scores them here, one after another.
    backend
        Inference runtime (:func:`aurora_sw.model.runtime.resolve_backend`); recorded in the
        store's attrs as ``inference_backend``.
    cam
        Also write Grad-CAM statistics of the aurora frames (slower: a backward pass each).

    Returns
    -------
    dict
        ``scored``, ``skipped`` (night lists), ``frames`` (scored), ``unreadable`` (frames not
        scored: unreadable, truncated, too small or greyscale; the store's flags say which),
        ``store``.
    """
    ckpt = model if isinstance(model, Checkpoint) else load_checkpoint(model)
    manifest = read_manifest(archive)
    if manifest.empty:
        raise AuroraSWError(f"{archive}: the manifest has no frames")
    nights = sorted(manifest["night"].unique())
    out = Path(out)
    attrs = {
        "model_sha256": ckpt.sha256,
        "model_name": ckpt.model_name,
        "model_input_size": ckpt.input_size,
        "archive": str(Path(archive).resolve()),
        "catalog": catalog_path or "",
        "inference_backend": resolve_backend(backend, default_device()),
    }
    if resume and out.exists():
        done = done_nights(out)
    else:
        init_store(out, nights[0], nights[-1], ckpt.threshold, attrs)
        done = set()
    todo = [n for n in nights if n not in done]
    groups = {n: g for n, g in manifest.groupby("night")}
    results = []
    if client is not None:
        shared = client.scatter(ckpt, broadcast=True)  # the weights travel once, not once a night
        futures = client.map(
            score_night, [groups[n] for n in todo], [shared] * len(todo), [str(out)] * len(todo), todo,
            batch_size=batch_size, num_workers=num_workers, backend=backend, cam=cam, pure=False,
        )
        for fut in tqdm(futures, desc="nights", unit="night", disable=not progress):
            results.append(fut.result())
    else:
        bar = tqdm(total=int(manifest["night"].isin(todo).sum()), desc="scoring", unit="frame", disable=not progress)
        for n in todo:
            results.append(score_night(groups[n], ckpt, out, n, batch_size, num_workers, backend, cam))
            bar.update(len(groups[n]))
        bar.close()
    return {
        "store": str(out),
        "scored": [r["night"] for r in results],
        "skipped": sorted(done & set(nights)),
        "frames": sum(r["frames"] for r in results),
        "unreadable": sum(r["unreadable"] for r in results),
    }
