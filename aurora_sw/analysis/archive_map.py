"""A map of the archive: every scored minute's stored embedding laid out in two dimensions (UMAP).

Minutes that look alike to the classifier land near each other, so a map coloured by class,
P(aurora), night or Kp shows what the archive holds, where the classifier hesitates, and which
look-alike frames can be labelled together (the Explorer's Map page selects points and labels them
in bulk). The embedding is the one stored with the index (:func:`aurora_sw.index.store.open_embedding`);
the layout is UMAP (McInnes et al. 2018, ``umap-learn``) on a draw of at most ``max_points`` minutes.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import class_names

__all__ = ["archive_map", "layout_2d"]


def layout_2d(embedding: np.ndarray, *, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> np.ndarray:
    """UMAP of the rows of ``embedding`` (n, k) to (n, 2), reproducible for a given ``seed``
    (UMAP then runs on one thread)."""
    try:
        import umap
    except ImportError:
        raise AuroraSWError("the archive map needs umap-learn: pip install umap-learn") from None
    n = len(embedding)
    if n < 5:
        raise AuroraSWError(f"the archive map needs at least 5 scored minutes with an embedding; there are {n}")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=min_dist, random_state=seed, n_jobs=1, n_epochs=200,
                        init="spectral" if n > 50 else "random")
    return reducer.fit_transform(np.asarray(embedding, np.float32))


def archive_map(
    index_path: str | os.PathLike,
    *,
    max_points: int = 4000,
    seed: int = 0,
    solarwind: xr.Dataset | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
) -> pd.DataFrame:
    """The archive's minutes placed on a 2-D map by their stored embeddings.

    Parameters
    ----------
    index_path
        An index store scored with a checkpoint that has an embedding basis.
    max_points
        At most this many minutes (a uniform draw over the archive, fixed by ``seed``; UMAP's time
        grows with the points: ~10 s for 4,000 on 2 cores).
    solarwind
        The solar wind (``aurora-sw solarwind fetch``): its ``kp`` at each minute (the last value
        within 3 h) is added as column ``kp``.

    Returns
    -------
    pandas.DataFrame
        One row per minute drawn, in time order: ``time`` (UTC, naive), ``night``, ``x``, ``y`` (the
        map's coordinates, unitless), ``p_aurora``, ``aurora`` (yes/no at the store's threshold),
        ``sky_class`` (the morphology model's likeliest class, or yes/no for a binary model),
        ``sun_class``, ``moon_class`` and, with ``solarwind``, ``kp``.

    Raises
    ------
    AuroraSWError
        The store holds no embeddings (scored with a checkpoint from before embeddings were fitted:
        train again, then score), umap-learn is missing, or fewer than 5 minutes are scored.
    """
    from aurora_sw.index.store import open_embedding, open_index

    if max_points < 5:
        raise AuroraSWError(f"--max-points {max_points}: the map needs at least 5 points")
    emb = open_embedding(index_path)
    if emb is None:
        raise AuroraSWError(f"{index_path}: this index holds no embeddings (its checkpoint was trained before embeddings were stored); "
                            "train the model again with `aurora-sw train`, then `aurora-sw score`")
    emb = emb.isel(time=np.flatnonzero(np.isfinite(emb.values).all(1)))  # minutes of a frame that could not be read carry none
    if len(emb["time"]) < 5 and emb.attrs.get("nights_damaged"):
        raise AuroraSWError(f"{index_path}: the embeddings of night(s) {emb.attrs['nights_damaged']} are damaged and too few minutes remain for a map; "
                            "`aurora-sw score --resume` re-scores them")
    times = emb["time"].values
    if len(times) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(times), max_points, replace=False))
        emb, times = emb.isel(time=keep), times[keep]
    index = open_index(index_path, warn=False).sel(time=times)
    names = [v for v in ("p_aurora", "aurora", "morphology", "sun_class", "moon_class", "night") if v in index]
    ds = index[names].load()
    xy = layout_2d(emb.values, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed)
    aurora = np.where(ds["aurora"].values == 1, "yes", "no")
    out = pd.DataFrame({
        "time": pd.DatetimeIndex(times), "night": pd.to_datetime(ds["night"].values).strftime("%Y-%m-%d"), "x": xy[:, 0], "y": xy[:, 1],
        "p_aurora": ds["p_aurora"].values, "aurora": aurora,
        "sky_class": class_names(ds["morphology"]) if "morphology" in ds else aurora,
        "sun_class": class_names(ds["sun_class"]), "moon_class": class_names(ds["moon_class"]),
    })
    if solarwind is not None and "kp" in solarwind:
        kp = solarwind["kp"].to_series().dropna()
        kp.index = pd.DatetimeIndex(kp.index).tz_localize(None) if pd.DatetimeIndex(kp.index).tz is not None else kp.index
        out["kp"] = kp.sort_index().reindex(out["time"], method="ffill", tolerance=pd.Timedelta(hours=3)).to_numpy()
    return out
