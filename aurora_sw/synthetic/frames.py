"""Synthetic frames: the night's UTC instants, each frame's sky state, and 720x720 JPEGs rendered
in parallel (UTC time in the file name, as the catalog's ``jpeg_archive`` patterns read it)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aurora_sw.catalog import Site
from aurora_sw.synthetic.render import FrameState, NightSky
from aurora_sw.synthetic.solarwind import _ou

FRAME_NAME = "%Y%m%dT%H%M%SZ.jpg"
CHUNK_FRAMES = 40  # frames a rendering task draws (one NightSky per worker and night)


def _gmst_deg(times: pd.DatetimeIndex) -> np.ndarray:
    jd = times.to_julian_date().to_numpy()
    return np.mod(280.46061837 + 360.98564736629 * (jd - 2451545.0), 360.0)


def night_times(nights: list[pd.Timestamp], site: Site, cadence_s: float = 60.0) -> pd.DatetimeIndex:
    """UTC instants from local 15:00 on each night's date to 11:00 the next morning.

    Parameters
    ----------
    nights
        The nights' local dates (at dusk).
    site
        The camera site; its ``timezone`` sets local time.
    cadence_s
        Seconds between instants.
    """
    out = []
    for night in nights:
        start = pd.Timestamp(night.date()).tz_localize(site.timezone) + pd.Timedelta(hours=15)
        out.append(pd.date_range(start.tz_convert("UTC"), periods=int(20 * 3600 / cadence_s), freq=f"{cadence_s}s"))
    return out[0].append(out[1:]) if len(out) > 1 else out[0]


def cloudiness(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cloudiness 0..1 for one night's ``n`` frames: a regime (clear/partly/mostly/overcast) plus drift."""
    base = rng.choice([0.0, 0.25, 0.5, 0.85], p=[0.4, 0.25, 0.2, 0.15])
    return np.clip(base + _ou(rng, n, 90, 0.2), 0.0, 1.0)


def frame_states(times: pd.DatetimeIndex, geo: pd.DataFrame, activity: np.ndarray, clouds: np.ndarray, t0: pd.Timestamp) -> list[dict]:
    """The :class:`~aurora_sw.synthetic.render.FrameState` fields of each frame (as dicts, to
    travel to worker processes): minutes since ``t0``, sidereal time (deg), Sun and Moon
    positions (deg) from ``geo`` (:func:`aurora_sw.sky.sky_conditions`), activity and cloudiness."""
    lst = np.mod(_gmst_deg(times) + 0.0, 360.0)
    minutes = (times - t0).total_seconds().to_numpy() / 60.0
    return [
        dict(
            minute=float(minutes[i]),
            lst_deg=float(lst[i]),
            sun_alt=float(geo.sun_alt.iloc[i]),
            sun_az=float(geo.sun_az.iloc[i]),
            moon_alt=float(geo.moon_alt.iloc[i]),
            moon_az=float(geo.moon_az.iloc[i]),
            moon_illum=float(geo.moon_illum.iloc[i]),
            activity=float(activity[i]),
            cloudiness=float(clouds[i]),
        )
        for i in range(len(times))
    ]


# One NightSky per worker process and night: building one costs ~0.1 s.
_SKIES: dict[tuple, NightSky] = {}


def _render_chunk(task: dict) -> list[dict]:
    cv2.setNumThreads(1)
    key = (task["size"], task["lat"], task["night_seed"])
    if key not in _SKIES:
        _SKIES.clear()
        _SKIES[key] = NightSky(task["size"], task["lat"], task["night_seed"])
    sky = _SKIES[key]
    rows = []
    for st, path, fseed in zip(task["states"], task["paths"], task["frame_seeds"]):
        frame, truth = sky.render(FrameState(**st), frame_seed=fseed)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(path, frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append(truth)
    return rows


def frame_path(night: str, time: pd.Timestamp) -> Path:
    """A frame's path relative to the frames folder: ``NIGHT/YYYYMMDDTHHMMSSZ.jpg``."""
    return Path(str(night)) / time.strftime(FRAME_NAME)


def write_frames(
    frames_dir: Path,
    times: pd.DatetimeIndex,
    *,
    night_of: np.ndarray,
    geo: pd.DataFrame,
    activity: np.ndarray,
    clouds: np.ndarray,
    size: int,
    site: Site,
    seed: int,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Render and write one JPEG per instant of ``times`` (UTC) under ``frames_dir/NIGHT/``.

    Parameters
    ----------
    frames_dir
        The frames folder.
    times
        The frames' UTC instants, sorted.
    night_of
        Each frame's night (local date at dusk).
    geo
        Sun and Moon positions of each frame (:func:`aurora_sw.sky.sky_conditions`).
    activity, clouds
        Auroral activity and cloudiness (0..1) of each frame.
    size
        Frame size in pixels.
    site
        The camera site (its latitude sets the star field's pole).
    seed
        Seed; each night's sky is seeded by ``seed * 1000 + its position``.
    workers
        Processes (default: the cores, at most 8).

    Returns
    -------
    list of dict
        Each frame's truth from :meth:`~aurora_sw.synthetic.render.NightSky.render`, in the order of ``times``.
    """
    tasks = []
    for i, night in enumerate(np.unique(night_of)):
        m = np.flatnonzero(night_of == night)
        states = frame_states(times[m], geo.iloc[m], activity[m], clouds[m], times[m[0]])
        paths = [str(frames_dir / frame_path(night, t)) for t in times[m]]
        fseeds = [int(t.timestamp()) for t in times[m]]
        for c in range(0, len(m), CHUNK_FRAMES):
            chunk = slice(c, c + CHUNK_FRAMES)
            tasks.append(dict(size=size, lat=site.lat_deg, night_seed=seed * 1000 + i, states=states[chunk], paths=paths[chunk], frame_seeds=fseeds[chunk]))
    workers = workers or min(os.cpu_count() or 1, 8)
    truths: list[dict] = []
    bar = tqdm(total=len(times), desc="synthetic frames", unit="frame", disable=not progress)
    if workers > 1:
        # spawn, not fork: forking a process whose libraries already run threads (PyAV, OpenCV,
        # torch) can deadlock the children.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for rows in pool.map(_render_chunk, tasks):
                truths.extend(rows)
                bar.update(len(rows))
    else:
        for task in tasks:
            rows = _render_chunk(task)
            truths.extend(rows)
            bar.update(len(rows))
    bar.close()
    return truths
