"""Write a synthetic archive: frames, AuroraMAX-style movies, OMNI CDFs, Kp and ground truth.

Layout under ``root``::

    frames/NIGHT/YYYYMMDDTHHMMSSZ.jpg     720x720 sky-circle crops, UTC in the name
    videos/auroramaxHD_YYYYMMDD_720p.mp4  1280x720 timelapse, local time burned in (optional)
    omni_data/hro2_1min/YYYY/omni_hro2_1min_YYYYMM01_v01.cdf   OMNI HRO2 layout, fill values
    omni_data/hourly/YYYY/omni2_h0_mrg1hr_YYYYMM01_v01.cdf       hourly OMNI2: Dst, F10.7, Kp
    kp_data/Kp_defYYYY.wdc                3-hourly Kp in GFZ's WDC format
    truth/frames.csv                      per-frame truth (aurora_visible, activity, clouds, ...)
    truth/solarwind.nc                    gap-free solar wind and the activity it drove
    synthetic.json                        seed, planted delay, nights, frame size
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from aurora_sw.catalog import Catalog, Site, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.sky import local_night, sky_conditions
from aurora_sw.solarwind.kp import write_kp_wdc
from aurora_sw.synthetic.render import FrameState, NightSky
from aurora_sw.synthetic.solarwind import OMNI_FILLS, _ou, aurora_activity, synthetic_kp, synthetic_solar_wind
from aurora_sw.times import night_date

FRAME_NAME = "%Y%m%dT%H%M%SZ.jpg"
OMNI_SOURCE_VARS = {
    "bz_gsm": "BZ_GSM",
    "by_gsm": "BY_GSM",
    "bx_gse": "BX_GSE",
    "vsw": "flow_speed",
    "density": "proton_density",
    "pressure": "Pressure",
    "ae": "AE_INDEX",
    "sym_h": "SYM_H",
}


@dataclass(frozen=True)
class SyntheticArchive:
    """Where a generated synthetic archive lives, and what was planted in it."""

    root: Path
    nights: tuple[str, ...]
    planted_delay_min: float
    seed: int
    frame_size: int
    n_frames: int

    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    @property
    def omni_dir(self) -> Path:
        return self.root / "omni_data"

    @property
    def truth_csv(self) -> Path:
        return self.root / "truth" / "frames.csv"

    @property
    def kp_dir(self) -> Path:
        return self.root / "kp_data"

    @classmethod
    def open(cls, root: str | os.PathLike) -> "SyntheticArchive":
        """Read ``synthetic.json`` of an archive written by :func:`generate_archive`."""
        root = Path(root)
        meta = json.loads((root / "synthetic.json").read_text())
        return cls(root=root, **{k: tuple(v) if k == "nights" else v for k, v in meta.items()})


def _gmst_deg(times: pd.DatetimeIndex) -> np.ndarray:
    jd = times.to_julian_date().to_numpy()
    return np.mod(280.46061837 + 360.98564736629 * (jd - 2451545.0), 360.0)


def night_times(nights: list[pd.Timestamp], site: Site, cadence_s: float = 60.0) -> pd.DatetimeIndex:
    """UTC instants from local 15:00 on each night's date to 11:00 the next morning."""
    out = []
    for night in nights:
        start = pd.Timestamp(night.date()).tz_localize(site.timezone) + pd.Timedelta(hours=15)
        out.append(pd.date_range(start.tz_convert("UTC"), periods=int(20 * 3600 / cadence_s), freq=f"{cadence_s}s"))
    return out[0].append(out[1:]) if len(out) > 1 else out[0]


def _cloudiness(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cloudiness 0..1 for one night's frames: a regime (clear/partly/mostly/overcast) plus drift."""
    base = rng.choice([0.0, 0.25, 0.5, 0.85], p=[0.4, 0.25, 0.2, 0.15])
    return np.clip(base + _ou(rng, n, 90, 0.2), 0.0, 1.0)


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


def _states(times: pd.DatetimeIndex, geo: pd.DataFrame, activity: np.ndarray, cloudiness: np.ndarray, t0: pd.Timestamp) -> list[dict]:
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
            cloudiness=float(cloudiness[i]),
        )
        for i in range(len(times))
    ]


def _write_cdf(path: Path, times: pd.DatetimeIndex, variables: dict[str, tuple[np.ndarray, float, str]], source: str) -> Path:
    """One CDF with an Epoch and ``{name: (data, fill, units)}``; int32 data stays integer."""
    import cdflib
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    epoch = cdflib.cdfepoch.compute_epoch(
        np.stack([times.year, times.month, times.day, times.hour, times.minute, times.second, np.zeros(len(times), int)], 1).tolist()
    )
    cdf = CDF(str(path), cdf_spec={"Compressed": 0})
    cdf.write_globalattrs({"Project": {0: "aurora_sw synthetic OMNI-like solar wind"}, "Logical_source": {0: source}})
    spec = {"Num_Elements": 1, "Rec_Vary": True, "Dim_Sizes": []}
    cdf.write_var({"Variable": "Epoch", "Data_Type": CDF.CDF_EPOCH, **spec}, var_attrs={"VAR_TYPE": "support_data"}, var_data=np.asarray(epoch))
    for name, (data, fill, units) in variables.items():
        if data.dtype == np.int32:
            dtype, fv = CDF.CDF_INT4, [np.int32(fill), "CDF_INT4"]
        else:
            data = np.where(np.isnan(data), fill, data).astype(np.float32)
            dtype, fv = CDF.CDF_FLOAT, [np.float32(fill), "CDF_FLOAT"]
        attrs = {"VAR_TYPE": "data", "DEPEND_0": "Epoch", "FILLVAL": fv, "UNITS": units}
        cdf.write_var({"Variable": name, "Data_Type": dtype, **spec}, var_attrs=attrs, var_data=data)
    cdf.close()
    return path


def write_omni_cdfs(sw: xr.Dataset, activity: xr.DataArray, omni_dir: Path, seed: int = 0) -> list[Path]:
    """Write the solar wind in the OMNI layouts, gaps as OMNI fill values.

    Monthly HRO2 1-min files (``hro2_1min/YYYY/omni_hro2_1min_YYYYMM01_v01.cdf``) and half-year
    hourly OMNI2 files (``hourly/YYYY/omni2_h0_mrg1hr_YYYYMM01_v01.cdf`` with Dst, F10.7 and Kp).
    AE and SYM-H are made from the activity (AE rises with it; SYM-H integrates it with a 6-h
    recovery), so that the files hold every variable the catalog declares.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng([seed, 7])
    act = activity.values
    gap = np.isnan(sw["bz_gsm"].values)  # index gaps come with the IMF gaps here
    ae = np.round(np.clip(40 + 700 * act + rng.normal(0, 25, act.size), 5, None)).astype(np.int32)
    sym_f = -8 - 0.12 * lfilter([1.0], [1.0, -np.exp(-1 / 360.0)], act) + rng.normal(0, 3, act.size)
    sym = np.round(sym_f).astype(np.int32)
    ae[gap] = OMNI_FILLS["ae"]
    sym[gap] = OMNI_FILLS["sym_h"]
    time = pd.DatetimeIndex(sw["time"].values)
    paths = []
    for _, idx in pd.Series(np.arange(len(time)), index=time).groupby(time.to_period("M")):
        sel = idx.to_numpy()
        t = time[sel]
        variables = {name: (sw[key].values[sel], OMNI_FILLS[key], sw[key].attrs["units"]) for key, name in OMNI_SOURCE_VARS.items() if key in sw}
        variables["AE_INDEX"] = (ae[sel], OMNI_FILLS["ae"], "nT")
        variables["SYM_H"] = (sym[sel], OMNI_FILLS["sym_h"], "nT")
        paths.append(_write_cdf(omni_dir / "hro2_1min" / f"{t[0]:%Y}" / f"omni_hro2_1min_{t[0]:%Y%m}01_v01.cdf", t, variables, "omni_hro2_1min"))

    hourly = pd.DataFrame({"dst": sym_f, "kp": synthetic_kp(sw).reindex(time, method="ffill").to_numpy()}, index=time).resample("1h").mean()
    days = (hourly.index - pd.Timestamp("1970-01-01")).total_seconds().to_numpy() / 86400.0
    f107 = 120 + 25 * np.sin(2 * np.pi * days / 27.0) + rng.normal(0, 3, len(hourly))
    half = np.where(hourly.index.month <= 6, 1, 7)
    for (year, month), g in hourly.assign(f107=f107).groupby([hourly.index.year, half]):
        variables = {
            "DST1800": (np.round(g["dst"].to_numpy()).astype(np.int32), 99999, "nT"),
            "F10_INDEX1800": (g["f107"].to_numpy(), 999.9, "sfu"),
            "KP1800": (np.round(g["kp"].to_numpy() * 10).astype(np.int32), 99, "1"),
        }
        paths.append(_write_cdf(omni_dir / "hourly" / f"{year}" / f"omni2_h0_mrg1hr_{year}{month:02d}01_v01.cdf", g.index, variables, "omni2_h0_mrg1hr"))
    return paths


def generate_archive(
    out: str | os.PathLike,
    start_night: str = "2024-02-05",
    n_nights: int = 4,
    seed: int = 0,
    delay_min: float = 45.0,
    size: int = 720,
    sun_max_alt_deg: float = -8.0,
    video_nights: int = 0,
    video_minutes: int | None = None,
    workers: int | None = None,
    catalog: Catalog | None = None,
    site_key: str = "yellowknife",
    progress: bool = True,
) -> SyntheticArchive:
    """Generate a synthetic archive of ``n_nights`` consecutive nights.

    Parameters
    ----------
    out
        Folder to write (created; existing frames of the same names are overwritten).
    start_night
        Local date of the first night (dusk of that date).
    n_nights
        Number of consecutive nights.
    seed
        Seed for everything; the same arguments give byte-identical frames.
    delay_min
        Planted delay (minutes) between the Newell coupling and the auroral activity.
    size
        Frame size in pixels (720 as AuroraMAX crops).
    sun_max_alt_deg
        The camera records while the Sun is below this altitude (deg).
    video_nights, video_minutes
        Also write AuroraMAX-style MP4s for the first ``video_nights`` nights, the first
        ``video_minutes`` minutes of each (all of the night if None).
    workers
        Processes for rendering (default: all cores).

    Raises
    ------
    AuroraSWError
        ``start_night`` not a YYYY-MM-DD date; no nights, no pixels, or negative video counts.
    """
    refused = [
        f"nights {n_nights} (at least 1)" if n_nights < 1 else "",
        f"size {size} px (at least 1)" if size < 1 else "",
        f"video nights {video_nights} (0 or more)" if video_nights < 0 else "",
        f"video minutes {video_minutes} (at least 1)" if video_minutes is not None and video_minutes < 1 else "",
    ]
    if any(refused):
        raise AuroraSWError("synthetic archive refused: " + "; ".join(r for r in refused if r))
    catalog = catalog or load_catalog()
    site = catalog.site(site_key)
    first = pd.Timestamp(night_date(start_night))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    nights = [first + pd.Timedelta(days=i) for i in range(n_nights)]

    times = night_times(nights, site)
    geo = sky_conditions(times, site, catalog.sky_conditions)
    dark = geo.sun_alt.to_numpy() <= sun_max_alt_deg
    times, geo = times[dark], geo[dark]
    night_of = local_night(times, site)

    # Solar wind spans several solar rotations around the nights (cheap: a 1-min series).
    sw_start = (nights[0] - pd.Timedelta(days=60)).normalize()
    sw_end = (nights[-1] + pd.Timedelta(days=30)).normalize()
    sw = synthetic_solar_wind(sw_start, sw_end, seed=seed)
    activity = aurora_activity(sw, delay_min=delay_min, seed=seed)
    act_at = activity.sel(time=times.tz_localize(None).to_numpy(), method="nearest").values

    rng = np.random.default_rng([seed, 3])
    cloudiness = np.zeros(len(times))
    for night in np.unique(night_of):
        m = night_of == night
        cloudiness[m] = _cloudiness(rng, int(m.sum()))

    tasks = []
    for i, night in enumerate(np.unique(night_of)):
        m = np.flatnonzero(night_of == night)
        t0 = times[m[0]]
        states = _states(times[m], geo.iloc[m], act_at[m], cloudiness[m], t0)
        paths = [str(root / "frames" / str(night) / t.strftime(FRAME_NAME)) for t in times[m]]
        fseeds = [int(t.timestamp()) for t in times[m]]
        for c in range(0, len(m), 40):
            tasks.append(
                dict(size=size, lat=site.lat_deg, night_seed=seed * 1000 + i, states=states[c : c + 40], paths=paths[c : c + 40], frame_seeds=fseeds[c : c + 40])
            )
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

    truth = pd.DataFrame(truths)
    truth.insert(0, "time_utc", times)
    truth.insert(1, "night", pd.to_datetime(night_of).strftime("%Y-%m-%d"))
    truth.insert(2, "activity", act_at)
    truth["cloudiness"] = cloudiness
    truth["sun_alt"] = geo.sun_alt.to_numpy()
    truth["moon_alt"] = geo.moon_alt.to_numpy()
    truth["path"] = [str(Path("frames") / str(n) / t.strftime(FRAME_NAME)) for n, t in zip(night_of, times)]
    (root / "truth").mkdir(exist_ok=True)
    truth.to_csv(root / "truth" / "frames.csv", index=False)

    write_omni_cdfs(sw, activity, root / "omni_data", seed=seed)
    write_kp_wdc(synthetic_kp(sw), root / "kp_data")
    truth_sw = sw[[k for k in sw.data_vars if k.endswith("_true")]].assign(activity=activity)
    truth_sw.to_netcdf(root / "truth" / "solarwind.nc")

    for i, night in enumerate(nights[:video_nights]):
        write_timelapse(root / "videos", night, site, catalog, seed * 1000 + i, activity, size, video_minutes)

    archive = SyntheticArchive(
        root=root,
        nights=tuple(pd.to_datetime(np.unique(night_of)).strftime("%Y-%m-%d")),
        planted_delay_min=float(delay_min),
        seed=seed,
        frame_size=size,
        n_frames=len(times),
    )
    meta = {k: v for k, v in asdict(archive).items() if k != "root"}
    (root / "synthetic.json").write_text(json.dumps(meta, indent=2))
    return archive


def _overlay(canvas: np.ndarray, local_time: pd.Timestamp) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    white = (235, 235, 235)
    cv2.putText(canvas, "AuroraMAX", (24, 44), font, 1.1, white, 2, cv2.LINE_AA)
    cv2.putText(canvas, "Yellowknife, NWT, Canada", (1280 - 420, 44), font, 0.9, white, 2, cv2.LINE_AA)
    text = f"{local_time:%Y-%m-%d %H:%M:%S} {local_time.tzname()}"
    cv2.putText(canvas, text, (1280 - 440, 700), font, 0.9, white, 2, cv2.LINE_AA)


def write_timelapse(
    out_dir: Path,
    night: pd.Timestamp,
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

    One movie frame per 6 s of sky time at 25 fps; the sky circle is centred; the local time
    (MST/MDT, zone from the catalog) is burned in at the bottom right, as on the real movies.
    ``start_local`` (``HH:MM``) starts the movie at that local time instead of at dusk.
    ``overlay_noise`` is the fraction of frames whose burned-in time gets bright blobs drawn over
    it (a star or satellite crossing the text): what makes real OCR misread.

    Returns the path ``auroramaxHD_YYYYMMDD_720p.mp4``.
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
    states = _states(times, geo, act, cloud, times[0])
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
        _overlay(canvas, t.tz_convert(site.timezone))
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
