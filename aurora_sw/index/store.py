"""The aurora-index Dataset: every minute on a UTC time axis, CF-style attributes, in Zarr.

Variables: ``p_aurora``, ``aurora`` (p >= stored threshold), physical indices, Sun/Moon geometry,
sky-condition classes (integer codes with CF ``flag_values``/``flag_meanings``), ``night`` and
quality ``flags``. Minutes without a frame are NaN (never dropped), so the time axis is regular.
Provenance (model hash, code version, catalog) lives in the attributes. Beside it, the group
``keogram`` holds each scored frame's north-south meridian (:func:`open_keogram`), and, when the
checkpoint has an embedding basis, the group ``embedding`` each scored minute's embedding
(:func:`open_embedding`).

Each night is one chunk of every variable, and carries a record written with it (frames, sha256
of each variable's stored values): :func:`open_index` and :func:`check_index` compare the two, so
a deleted or overwritten chunk is reported as a damaged night instead of being read as data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw import locking
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.keogram import keogram_array, meridian_angles
from aurora_sw.index.schema import (
    CLASS_VARIABLES, COMPONENT_ATTRS, EMBEDDING, EMBEDDING_GROUP, GEOMETRY, GRADCAM, GROUPS, INDEX_NAMES, KEOGRAM, KEOGRAM_GROUP, KEOGRAM_ROWS, MERIDIAN_ANGLE_ATTRS, MINUTES_PER_NIGHT,
    NIGHT_AREA, NO_FRAME, VARIABLES, class_codes, flags_to_bits, morphology_variables, night_grid, night_start_hour, night_window, store_classes,
)
from aurora_sw.times import naive_utc

logger = logging.getLogger(__name__)

STORE_FORMAT = "aurora-sw-index/2"  # attrs["aurora_sw_format"]; 2: nights carry checksums
INDEX_TITLE = "aurora-sw per-minute aurora index"  # also how stores from before the format mark are known
NIGHT_RECORDS = ("night_done", "night_frames", "night_digest")  # per night, not per minute: hidden by open_index
DIGEST_BYTES = 32  # sha256


def _code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aurora-sw")
    except PackageNotFoundError:
        return "unknown (not installed)"


def frames_by_minute(frames: pd.DataFrame, freq: str = "1min") -> pd.DataFrame:
    """Frames indexed by their UTC minute (naive): the earliest frame of each minute, the one the
    index stores (ties: the first listed). Every reader that goes from a minute back to its frame
    (the Explorer's Map labelling it) takes it from here."""
    df = frames.copy()
    df["time"] = naive_utc(df["time_utc"]).dt.floor(freq)
    return df.sort_values(["time", "time_utc"], kind="stable").drop_duplicates("time", keep="first").set_index("time")


def build_index(
    frames: pd.DataFrame,
    threshold: float = 0.5,
    attrs: dict | None = None,
    freq: str = "1min",
    grid: pd.DatetimeIndex | None = None,
    classes: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """Assemble the index from scored manifest rows.

    Parameters
    ----------
    frames
        Manifest rows joined with scores: ``time_utc``, ``night``, ``flags``, the Sun/Moon
        columns, ``sun_class``, ``moon_class``, ``p_aurora`` and the physical indices.
    threshold
        P(aurora) at and above which ``aurora`` is True; stored in the attributes.
    attrs
        Provenance to store (model hash, catalog path, ...).
    grid
        The time axis to put the rows on (UTC, naive); default: the frames' own span.
    classes
        A morphology classifier's classes: the index also holds
        :func:`~aurora_sw.index.schema.morphology_variables` (from the frames' ``morphology`` and
        ``p_<class>`` columns; no frame, or none of those columns: NO_FRAME and NaN).

    Returns
    -------
    xarray.Dataset
        On a regular ``time`` axis (UTC, ``freq``) spanning the frames; empty minutes are NaN.
    """
    if frames.empty and grid is None:
        raise AuroraSWError("no scored frames to build an index from")
    df = frames_by_minute(frames, freq)
    if grid is None:
        grid = pd.date_range(df.index.min(), df.index.max(), freq=freq, name="time")
    df = df.reindex(grid)
    p = df["p_aurora"].to_numpy(float)
    values = {
        "p_aurora": p,
        "aurora": np.where(np.isnan(p), NO_FRAME, p >= threshold),
        **{name: df[name].to_numpy(float) for name in (*INDEX_NAMES, *GEOMETRY)},
        # Computed only by some runs (the night background, Grad-CAM): NaN where not computed.
        **{name: df[name].to_numpy(float) if name in df else np.full(len(df), np.nan) for name in (*NIGHT_AREA, *GRADCAM)},
        **{name: class_codes(df[name], classes) for name, classes in CLASS_VARIABLES.items()},
        "night": pd.to_datetime(df["night"]).to_numpy(),
        "flags": flags_to_bits(df["flags"]),
    }
    variables = dict(VARIABLES)
    if classes:
        variables.update(morphology_variables(classes))
        values["morphology"] = class_codes(df["morphology"] if "morphology" in df else pd.Series("", index=df.index), classes)
        values.update({f"p_{c}": df[f"p_{c}"].to_numpy(float) if f"p_{c}" in df else np.full(len(df), np.nan) for c in classes})
    data = {name: ("time", np.asarray(values[name]).astype(var.dtype), var.attrs) for name, var in variables.items()}
    data["aurora"][2]["threshold"] = threshold
    ds = xr.Dataset(data, coords={"time": ("time", grid.to_numpy(), {"long_name": "time (UTC)", "standard_name": "time"})})
    ds.attrs.update(
        {
            "title": INDEX_TITLE,
            "Conventions": "CF-1.10",
            "aurora_sw_version": _code_version(),
            "time_convention": "UTC; one row per minute, NaN where no frame",
            **(attrs or {}),
        }
    )
    return ds


def init_store(path: str | os.PathLike, first_night: str, last_night: str, threshold: float, attrs: dict) -> Path:
    """Create an empty index store for the nights ``first_night`` .. ``last_night`` (local dates).

    Every variable is chunked by night; ``night_done`` (one flag a night) marks the nights whose
    region is complete, and only those are shown by :func:`open_index`. Beside each flag,
    ``night_frames`` and ``night_digest`` record what the night held when it was written (frame
    count, sha256 of each variable's stored values), so that later damage is found on reading.
    ``path`` must not exist: replacing a store goes through :func:`begin_store` and :func:`commit_store`.
    Each night's chunk starts at ``attrs["night_start_utc_hour"]`` UTC (the site's,
    :attr:`aurora_sw.catalog.Site.night_start_utc_hour`; default
    :data:`~aurora_sw.index.schema.NIGHT_START_UTC_HOUR`), which the store records.
    """
    path = Path(path)
    if path.exists():
        raise AuroraSWError(f"{path}: already exists; a new index store is only created where nothing is")
    attrs = {**attrs, "night_start_utc_hour": night_start_hour(attrs)}
    grid = night_grid(first_night, last_night, start_hour=attrs["night_start_utc_hour"])
    empty = pd.DataFrame(columns=["time_utc", "night", "flags", "p_aurora", "sun_class", "moon_class", *INDEX_NAMES, *NIGHT_AREA, *GEOMETRY])
    ds = build_index(empty, threshold, attrs, grid=grid, classes=store_classes(attrs))
    embedding_dim = int(attrs.get("embedding_dim", 0))
    checked = [*(v for v in ds.data_vars if ds[v].dims == ("time",)), KEOGRAM_GROUP, *([EMBEDDING_GROUP] if embedding_dim else [])]
    nights = pd.date_range(first_night, last_night, freq="D")
    ds["night_done"] = ("night_slot", np.zeros(len(nights), np.int8), {"long_name": "night region complete (1) or not (0)"})
    ds["night_frames"] = ("night_slot", np.zeros(len(nights), np.int32), {"long_name": "frames scored into the night when it was written"})
    ds["night_digest"] = (
        ("night_slot", "digest_variable", "digest_byte"),
        np.zeros((len(nights), len(checked), DIGEST_BYTES), np.uint8),
        {"long_name": "sha256 of each variable's stored values of the night, when it was written (all 0: none recorded)", "variables": checked},
    )
    ds = ds.assign_coords(night_slot=("night_slot", nights.to_numpy(), {"long_name": "night (local date at dusk)"}))
    ds.attrs.update(first_night=first_night, last_night=last_night, aurora_sw_format=STORE_FORMAT)
    encoding = {v: {"chunks": (MINUTES_PER_NIGHT,)} for v in ds.data_vars if ds[v].dims == ("time",)}
    # One chunk per night for the records too: nights written at once (Dask) never share a chunk.
    encoding.update(night_done={"chunks": (1,)}, night_frames={"chunks": (1,)}, night_digest={"chunks": (1, len(checked), DIGEST_BYTES)})
    ds.to_zarr(path, mode="w-", consolidated=False, encoding=encoding)
    _init_keogram(path, grid)
    if embedding_dim:
        _init_embedding(path, grid, embedding_dim)
    return path


def _init_embedding(path: Path, grid: pd.DatetimeIndex, dim: int) -> None:
    """The store's embedding group: (time, component) of :data:`EMBEDDING`, one chunk a night,
    metadata only (unwritten nights read as NaN)."""
    import dask.array as da

    emb = xr.Dataset(
        {EMBEDDING_GROUP: (("time", "component"), da.full((len(grid), dim), np.nan, dtype=EMBEDDING.dtype, chunks=(MINUTES_PER_NIGHT, dim)), EMBEDDING.attrs)},
        coords={"time": ("time", grid.to_numpy(), {"long_name": "time (UTC)"}), "component": ("component", np.arange(dim), COMPONENT_ATTRS)},
    )
    emb.to_zarr(path, group=EMBEDDING_GROUP, mode="w", compute=False, consolidated=False)


def _write_embedding(path: str | os.PathLike, region: slice, grid: pd.DatetimeIndex, frames: pd.DataFrame) -> None:
    """Write the frames' embeddings (column ``embedding``) into the embedding group's region, if
    the store has one; minutes without a (readable) frame are NaN."""
    group = _embedding_group(path)
    if group is None:
        return
    rows = np.full((len(grid), group.sizes["component"]), np.nan, np.float16)
    if "embedding" in frames and len(frames):
        df = frames_by_minute(frames)
        pos = grid.get_indexer(df.index)
        keep = pos >= 0
        if keep.any():
            rows[pos[keep]] = np.stack(df["embedding"].to_numpy()[keep])
    xr.Dataset({EMBEDDING_GROUP: (("time", "component"), rows)}).to_zarr(
        path, group=EMBEDDING_GROUP, region={"time": region, "component": slice(None)}, consolidated=False)


def _init_keogram(path: Path, grid: pd.DatetimeIndex) -> None:
    """The store's keogram group: (time, meridian_angle, channel) of :data:`KEOGRAM`, one chunk a night,
    metadata only (unwritten nights read as 0 and are masked by :func:`open_keogram`)."""
    import dask.array as da

    shape = (len(grid), KEOGRAM_ROWS, 3)
    keo = xr.Dataset(
        {"keogram": (("time", "meridian_angle", "channel"), da.zeros(shape, dtype=KEOGRAM.dtype, chunks=(MINUTES_PER_NIGHT, KEOGRAM_ROWS, 3)),
                     KEOGRAM.attrs)},
        coords={"time": ("time", grid.to_numpy(), {"long_name": "time (UTC)"}),
                "meridian_angle": ("meridian_angle", meridian_angles(KEOGRAM_ROWS), MERIDIAN_ANGLE_ATTRS)},  # channels R, G, B (labelled on reading)
    )
    keo.to_zarr(path, group=KEOGRAM_GROUP, mode="w", compute=False, consolidated=False)


def _keogram_group(path: str | os.PathLike) -> xr.Dataset | None:
    """The store's keogram group (lazy), or ``None`` for a store made before keograms were stored."""
    try:
        return xr.open_zarr(path, group=KEOGRAM_GROUP, consolidated=False)
    except (FileNotFoundError, KeyError, OSError):
        return None


def _write_keogram(path: str | os.PathLike, region: slice, grid: pd.DatetimeIndex, frames: pd.DataFrame) -> None:
    """Write the frames' meridian strips (column ``meridian``) into the keogram group's region."""
    if _keogram_group(path) is None:
        return  # a store made before keograms were stored: the index is still complete without one
    rows = np.zeros((len(grid), KEOGRAM_ROWS, 3), np.uint8)  # the strips of frames, stored as KEOGRAM.dtype
    if "meridian" in frames and len(frames):
        df = frames_by_minute(frames)
        pos = grid.get_indexer(df.index)
        keep = pos >= 0
        rows[pos[keep]] = np.stack(df["meridian"].to_numpy()[keep])
    xr.Dataset({"keogram": (("time", "meridian_angle", "channel"), rows)}).to_zarr(
        path, group=KEOGRAM_GROUP, region={"time": region, "meridian_angle": slice(None), "channel": slice(None)}, consolidated=False)


def write_night(path: str | os.PathLike, night: str, frames: pd.DataFrame) -> None:
    """Write one night's scored frames into its region, record it, then mark it done.

    Re-writing a night replaces it. The done flag goes last, so a run killed midway leaves the
    night marked not done, and readers do not see it. Just before it, the night's record (frames,
    sha256 of what now lies in the store for each variable) is written for :func:`check_index`.
    """
    store = xr.open_zarr(path, consolidated=False)
    first = str(store.attrs["first_night"])
    slot = (pd.Timestamp(night) - pd.Timestamp(first)).days
    if not 0 <= slot < store.sizes["night_slot"]:
        raise AuroraSWError(f"{path}: night {night} is outside the store ({first} .. {store.attrs['last_night']}); score into a new store")
    region = _night_region(slot)
    grid = pd.DatetimeIndex(store["time"].values[region])
    threshold = float(store["aurora"].attrs["threshold"])
    ds = build_index(frames, threshold, grid=grid, classes=store_classes(store.attrs) if "morphology" in store else None)
    _mark(path, slot, done=False)  # a night being replaced is hidden until complete again
    ds = ds.drop_vars("time")
    for name in ds.data_vars:  # the store holds the attributes; a region write carries data only
        ds[name].attrs = {}
    ds.attrs = {}
    ds.to_zarr(path, region={"time": region}, consolidated=False)
    _write_keogram(path, region, grid, frames)
    _write_embedding(path, region, grid, frames)
    _record_night(path, slot)
    _mark(path, slot, done=True)


def _mark(path: str | os.PathLike, slot: int, done: bool) -> None:
    flag = xr.Dataset({"night_done": ("night_slot", np.array([int(done)], np.int8))})
    flag.to_zarr(path, region={"night_slot": slice(slot, slot + 1)}, consolidated=False)


def done_nights(path: str | os.PathLike) -> set[str]:
    """Nights whose region in the store is complete (not checked against their checksums)."""
    store = xr.open_zarr(path, consolidated=False)
    done = store["night_done"].values.astype(bool)
    return set(pd.DatetimeIndex(store["night_slot"].values[done]).strftime("%Y-%m-%d"))


def _night_region(slot: int) -> slice:
    return slice(slot * MINUTES_PER_NIGHT, (slot + 1) * MINUTES_PER_NIGHT)


def _stored_array(root, name: str):
    """The raw Zarr array behind a checked variable (the keogram and the embedding live in their own groups)."""
    return root[name][name] if name in GROUPS else root[name]


def _digest(values: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).digest()


def _record_night(path: str | os.PathLike, slot: int) -> None:
    """Checksum what the store now holds for the night, as stored (read back), into its record."""
    import zarr

    root = zarr.open_group(str(path), mode="r+")
    if "night_digest" not in root:
        return  # a store made before checksums were recorded: its nights stay unverified
    region = _night_region(slot)
    digests = []
    for name in root["night_digest"].attrs["variables"]:
        try:
            digests.append(np.frombuffer(_digest(_stored_array(root, name)[region]), np.uint8))
        except KeyError:  # the keogram group was removed: no record, so the night reads as damaged
            digests.append(np.zeros(DIGEST_BYTES, np.uint8))
    root["night_digest"][slot] = np.stack(digests)
    root["night_frames"][slot] = int(np.isfinite(root["p_aurora"][region]).sum())


def _read_by_night(array, per_night: int, nights: int) -> tuple[np.ndarray, set[int]]:
    """All of a raw Zarr array, and the nights whose chunk cannot be decoded (read as fill)."""
    try:
        return array[:], set()
    except Exception:  # noqa: BLE001 - a damaged chunk raises whatever its codec raises; find which
        values = np.full(array.shape, array.fill_value, array.dtype)
        unreadable = set()
        for slot in range(nights):
            rows = slice(slot * per_night, (slot + 1) * per_night)
            try:
                values[rows] = array[rows]
            except Exception:  # noqa: BLE001
                unreadable.add(slot)
        return values, unreadable


NIGHT_STATUSES = {
    "ok": "complete, and every variable still holds what was written",
    "unverified": "complete, written before checksums were recorded",
    "damaged": "complete, but a variable differs from its checksum or cannot be read",
    "incomplete": "not written, or its write was interrupted",
}


def check_index(path: str | os.PathLike, *, keogram: bool = True) -> pd.DataFrame:
    """Each night of an index store: complete or not, and does it still hold what was written.

    Reads every chunk of the store once and compares each night's values, variable by variable,
    with the sha256 recorded when the night was written.

    Parameters
    ----------
    path
        The index store.
    keogram
        Also check the groups beside the index, keogram and embedding (``False``: the index
        variables only, as :func:`open_index`).

    Returns
    -------
    pandas.DataFrame
        Indexed by night (local date at dusk, ``YYYY-MM-DD``): ``status`` (a key of
        :data:`NIGHT_STATUSES`), ``frames`` (scored frames recorded with the night) and ``damaged``
        (the variables found damaged, space-separated).
    """
    import zarr

    path = _existing_index(path)
    if not is_index_store(path):
        raise AuroraSWError(f"{path}: not an aurora-sw index store (no readable index metadata)")
    root = zarr.open_group(str(path), mode="r")
    if "night_done" not in root:
        raise AuroraSWError(f"{path}: this index keeps no per-night records (it was not written by `aurora-sw score`); nothing to check")
    nights = pd.date_range(str(root.attrs["first_night"]), str(root.attrs["last_night"]), freq="D").strftime("%Y-%m-%d")
    done, unreadable = _read_by_night(root["night_done"], 1, len(nights))
    done = done.astype(bool)
    damaged = {slot: ["night_done"] for slot in unreadable}
    report = pd.DataFrame(
        {"status": np.where(done, "unverified", "incomplete"), "frames": pd.array([pd.NA] * len(nights), "Int64"), "damaged": ""},
        index=pd.Index(nights, name="night"),
    )
    if "night_digest" not in root:
        return report
    recorded, bad = _read_by_night(root["night_digest"], 1, len(nights))
    frames, bad_frames = _read_by_night(root["night_frames"], 1, len(nights))
    intact = np.array([slot not in bad | bad_frames and recorded[slot].any() for slot in range(len(nights))], bool)
    for slot in np.flatnonzero(done & ~intact):
        damaged.setdefault(slot, []).append("checksum record")
    report.loc[done & intact, "frames"] = frames[done & intact]
    names = list(root["night_digest"].attrs["variables"])
    for j, name in enumerate(names):
        if name in GROUPS and not keogram:
            continue
        try:
            values, unreadable = _read_by_night(_stored_array(root, name), MINUTES_PER_NIGHT, len(nights))
        except (KeyError, ValueError, OSError):  # the variable's array is gone, or its metadata damaged
            values, unreadable = None, set(range(len(nights)))
        for slot in np.flatnonzero(done & intact):
            if slot in unreadable or _digest(values[_night_region(slot)]) != recorded[slot, j].tobytes():
                damaged.setdefault(slot, []).append(name)
    ok = done.copy()
    for slot, names_bad in damaged.items():
        ok[slot] = False
        report.iloc[slot, report.columns.get_loc("status")] = "damaged"
        report.iloc[slot, report.columns.get_loc("damaged")] = " ".join(dict.fromkeys(names_bad))
    report.loc[ok, "status"] = "ok"
    return report


def _existing_index(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise AuroraSWError(f"{path}: no index here; run `aurora-sw demo` or `aurora-sw score` first")
    return path


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _without_nights(ds: xr.Dataset, slots: set[int]) -> xr.Dataset:
    """``ds`` with the nights ``slots`` read as no frame, without touching their chunks (a damaged
    chunk may not even decode): their blocks are replaced, the rest stays lazy."""
    import dask.array as da

    if not slots:
        return ds
    out = ds.copy()
    for name, v in ds.data_vars.items():
        if v.dims != ("time",):
            continue
        data = v.data if isinstance(v.data, da.Array) else da.from_array(v.data)
        data = data.rechunk(MINUTES_PER_NIGHT)  # a no-op on a store as written: one chunk a night
        if np.issubdtype(v.dtype, np.floating):
            fill = np.nan
        elif np.issubdtype(v.dtype, np.datetime64):
            fill = np.datetime64("NaT")
        else:
            fill = NO_FRAME
        blocks = [da.full(block.shape, fill, dtype=v.dtype) if i in slots else block for i, block in enumerate(data.blocks)]
        out[name] = v.copy(data=da.concatenate(blocks))
    return out


def open_index(path: str | os.PathLike, *, warn: bool = True) -> xr.Dataset:
    """Open an aurora-index Zarr store (lazily; select, then ``.load()``).

    Only nights completely written are shown. Each is checked against the checksums written with
    it (:func:`check_index`, which reads every chunk once): a damaged night is left out like an
    incomplete one (NaN, classes -1), listed in ``attrs["nights_damaged"]`` (with the variables in
    ``attrs["damage"]``) and named in a logged warning. Nights of a store written before checksums
    were recorded are listed in ``attrs["nights_unverified"]``. ``warn=False`` leaves the warning
    to a caller that reports damaged nights itself.

    Examples
    --------
    >>> ds = open_index("demo_out/index.zarr")  # doctest: +SKIP
    >>> ds.p_aurora.sel(time="2024-02-06").plot()  # doctest: +SKIP
    """
    path = _existing_index(path)
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as exc:  # noqa: BLE001 - whatever Zarr raises, the user needs the path, in one line
        raise AuroraSWError(f"{path}: cannot open as an aurora index ({_one_line(exc)})") from None
    if "night_done" not in ds:
        return ds
    grid = night_grid(ds.attrs["first_night"], ds.attrs["last_night"], start_hour=night_start_hour(ds.attrs))
    if not np.array_equal(ds["time"].values, grid.to_numpy()):
        raise AuroraSWError(f"{path}: the time axis is damaged (it is not the nights the store was made for); score the archive again without --resume")
    report = check_index(path, keogram=False)
    shown = report["status"].isin(["ok", "unverified"]).to_numpy()
    out = _without_nights(ds.drop_vars([*(v for v in NIGHT_RECORDS if v in ds), "night_slot"]), set(np.flatnonzero(~shown)))
    out.attrs["nights_complete"] = int(shown.sum())
    damaged = report[report["status"] == "damaged"]
    if len(damaged):
        out.attrs["nights_damaged"] = ",".join(damaged.index)
        out.attrs["damage"] = "; ".join(f"{night}: {names}" for night, names in damaged["damaged"].items())
    if len(damaged) and warn:
        logger.warning("%s: damaged night(s) left out: %s; `aurora-sw check --index %s` lists them, `aurora-sw score --resume` re-scores them",
                       path, out.attrs["damage"], path)
    unverified = report.index[report["status"] == "unverified"]
    if len(unverified):
        out.attrs["nights_unverified"] = ",".join(unverified)
    return out


def open_keogram(index_path: str | os.PathLike, night: str) -> xr.DataArray | None:
    """The keogram stored with an index (by ``aurora-sw score``) for one night, or ``None`` when
    the store has none (made before keograms were stored).

    Minutes without a readable frame, and nights not completely written, are NaN; the time axis
    runs from the night's first to its last frame (UTC, 1 min).
    """
    group = _keogram_group(index_path)
    if group is None:
        return None
    stored = group["keogram"]
    window = night_window(night, start_hour=night_start_hour(store_attrs(index_path) or {}))
    index = open_index(index_path, warn=False)  # a damaged night asked for is refused below; others do not matter here
    if night in index.attrs.get("nights_damaged", "").split(","):
        raise AuroraSWError(f"{index_path}: night {night} is damaged ({index.attrs['damage']}); `aurora-sw score --resume` re-scores it")
    has_frame = index["p_aurora"].sel(time=window).notnull().values
    if not has_frame.any():
        raise AuroraSWError(f"{index_path}: night {night} has no scored frames")
    _verify_group(index_path, night, KEOGRAM_GROUP)
    first, last = np.flatnonzero(has_frame)[[0, -1]]
    rows = stored.sel(time=window).isel(time=slice(first, last + 1)).values.astype(np.float32)
    rows[~has_frame[first : last + 1]] = np.nan
    times = stored["time"].sel(time=window).values[first : last + 1]
    return keogram_array(rows, times)


def _verify_group(path: str | os.PathLike, night: str, group: str) -> None:
    """Refuse a night whose stored keogram (or embedding) differs from the checksum written with it."""
    import zarr

    root = zarr.open_group(str(path), mode="r")
    if "night_digest" not in root:
        return  # written before checksums were recorded
    slot = (pd.Timestamp(night) - pd.Timestamp(str(root.attrs["first_night"]))).days
    recorded = root["night_digest"][slot, list(root["night_digest"].attrs["variables"]).index(group)]
    try:
        same = _digest(_stored_array(root, group)[_night_region(slot)]) == recorded.tobytes()
    except Exception:  # noqa: BLE001 - a chunk that does not decode is damage too
        same = False
    if not same:
        raise AuroraSWError(f"{path}: the {group} of night {night} is damaged; `aurora-sw score --resume` re-scores the night")


def _embedding_group(path: str | os.PathLike) -> xr.Dataset | None:
    """The store's embedding group (lazy), or ``None`` when it has none."""
    try:
        return xr.open_zarr(path, group=EMBEDDING_GROUP, consolidated=False)
    except (FileNotFoundError, KeyError):
        return None
    except (OSError, ValueError) as exc:  # damaged metadata: one line, naming the store
        raise AuroraSWError(f"{path}: the embedding group's metadata is damaged ({_one_line(exc)[:120]}); score the archive again without --resume") from None


def open_embedding(index_path: str | os.PathLike, nights: list[str] | None = None) -> xr.DataArray | None:
    """The embeddings stored with an index (by ``aurora-sw score`` with a checkpoint that has an
    embedding basis): (time, component) float32 of every minute with a scored frame, or ``None``
    when the store has none.

    Parameters
    ----------
    nights
        Only these nights (local dates at dusk, ``YYYY-MM-DD``): each must be complete and intact,
        else it is refused. Default: every night :func:`open_index` shows whose embedding is
        intact; a night whose embedding differs from its checksum is left out with a warning
        (listed in ``attrs["nights_damaged"]``), as :func:`open_index` leaves damaged nights out.
    """
    group = _embedding_group(index_path)
    if group is None:
        return None
    index = open_index(index_path, warn=False)
    start = night_start_hour(index.attrs)
    shown = sorted(set(pd.Series(index["night"].values).dropna().dt.strftime("%Y-%m-%d")))
    damaged = [n for n in index.attrs.get("nights_damaged", "").split(",") if n]
    if nights is not None:
        bad = [n for n in nights if n in damaged or n not in shown]
        if bad:
            raise AuroraSWError(f"{index_path}: night(s) {', '.join(bad)} not complete and intact in this store "
                                f"(`aurora-sw check --index {index_path}` lists each night; `aurora-sw score --resume` re-scores damaged ones)")
    parts = []
    for night in nights if nights is not None else shown:
        try:
            _verify_group(index_path, night, EMBEDDING_GROUP)
        except AuroraSWError:
            if nights is not None:
                raise
            damaged.append(night)
            continue
        window = night_window(night, start_hour=start)
        has_frame = index["p_aurora"].sel(time=window).notnull().values
        parts.append(group[EMBEDDING_GROUP].sel(time=window).isel(time=np.flatnonzero(has_frame)).astype(np.float32).load())
    out = xr.concat(parts, "time") if parts else group[EMBEDDING_GROUP].isel(time=slice(0, 0)).astype(np.float32).load()
    out.attrs = dict(group[EMBEDDING_GROUP].attrs)
    if damaged:
        out.attrs["nights_damaged"] = ",".join(sorted(set(damaged)))
        if nights is None:
            logger.warning("%s: night(s) %s left out of the embeddings (damaged); `aurora-sw score --resume` re-scores them", index_path, out.attrs["nights_damaged"])
    return out


# Replacing and locking a store. `score` builds a new store beside the old one (PATH.partial) and
# swaps it in only when every night is written, so a failure leaves the old index as it was; it
# deletes only what it recognises as a store of its own, and one writer at a time holds PATH.lock.


def store_attrs(path: str | os.PathLike) -> dict | None:
    """The root attributes of the Zarr store at ``path`` (read from its metadata file), or ``None``
    when ``path`` is not a Zarr store."""
    path = Path(path)
    for name, key in (("zarr.json", "attributes"), (".zattrs", None)):
        if (path / name).is_file():
            try:
                meta = json.loads((path / name).read_text())
            except (OSError, ValueError):
                return None
            return meta.get(key, {}) if key else meta
    return None


def is_index_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an aurora-index store (by its own marker, or the title of older ones)."""
    attrs = store_attrs(path) or {}
    return attrs.get("aurora_sw_format", "").startswith("aurora-sw-index") or attrs.get("title") == INDEX_TITLE


def check_replaceable(path: str | os.PathLike) -> None:
    """Refuse (:class:`AuroraSWError`) to replace anything but an aurora-index store or an empty folder."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir() and not path.is_symlink() and (is_index_store(path) or not any(path.iterdir())):
        return
    what = "a symbolic link" if path.is_symlink() else "a file" if path.is_file() else "a folder with other files" if path.is_dir() else "not a folder"
    raise AuroraSWError(f"{path}: is {what}, not an aurora-sw index store; refusing to replace it (choose another output path)")


def partial_path(path: str | os.PathLike) -> Path:
    """Where a new store for ``path`` is built until it replaces ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def begin_store(path: str | os.PathLike, first_night: str, last_night: str, threshold: float, attrs: dict) -> Path:
    """Start a new store that will replace ``path`` (:func:`init_store` at :func:`partial_path`).

    ``path`` itself is not touched (it must be an index store, an empty folder or absent); a
    leftover of an earlier unfinished run is discarded.

    Returns
    -------
    pathlib.Path
        The new store, to write nights into and then hand to :func:`commit_store`.
    """
    path = Path(path)
    check_replaceable(path)
    new = partial_path(path)
    check_replaceable(new)
    if new.exists():
        shutil.rmtree(new)
    return init_store(new, first_night, last_night, threshold, {**attrs, "aurora_sw_state": "building"})


def resumable_store(path: str | os.PathLike) -> Path | None:
    """The store that ``score --resume`` continues: an unfinished new store for ``path``, else
    ``path`` itself when it is an index store, else ``None`` (nothing to resume)."""
    path = Path(path)
    new = partial_path(path)
    if is_index_store(new) and store_attrs(new).get("aurora_sw_state") == "building":
        return new
    check_replaceable(path)
    return path if is_index_store(path) else None


def commit_store(new: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Put the complete store ``new`` (from :func:`begin_store`) in the place of ``path`` in one step,
    then delete what was there. Readers of ``path`` see the old store or the new one, never a mix."""
    import zarr

    new, path = Path(new), Path(path)
    check_replaceable(path)  # again: the folder may have changed while the nights were scored
    zarr.open_group(str(new), mode="r+").attrs["aurora_sw_state"] = "complete"  # so that the old one is never resumed
    if not path.exists():
        os.rename(new, path)
        return path
    _exchange(new, path)
    shutil.rmtree(new)  # the old store (or empty folder), now at the partial path
    return path


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE); elsewhere, two renames
    (a crash between them leaves the old store at ``B.replaced``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        errno = ctypes.get_errno()
        if errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot swap; rename instead
            raise OSError(errno, os.strerror(errno), str(b))
    aside = b.with_name(b.name + ".replaced")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def writer_lock(path: str | os.PathLike):
    """Hold the one writer's lock of a store (``PATH.lock``) or stop at once, naming its holder
    (:func:`aurora_sw.locking.writer_lock` with no wait: a scoring run takes hours, so a second
    one is told at once rather than left waiting).

    Raises
    ------
    aurora_sw.locking.LockedError
        Another process holds the lock.
    """
    return locking.writer_lock(path, timeout_s=0, advice="wait until it finishes (or stop it) and try again")
