"""The aurora-index Dataset: every minute on a UTC time axis, CF-style attributes, in Zarr.

Variables: ``p_aurora``, ``aurora`` (p >= stored threshold), physical indices, Sun/Moon geometry,
sky-condition classes (integer codes with CF ``flag_values``/``flag_meanings``), ``night`` and
quality ``flags``. Minutes without a frame are NaN (never dropped), so the time axis is regular.
Provenance (model hash, code version, catalog) lives in the attributes. Beside it, the group
``keogram`` holds each scored frame's north-south meridian (:func:`open_keogram`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.background import NIGHT_AREA_ATTRS
from aurora_sw.index.keogram import ANGLE_ATTRS, KEOGRAM_GROUP, KEOGRAM_ROWS, keogram_array, meridian_angles
from aurora_sw.index.physical import INDEX_ATTRS, INDEX_NAMES
from aurora_sw.model.gradcam import CAM_ATTRS
from aurora_sw.ingest.manifest import FLAG_BITS, flags_to_bits
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES

GEOMETRY_ATTRS = {
    "sun_alt": ("degree", "Sun altitude"),
    "sun_az": ("degree", "Sun azimuth, east of north"),
    "moon_alt": ("degree", "Moon altitude"),
    "moon_az": ("degree", "Moon azimuth, east of north"),
    "moon_phase": ("degree", "Moon phase (Sun-Moon ecliptic longitude difference folded to 0-180; 180 = full)"),
    "moon_illum": ("1", "Moon illuminated fraction"),
}


def _code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aurora-sw")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _codes(values: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup.get(v, -1) for v in values], dtype=np.int8)


def _by_minute(frames: pd.DataFrame, freq: str = "1min") -> pd.DataFrame:
    """Frames indexed by their UTC minute (naive), the first frame of a minute kept."""
    df = frames.copy()
    df["time"] = pd.to_datetime(df["time_utc"], utc=True).dt.tz_localize(None).dt.floor(freq)
    return df.sort_values("time").drop_duplicates("time", keep="first").set_index("time")


def build_index(
    frames: pd.DataFrame,
    threshold: float = 0.5,
    attrs: dict | None = None,
    freq: str = "1min",
    grid: pd.DatetimeIndex | None = None,
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

    Returns
    -------
    xarray.Dataset
        On a regular ``time`` axis (UTC, ``freq``) spanning the frames; empty minutes are NaN.
    """
    if frames.empty and grid is None:
        raise AuroraSWError("no scored frames to build an index from")
    df = _by_minute(frames, freq)
    if grid is None:
        grid = pd.date_range(df.index.min(), df.index.max(), freq=freq, name="time")
    df = df.reindex(grid)
    has = df["p_aurora"].notna().to_numpy()

    data = {
        "p_aurora": ("time", df["p_aurora"].to_numpy(float), {"units": "1", "long_name": "classifier probability of visible aurora"}),
        "aurora": (
            "time",
            np.where(has, (df["p_aurora"].to_numpy(float) >= threshold).astype(np.int8), -1).astype(np.int8),
            {"long_name": "aurora visible (p_aurora >= threshold)", "flag_values": [-1, 0, 1], "flag_meanings": "no_frame no yes", "threshold": threshold},
        ),
    }
    for name in INDEX_NAMES:
        units, long_name = INDEX_ATTRS[name]
        data[name] = ("time", df[name].to_numpy(float), {"units": units, "long_name": long_name})
    for name, (units, long_name) in GEOMETRY_ATTRS.items():
        data[name] = ("time", df[name].to_numpy(float), {"units": units, "long_name": long_name})
    for name, (units, long_name) in {**NIGHT_AREA_ATTRS, **CAM_ATTRS}.items():  # NaN where not computed
        values = df[name].to_numpy(float) if name in df else np.full(len(df), np.nan)
        data[name] = ("time", values, {"units": units, "long_name": long_name})
    data["sun_class"] = (
        "time",
        _codes(df["sun_class"], SUN_CLASSES),
        {"long_name": "Sun-altitude class", "flag_values": list(range(-1, len(SUN_CLASSES))), "flag_meanings": "no_frame " + " ".join(SUN_CLASSES)},
    )
    data["moon_class"] = (
        "time",
        _codes(df["moon_class"], MOON_CLASSES),
        {"long_name": "Moon class", "flag_values": list(range(-1, len(MOON_CLASSES))), "flag_meanings": "no_frame " + " ".join(MOON_CLASSES)},
    )
    data["night"] = ("time", pd.to_datetime(df["night"]).to_numpy().astype("datetime64[ns]"), {"long_name": "night (local date at dusk)"})
    data["flags"] = (
        "time",
        flags_to_bits(df["flags"]),
        {"long_name": "frame quality flags", "flag_masks": list(FLAG_BITS.values()), "flag_meanings": " ".join(FLAG_BITS)},
    )
    ds = xr.Dataset(data, coords={"time": ("time", grid.to_numpy(), {"long_name": "time (UTC)", "standard_name": "time"})})
    ds.attrs.update(
        {
            "title": "aurora-sw per-minute aurora index",
            "Conventions": "CF-1.10",
            "aurora_sw_version": _code_version(),
            "time_convention": "UTC; one row per minute, NaN where no frame",
            **(attrs or {}),
        }
    )
    return ds


def class_names(da: xr.DataArray) -> np.ndarray:
    """Decode an integer class variable (``sun_class``/``moon_class``) to names ('' where no frame)."""
    names = {int(v): m for v, m in zip(da.attrs["flag_values"], da.attrs["flag_meanings"].split())}
    names[-1] = ""
    codes = np.nan_to_num(np.asarray(da.values, float), nan=-1).astype(int)
    return np.array([names.get(c, "") for c in codes], dtype=object)


NIGHT_START_UTC_HOUR = 18  # 11:00 MST / 12:00 MDT: a local night (dusk to dawn) lies inside one chunk
MINUTES_PER_NIGHT = 1440


def night_grid(first_night: str, last_night: str) -> pd.DatetimeIndex:
    """The 1-min UTC axis of a store: each night is one 1440-minute chunk from 18:00 UTC of its date."""
    start = pd.Timestamp(first_night) + pd.Timedelta(hours=NIGHT_START_UTC_HOUR)
    n = (pd.Timestamp(last_night) - pd.Timestamp(first_night)).days + 1
    return pd.date_range(start, periods=n * MINUTES_PER_NIGHT, freq="1min", name="time")


def night_window(night: str) -> slice:
    """The store's time slice of one night (its 1440-minute chunk), for ``ds.sel(time=...)``."""
    start = pd.Timestamp(night) + pd.Timedelta(hours=NIGHT_START_UTC_HOUR)
    return slice(start, start + pd.Timedelta(minutes=MINUTES_PER_NIGHT - 1))


def init_store(path: str | os.PathLike, first_night: str, last_night: str, threshold: float, attrs: dict) -> Path:
    """Create an empty index store for the nights ``first_night`` .. ``last_night`` (local dates).

    Every variable is chunked by night; ``night_done`` (one flag a night) marks the nights whose
    region is complete, and only those are shown by :func:`open_index`.
    """
    path = Path(path)
    grid = night_grid(first_night, last_night)
    empty = pd.DataFrame(columns=["time_utc", "night", "flags", "p_aurora", "sun_class", "moon_class", *INDEX_NAMES, *NIGHT_AREA_ATTRS, *GEOMETRY_ATTRS])
    ds = build_index(empty, threshold, attrs, grid=grid)
    nights = pd.date_range(first_night, last_night, freq="D")
    ds["night_done"] = ("night_slot", np.zeros(len(nights), np.int8), {"long_name": "night region complete (1) or not (0)"})
    ds = ds.assign_coords(night_slot=("night_slot", nights.to_numpy(), {"long_name": "night (local date at dusk)"}))
    ds.attrs.update(first_night=first_night, last_night=last_night)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    encoding = {v: {"chunks": (MINUTES_PER_NIGHT,)} for v in ds.data_vars if ds[v].dims == ("time",)}
    ds.to_zarr(tmp, mode="w", consolidated=False, encoding=encoding)
    _init_keogram(tmp, grid)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def _init_keogram(path: Path, grid: pd.DatetimeIndex) -> None:
    """The store's keogram group: uint8 (time, meridian_angle, channel), one chunk a night,
    metadata only (unwritten nights read as 0 and are masked by :func:`open_keogram`)."""
    import dask.array as da

    shape = (len(grid), KEOGRAM_ROWS, 3)
    keo = xr.Dataset(
        {"keogram": (("time", "meridian_angle", "channel"), da.zeros(shape, np.uint8, chunks=(MINUTES_PER_NIGHT, KEOGRAM_ROWS, 3)),
                     {"units": "DN", "long_name": "north-south keogram (meridian of each frame, north at angle 0)"})},
        coords={"time": ("time", grid.to_numpy(), {"long_name": "time (UTC)"}),
                "meridian_angle": ("meridian_angle", meridian_angles(KEOGRAM_ROWS), ANGLE_ATTRS)},  # channels R, G, B (labelled on reading)
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
    rows = np.zeros((len(grid), KEOGRAM_ROWS, 3), np.uint8)
    if "meridian" in frames and len(frames):
        df = _by_minute(frames)
        pos = grid.get_indexer(df.index)
        keep = pos >= 0
        rows[pos[keep]] = np.stack(df["meridian"].to_numpy()[keep])
    xr.Dataset({"keogram": (("time", "meridian_angle", "channel"), rows)}).to_zarr(
        path, group=KEOGRAM_GROUP, region={"time": region, "meridian_angle": slice(None), "channel": slice(None)}, consolidated=False)


def write_night(path: str | os.PathLike, night: str, frames: pd.DataFrame) -> None:
    """Write one night's scored frames into its region, then mark it done.

    Re-writing a night replaces it. The done flag goes last, so a run killed midway leaves the
    night marked not done, and readers do not see it.
    """
    store = xr.open_zarr(path, consolidated=False)
    first = str(store.attrs["first_night"])
    slot = (pd.Timestamp(night) - pd.Timestamp(first)).days
    if not 0 <= slot < store.sizes["night_slot"]:
        raise AuroraSWError(f"{path}: night {night} is outside the store ({first} .. {store.attrs['last_night']}); score into a new store")
    region = slice(slot * MINUTES_PER_NIGHT, (slot + 1) * MINUTES_PER_NIGHT)
    grid = pd.DatetimeIndex(store["time"].values[region])
    threshold = float(store["aurora"].attrs["threshold"])
    ds = build_index(frames, threshold, grid=grid)
    _mark(path, slot, done=False)  # a night being replaced is hidden until complete again
    ds = ds.drop_vars("time")
    for name in ds.data_vars:  # the store holds the attributes; a region write carries data only
        ds[name].attrs = {}
    ds.attrs = {}
    ds.to_zarr(path, region={"time": region}, consolidated=False)
    _write_keogram(path, region, grid, frames)
    _mark(path, slot, done=True)


def _mark(path: str | os.PathLike, slot: int, done: bool) -> None:
    flag = xr.Dataset({"night_done": ("night_slot", np.array([int(done)], np.int8))})
    flag.to_zarr(path, region={"night_slot": slice(slot, slot + 1)}, consolidated=False)


def done_nights(path: str | os.PathLike) -> set[str]:
    """Nights whose region in the store is complete."""
    store = xr.open_zarr(path, consolidated=False)
    done = store["night_done"].values.astype(bool)
    return set(pd.DatetimeIndex(store["night_slot"].values[done]).strftime("%Y-%m-%d"))


def open_index(path: str | os.PathLike) -> xr.Dataset:
    """Open an aurora-index Zarr store (lazily; select, then ``.load()``).

    Examples
    --------
    >>> ds = open_index("demo_out/index.zarr")  # doctest: +SKIP
    >>> ds.p_aurora.sel(time="2024-02-06").plot()  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise AuroraSWError(f"{path}: no index here; run `aurora-sw demo` or `aurora-sw score` first")
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as exc:
        raise AuroraSWError(f"{path}: cannot open as an aurora index ({exc})") from None
    if "night_done" not in ds:
        return ds
    # Only complete nights: a night being written (or left by a killed run) reads as missing.
    done = np.repeat(ds["night_done"].values.astype(bool), MINUTES_PER_NIGHT)
    mask = xr.DataArray(done, dims="time", coords={"time": ds["time"]})
    out = ds.drop_vars(["night_done", "night_slot"])
    for name in out.data_vars:
        v = out[name]
        if np.issubdtype(v.dtype, np.floating):
            out[name] = v.where(mask)
        elif np.issubdtype(v.dtype, np.datetime64):
            out[name] = v.where(mask, np.datetime64("NaT"))
        else:
            out[name] = v.where(mask, -1).astype(v.dtype)
        out[name].attrs = v.attrs
    out.attrs["nights_complete"] = int(ds["night_done"].sum())
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
    window = night_window(night)
    has_frame = open_index(index_path)["p_aurora"].sel(time=window).notnull().values
    if not has_frame.any():
        raise AuroraSWError(f"{index_path}: night {night} has no scored frames")
    first, last = np.flatnonzero(has_frame)[[0, -1]]
    rows = stored.sel(time=window).isel(time=slice(first, last + 1)).values.astype(np.float32)
    rows[~has_frame[first : last + 1]] = np.nan
    times = stored["time"].sel(time=window).values[first : last + 1]
    return keogram_array(rows, times)
