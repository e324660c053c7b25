"""AuroraMAX-style 1280x720 H.264 timelapse movies of a synthetic night, local time burned in."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from aurora_sw.catalog import Catalog, Site
from aurora_sw.sky import sky_conditions
from aurora_sw.synthetic.frames import frame_states, night_times
from aurora_sw.synthetic.render import FrameState, NightSky


def _overlay(canvas: np.ndarray, local_time: pd.Timestamp, site: Site) -> None:
    """Burn in the camera (top left), the place (top right) and the local time with its zone's
    abbreviation (bottom right, inside the camera epoch's ``overlay_box``)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    white = (235, 235, 235)
    cv2.putText(canvas, site.camera_name, (24, 44), font, 1.1, white, 2, cv2.LINE_AA)
    (width, _), _ = cv2.getTextSize(site.place, font, 0.9, 2)
    cv2.putText(canvas, site.place, (1280 - 24 - width, 44), font, 0.9, white, 2, cv2.LINE_AA)
    text = f"{local_time:%Y-%m-%d %H:%M:%S} {local_time.tzname()}"
    cv2.putText(canvas, text, (1280 - 440, 700), font, 0.9, white, 2, cv2.LINE_AA)


def write_timelapse(
    out_dir: Path,
    night: pd.Timestamp,
    *,
    site: Site,
    catalog: Catalog,
    night_seed: int,
    activity: xr.DataArray,
    size: int = 720,
    minutes: int | None = None,
    start_local: str | None = None,
    overlay_noise: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write an AuroraMAX-style 1280x720 H.264 timelapse of one night.

    One movie frame per exposure (the site's ``frame_cadence_s``, 6 s) at 25 fps; the sky
    circle is centred; the local time (the site's zone from the catalog, with its abbreviation:
    MST/MDT at Yellowknife) is burned in at the bottom right, as on the real movies, the camera
    and place from the site's ``name`` at the top.

    Parameters
    ----------
    out_dir
        Folder to write to (created).
    night
        The night's local date (at dusk).
    site, catalog
        The camera site and the catalog (sky-condition thresholds).
    night_seed
        Seed of the night's sky (stars, trees, arcs).
    activity
        Auroral activity (0..1, 1 min, naive UTC time) driving the arcs.
    size
        Rendered sky size in pixels (scaled to 720 for the movie).
    minutes
        Only the first this many minutes of sky time (all of the dark night if None).
    start_local
        ``HH:MM``: start at that local time instead of at dusk.
    overlay_noise
        Fraction of frames whose burned-in time gets bright blobs drawn over it (a star or
        satellite crossing the text): what makes real OCR misread.
    seed
        Seed of that noise.

    Returns
    -------
    Path
        ``out_dir/auroramaxHD_YYYYMMDD_720p.mp4``.
    """
    import av

    cadence = site.frame_cadence_s
    times = night_times([night], site, cadence)
    geo = sky_conditions(times, site, catalog.sky_conditions)
    dark = geo.sun_alt.to_numpy() <= -8.0
    times, geo = times[dark], geo[dark]
    if start_local is not None:
        start = pd.Timestamp(f"{night.date()} {start_local}").tz_localize(site.timezone)
        if start.hour < 12:
            start += pd.Timedelta(days=1)
        keep = times >= start.tz_convert("UTC")
        times, geo = times[keep], geo[keep]
    if minutes is not None:
        n = int(minutes * 60 / cadence)
        times, geo = times[:n], geo[:n]
    act = activity.sel(time=times.tz_localize(None).to_numpy(), method="nearest").values
    cloud = np.full(len(times), 0.1)
    sky = NightSky(size, site.lat_deg, night_seed)
    states = frame_states(times, geo, act, cloud, times[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"auroramaxHD_{night:%Y%m%d}_720p.mp4"
    container = av.open(str(path), mode="w")
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    stream.options = {"crf": "23", "preset": "veryfast"}
    x0 = (1280 - 720) // 2
    noise_rng = np.random.default_rng([seed, 17])
    for t, st in zip(tqdm(times, desc=f"timelapse {night:%Y-%m-%d}", unit="frame"), states):
        frame, _ = sky.render(FrameState(**st), frame_seed=int(t.timestamp()))
        if size != 720:
            frame = cv2.resize(frame, (720, 720), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((720, 1280, 3), np.uint8)
        canvas[:, x0 : x0 + 720] = frame
        _overlay(canvas, t.tz_convert(site.timezone), site)
        if overlay_noise and noise_rng.random() < overlay_noise:
            for _ in range(int(noise_rng.integers(2, 5))):
                centre = (int(noise_rng.integers(845, 1160)), int(noise_rng.integers(680, 705)))
                cv2.circle(canvas, centre, int(noise_rng.integers(4, 9)), (255, 255, 255), -1)
        for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path
