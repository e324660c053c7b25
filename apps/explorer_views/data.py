"""The data root and cached loading: every page reads through here.

Everything lives under one data root (``--data``, default ``demo_out``), laid out as the catalog's
``outputs`` say (:class:`aurora_sw.layout.ProjectLayout`: ``index.zarr``, ``solarwind.nc``,
``archive/manifest.parquet``, ``model/best.pt``, ...). A path typed by the user
or stored in a file is resolved and refused if it leaves the root; a refusal, like any user error,
reaches the page as one ``st.error`` line through :func:`refusals_shown`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import xarray as xr

from aurora_sw.catalog import Outputs, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.index import condition_table, nightly_summary, open_index
from aurora_sw.index.keogram import keogram
from aurora_sw.index.schema import KEOGRAM_ROWS, class_names, night_start_hour, night_window
from aurora_sw.index.store import open_keogram
from aurora_sw.ingest import read_manifest
from aurora_sw.layout import ProjectLayout
from aurora_sw.times import naive_utc


@lru_cache(maxsize=1)
def _catalog_outputs() -> Outputs:
    """The catalog's layout names (read once per Explorer process)."""
    return load_catalog().outputs


@contextmanager
def refusals_shown() -> Iterator[None]:
    """Show a user error raised inside (a refused path, a damaged file) as one ``st.error`` line and
    end the run there: nothing after it is drawn (no labelling button acts on data not shown) and
    no traceback reaches the browser."""
    try:
        yield
    except AuroraSWError as exc:
        st.error(" ".join(str(exc).split()))
        st.stop()


NIGHT_VARS = ("p_aurora", "aurora", "green_excess", "aurora_area", "aurora_area_night", "sun_alt", "moon_alt")


class DataRoot:
    """The folder the Explorer reads (an ``aurora-sw demo`` output or a project folder)."""

    def __init__(self, root: str | Path, outputs: Outputs | None = None) -> None:
        self.root = Path(root).resolve()
        self.layout = ProjectLayout(self.root, outputs or _catalog_outputs())

    def inside(self, path: str | Path) -> Path:
        """``path`` (relative to the root, or absolute) resolved; refused outside the root."""
        p = (self.root / path).resolve()
        if p != self.root and self.root not in p.parents:
            raise AuroraSWError(f"{path}: outside the data root {self.root}; the Explorer reads and writes only under --data")
        return p

    def frame(self, path: str | Path) -> Path:
        """A frame named in a file under the root (manifest, predictions), resolved; refused when it
        leaves the root or is gone."""
        p = self.inside(path)
        if not p.is_file():
            raise AuroraSWError(f"{p}: frame not found (moved or deleted since it was listed); re-run `aurora-sw ingest` on the frames")
        return p

    def contains(self, path: str | Path) -> bool:
        """Whether ``path`` resolves under the root and exists."""
        try:
            return self.inside(path).exists()
        except AuroraSWError:
            return False

    @property
    def has_index(self) -> bool:
        return self.layout.index.exists()

    def index(self) -> xr.Dataset:
        return _index(str(self.root))

    def nightly(self) -> pd.DataFrame:
        return _nightly(str(self.root))

    def condition_table(self, months: tuple[int, ...]) -> pd.DataFrame:
        return _condition_table(str(self.root), months)

    def night(self, night: str) -> pd.DataFrame:
        return _night(str(self.root), night)

    def keogram(self, night: str) -> tuple[np.ndarray, np.ndarray]:
        """(times, image meridian x time x RGB) of one night."""
        return _keogram(str(self.root), night)

    def solarwind(self) -> xr.Dataset | None:
        return _solarwind(str(self.root))

    def manifest(self) -> pd.DataFrame | None:
        return _manifest(str(self.root))

    def forecast(self) -> tuple[dict, pd.DataFrame] | None:
        """The trained forecast's ``verification.json`` and held-out forecasts, or None when there is none."""
        return _forecast(str(self.root))

    def live(self) -> pd.DataFrame | None:
        """The live store's minutes, or None when nothing has run live under the root."""
        return _live(str(self.root))

    def checkpoint_path(self) -> Path | None:
        p = self.layout.checkpoint
        return p if p.exists() else None


@st.cache_data(show_spinner="keogram…", max_entries=8)
def _keogram(root: str, night: str) -> tuple[np.ndarray, np.ndarray]:
    """The keogram stored with the index (no frame decoded); from the frames for older stores."""
    data = DataRoot(root)
    keo = open_keogram(data.layout.index, night) if data.has_index else None
    if keo is None:
        keo = keogram(night_frames(data, night), size=KEOGRAM_ROWS)
    return keo["time"].values, keo.transpose("meridian_angle", "time", "channel").values


@st.cache_resource(show_spinner=False)
def _index(root: str) -> xr.Dataset:
    return open_index(DataRoot(root).layout.index)  # lazy: pages load only what they show


@st.cache_data(show_spinner=False)
def _nightly(root: str) -> pd.DataFrame:
    return nightly_summary(_index(root)[["night", "p_aurora", "aurora", "sun_alt"]].load())


@st.cache_data(show_spinner=False)
def _condition_table(root: str, months: tuple[int, ...]) -> pd.DataFrame:
    return condition_table(_index(root)[["p_aurora", "aurora", "sun_class", "moon_class"]].load(), months)


@st.cache_data(show_spinner=False)
def _night(root: str, night: str) -> pd.DataFrame:
    """One night's minutes (one Zarr chunk), with sky classes decoded."""
    index = _index(root)
    ds = index.sel(time=night_window(night, start_hour=night_start_hour(index.attrs)))
    ds = ds[[v for v in (*NIGHT_VARS, "sun_class", "moon_class") if v in ds]].load()
    df = ds[[v for v in NIGHT_VARS if v in ds]].to_dataframe()
    df["sun_class"] = class_names(ds["sun_class"])
    df["moon_class"] = class_names(ds["moon_class"])
    return df[df["p_aurora"].notna()]


@st.cache_data(show_spinner=False)
def _solarwind(root: str) -> xr.Dataset | None:
    path = DataRoot(root).layout.solarwind
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{path}: cannot read the solar wind ({exc}); write it again with `aurora-sw solarwind fetch --out {path}`") from None


@st.cache_data(show_spinner=False, ttl=600)
def _forecast(root: str) -> tuple[dict, pd.DataFrame] | None:
    import json

    folder = DataRoot(root).layout.forecast
    if not (folder / "verification.json").exists():
        return None
    try:
        return json.loads((folder / "verification.json").read_text()), pd.read_parquet(folder / "held_out.parquet")
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{folder}: cannot read the forecast's verification ({type(exc).__name__}); train it again with `aurora-sw forecast train --out {folder}`") from None


@st.cache_data(show_spinner=False, ttl=30)
def _live(root: str) -> pd.DataFrame | None:
    from aurora_sw.workflows.live import LIVE_TABLE, read_live

    store = DataRoot(root).layout.live
    return read_live(store) if (store / LIVE_TABLE).exists() else None


@st.cache_data(show_spinner=False)
def _manifest(root: str) -> pd.DataFrame | None:
    layout = DataRoot(root).layout
    if not layout.manifest.exists():
        return None
    m = read_manifest(layout.archive)
    m["minute"] = naive_utc(m["time_utc"]).dt.floor("1min")
    return m


def night_frames(data: DataRoot, night: str) -> pd.DataFrame:
    """Manifest rows of one night, one per minute, sorted by time."""
    m = data.manifest()
    if m is None:
        return pd.DataFrame(columns=["minute", "path", "time_utc"])
    rows = m[m["night"].astype(str) == night].sort_values("time_utc")
    return rows.drop_duplicates("minute").reset_index(drop=True)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Clip to displayable uint8."""
    return np.clip(np.nan_to_num(image), 0, 255).astype(np.uint8)
