"""Score an archive night by night into the index store: resumable, replaceable, Dask-mappable.

Each night is an independent task (read its frames, score them, write its region, record and mark
it done), so a killed run resumes where it stopped and nights can be spread over Dask workers.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from aurora_sw.catalog import load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import GRADCAM, INDEX_CONVENTIONS
from aurora_sw.index.score import Decode, resolve_decode, score_frames, score_nights
from aurora_sw.index.store import begin_store, check_index, check_replaceable, commit_store, resumable_store, store_attrs, write_night, writer_lock
from aurora_sw.ingest import read_manifest
from aurora_sw.ingest.manifest import add_flag
from aurora_sw.model.checkpoint import Checkpoint, load_checkpoint
from aurora_sw.model.factory import create_model
from aurora_sw.model.gradcam import cam_statistics, gradcam_maps
from aurora_sw.model.runtime import Backend, default_device, onnx_graph_path, resolve_backend

logger = logging.getLogger(__name__)


def score_night(
    frames: pd.DataFrame,
    ckpt: Checkpoint,
    store: str | os.PathLike,
    night: str,
    *,
    batch_size: int | None = None,
    num_workers: int = 0,
    backend: Backend = "auto",
    cam: bool = False,
    decode: Decode = "cpu",
    scores: pd.DataFrame | None = None,
) -> dict:
    """Score one night's manifest rows and write them into the store; returns counts.

    With ``cam``, Grad-CAM statistics (:data:`aurora_sw.index.schema.GRADCAM`) are computed
    for the frames classified as aurora; they are NaN elsewhere. ``scores``: the rows already
    scored (:func:`~aurora_sw.index.score.score_nights`, one DataLoader for a whole run).
    """
    if scores is None:
        scores = score_frames(list(frames["path"]), ckpt, batch_size, num_workers, progress=False, backend=backend, decode=decode)
    scored = pd.concat([frames.reset_index(drop=True), scores], axis=1)
    if cam:
        scored = scored.join(_cam_statistics(scored, ckpt))
    scored["flags"] = [add_flag(f, reason) for f, reason in zip(scored["flags"], scored["frame_problem"])]
    write_night(store, night, scored)
    return {"night": night, "frames": int(scores["readable"].sum()), "unreadable": int((~scores["readable"]).sum())}


def _cam_statistics(scored: pd.DataFrame, ckpt: Checkpoint) -> pd.DataFrame:
    """Grad-CAM statistics of the frames at or above the threshold, indexed like ``scored``."""
    aurora = scored.index[scored["p_aurora"].to_numpy() >= ckpt.threshold]
    stats = pd.DataFrame(index=scored.index, columns=list(GRADCAM), dtype=float)
    if len(aurora):
        maps, _, _ = gradcam_maps(ckpt, list(scored.loc[aurora, "path"]))
        stats.loc[aurora] = pd.DataFrame([cam_statistics(m) for m in maps], index=aurora)[list(GRADCAM)]
    return stats


def score_archive(
    archive: str | os.PathLike,
    model: str | os.PathLike | Checkpoint,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    batch_size: int | None = None,
    num_workers: int = 0,
    client=None,
    progress: bool = True,
    catalog_path: str | None = None,
    site_key: str | None = None,
    backend: Backend = "auto",
    cam: bool = False,
    decode: Decode = "cpu",
) -> dict:
    """Score every night of an archive into the index store ``out``.

    Everything that can fail early is checked before ``out`` is touched: the checkpoint (its
    weights must fit its model), the manifest, and ``out`` itself (an index store, an empty folder
    or nothing; anything else is refused). A new store is built beside ``out`` and takes its place
    only when every night is written, so a failure leaves the old index as it was. One writer at a
    time: a second run on the same ``out`` stops at once, naming the first
    (:func:`aurora_sw.index.store.writer_lock`).

    Parameters
    ----------
    archive
        The archive folder (its ``manifest.parquet``).
    model
        The classifier checkpoint (a path, or a loaded :class:`~aurora_sw.model.checkpoint.Checkpoint`).
    out
        The index store (Zarr) to make or replace.
    resume
        Continue an interrupted run: the unfinished new store if there is one, else ``out`` itself,
        where nights that are complete and intact (:func:`aurora_sw.index.store.check_index`: ok
        or unverified) are kept and the others (incomplete or damaged) are scored again. Needs the
        checkpoint the store was scored with. Without it the store is created afresh.
    catalog_path, site_key
        The catalog (recorded in the store) and the archive's site in it (default: its default
        site), whose longitude sets where each night's chunk starts
        (:attr:`~aurora_sw.catalog.Site.night_start_utc_hour`).
    client
        A ``dask.distributed.Client``: nights are mapped to its workers (each writes its own
        region); ``None`` scores them here, one after another.
    backend
        Inference runtime (:func:`aurora_sw.model.runtime.resolve_backend`); recorded in the
        store's attrs as ``inference_backend``.
    cam
        Also write Grad-CAM statistics of the aurora frames (slower: a backward pass each).
    decode
        Where frames are decoded and measured (:data:`aurora_sw.index.score.DECODES`): ``cpu``
        (default), or ``gpu`` (nvJPEG; P(aurora) differs from the CPU path's by up to ~0.2);
        recorded as ``frame_decode``, and a resume with the other is refused.

    Returns
    -------
    dict
        ``scored``, ``skipped`` (night lists), ``frames`` (scored), ``unreadable`` (frames not
        scored: unreadable, truncated, too small or greyscale; the store's flags say which),
        ``store``.
    """
    if batch_size is not None and batch_size < 1:
        raise AuroraSWError(f"score: --batch-size {batch_size}: give 1 or more frames (or leave it out for the default)")
    if num_workers < 0:
        raise AuroraSWError(f"score: --workers {num_workers}: give 0 (decode in this process) or more")
    ckpt = model if isinstance(model, Checkpoint) else load_checkpoint(model)
    _check_weights(ckpt, model, backend)
    manifest = read_manifest(archive)
    if manifest.empty:
        raise AuroraSWError(f"{archive}: the manifest has no frames")
    nights = sorted(manifest["night"].unique())
    out = Path(out)
    catalog = load_catalog(catalog_path)
    site = catalog.site(site_key)
    attrs = {
        "model_sha256": ckpt.sha256,
        "model_name": ckpt.model_name,
        "model_input_size": ckpt.input_size,
        "model_classes": " ".join(ckpt.classes),  # a morphology model's store holds its classes too (schema.morphology_variables)
        # Components of each minute's embedding (0: the checkpoint has no basis, the store no embedding group).
        "embedding_dim": int(ckpt.embedding_basis["components"].shape[0]) if ckpt.embedding_basis is not None else 0,
        "embedding_basis_sha256": ckpt.embedding_sha256,
        "archive": str(Path(archive).resolve()),
        "catalog": str(Path(catalog_path).resolve()) if catalog_path else "",  # absolute: readers may run elsewhere
        "inference_backend": resolve_backend(backend, default_device()),
        "frame_decode": resolve_decode(decode, default_device()),
        "index_conventions": INDEX_CONVENTIONS,
        "night_start_utc_hour": site.night_start_utc_hour,
        # The site the minutes were seen from: its magnetic coordinates follow (ds.aurora.geomagnetic()).
        "site": site_key or catalog.default_site_key,
        "site_lat_deg": site.lat_deg,
        "site_lon_deg": site.lon_deg,
    }
    check_replaceable(out)  # before the lock, which leaves its file beside OUT
    with writer_lock(out):
        target = resumable_store(out) if resume else None
        if target is None:
            target = begin_store(out, nights[0], nights[-1], ckpt.threshold, attrs)
            done = set()
        else:
            done = _intact_nights(target, nights, ckpt, attrs["frame_decode"])
        todo = [n for n in nights if n not in done]
        results = _score_nights(manifest, todo, ckpt, target, batch_size, num_workers, client, progress, backend, cam, decode)
        if target != out:
            commit_store(target, out)
    return {
        "store": str(out),
        "scored": [r["night"] for r in results],
        "skipped": sorted(done & set(nights)),
        "frames": sum(r["frames"] for r in results),
        "unreadable": sum(r["unreadable"] for r in results),
    }


def _check_weights(ckpt: Checkpoint, source: str | os.PathLike | Checkpoint, backend: Backend = "auto") -> None:
    """Refuse a checkpoint whose weights do not fit the model it names, in one line.

    Passed at once when ONNX Runtime will score with a graph cached for these weights (same
    architecture, hash, shapes and class count: :func:`~aurora_sw.model.runtime.onnx_graph_path`):
    the graph was exported from the model they name, built with them. Scoring then never imports timm (~2 s of every start).
    """
    if resolve_backend(backend, default_device()) == "onnx" and onnx_graph_path(ckpt).is_file():
        return
    name = f"checkpoint of {ckpt.model_name}" if isinstance(source, Checkpoint) else str(source)
    try:
        with torch.device("meta"):  # shapes only: no memory, no weight initialisation (0.1 s, where building it for real took ~3 s)
            expected = {k: tuple(v.shape) for k, v in create_model(ckpt.model_name, num_classes=len(ckpt.classes)).state_dict().items()}
    except RuntimeError as exc:  # timm: unknown model name
        raise AuroraSWError(f"{name}: names a model that cannot be built ({exc}); the checkpoint is damaged or mislabelled") from None
    given = {k: tuple(v.shape) for k, v in ckpt.state_dict.items()}
    missing = expected.keys() - given.keys()
    unexpected = given.keys() - expected.keys()
    reshaped = [k for k in expected.keys() & given.keys() if expected[k] != given[k]]
    if missing or unexpected or reshaped:
        raise AuroraSWError(
            f"{name}: its weights do not fit {ckpt.model_name} ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(reshaped)} of another shape); the checkpoint is damaged or mislabelled, nothing was scored"
        )


def _intact_nights(store: Path, nights: list[str], ckpt: Checkpoint, decode: str) -> set[str]:
    """The nights a resumed run keeps: complete and intact. Refuses another model's store, one
    decoded the other way (``decode``), or an archive with nights outside the store (those need a
    new store)."""
    attrs = store_attrs(store)
    if attrs.get("model_sha256") != ckpt.sha256:
        raise AuroraSWError(
            f"{store}: was scored with model {attrs.get('model_sha256')}, not this checkpoint ({ckpt.sha256}); "
            "resume with the same checkpoint, or score without --resume to replace the index"
        )
    if attrs.get("index_conventions") != INDEX_CONVENTIONS:
        raise AuroraSWError(
            f"{store}: was scored under the index's conventions of {attrs.get('index_conventions') or 'before 2026-12-04'}, not those of "
            f"{INDEX_CONVENTIONS} (arc_curvature's sign, fp32 P(aurora) on a GPU); its nights and those scored now would not agree: "
            "score without --resume to rebuild the index"
        )
    stored_decode = attrs.get("frame_decode", "cpu")  # stores from before the option were decoded on the CPU
    if stored_decode != decode:
        raise AuroraSWError(
            f"{store}: its frames were decoded with --decode {stored_decode}, this run asks for --decode {decode} (the two differ in "
            f"P(aurora) by up to ~0.2); resume with --decode {stored_decode}, or score without --resume"
        )
    embedded = int(attrs.get("embedding_dim", 0)) > 0
    if embedded and attrs.get("embedding_basis_sha256", "") != ckpt.embedding_sha256:
        raise AuroraSWError(
            f"{store}: its embeddings are in the basis {attrs.get('embedding_basis_sha256') or '(unrecorded)'}, this checkpoint's is "
            f"{ckpt.embedding_sha256 or 'none'} (same weights, another basis: a best.pt from another training?); resume with the checkpoint "
            "the store was scored with, or score without --resume"
        )
    if not embedded and ckpt.embedding_basis is not None:
        logger.warning("%s: this store holds no embeddings (it was made without them); the nights scored now will not have any either: "
                       "score without --resume to store them", store)
    first, last = str(attrs["first_night"]), str(attrs["last_night"])
    outside = [n for n in nights if not first <= n <= last]
    if outside:
        raise AuroraSWError(f"{store}: holds nights {first} .. {last}, the archive also has {', '.join(outside[:5])}; score without --resume to make a store for all")
    report = check_index(store)
    return set(report.index[report["status"].isin(["ok", "unverified"])])


def _score_nights(
    manifest: pd.DataFrame, todo: list[str], ckpt: Checkpoint, store: Path, batch_size: int | None, num_workers: int,
    client, progress: bool, backend: Backend, cam: bool, decode: Decode,
) -> list[dict]:
    """Score the nights ``todo`` into ``store``, here or on the Dask ``client``'s workers."""
    groups = {n: g for n, g in manifest.groupby("night")}
    results = []
    if client is not None:
        shared = client.scatter(ckpt, broadcast=True)  # the weights travel once, not once a night
        futures = client.map(
            score_night, [groups[n] for n in todo], [shared] * len(todo), [str(store)] * len(todo), todo,
            batch_size=batch_size, num_workers=num_workers, backend=backend, cam=cam, decode=decode, pure=False,
        )
        for night, fut in zip(todo, tqdm(futures, desc="nights", unit="night", disable=not progress)):
            results.append(_written(fut, night, store, doing="scoring and writing"))  # a worker does both
    else:
        # One DataLoader for every night: its decoding workers start once and run ahead. Each night is
        # written (and, with cam, its Grad-CAM computed) in a writer thread while the next one is
        # scored; at most one night waits, and a failed write stops the run at the next night.
        stream = score_nights([list(groups[n]["path"]) for n in todo], ckpt, batch_size, num_workers, progress=progress, backend=backend, decode=decode)
        with closing(stream), ThreadPoolExecutor(1, thread_name_prefix="aurora-sw-writer") as writer:  # a failed write stops the decoding too
            pending = None
            for n, scores in zip(todo, stream):
                if pending is not None:
                    results.append(_written(*pending, store))
                pending = writer.submit(score_night, groups[n], ckpt, store, n, batch_size=batch_size, num_workers=num_workers, backend=backend,
                                        cam=cam, decode=decode, scores=scores), n
            if pending is not None:
                results.append(_written(*pending, store))
    return results


def _written(future, night: str, store: Path, *, doing: str = "writing") -> dict:
    """The result of the task that wrote ``night`` into ``store``, or one line saying why it failed.

    Writing meets the file system: a full disk, a store removed or changed by hand mid-run (Zarr
    then raises KeyError or ValueError from deep inside). Those end the run with one line naming the
    store, the night and the cause (chained: ``AURORA_SW_TRACEBACK=1`` shows it); the nights already
    written stay, for ``--resume``.
    """
    try:
        return future.result()
    except (AuroraSWError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - named, chained, and the run stops
        message = (str(exc).splitlines() or [""])[0][:300]
        what = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        raise AuroraSWError(
            f"{store}: {doing} night {night} failed ({what}); was the store changed or removed during the run, or the disk filled? "
            "The nights written before it are kept: run again with --resume"
        ) from exc
