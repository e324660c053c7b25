"""A whole synthetic archive: frames, AuroraMAX-style movies, OMNI CDFs, Kp and ground truth.

Layout under ``root``::

    frames/NIGHT/YYYYMMDDTHHMMSSZ.jpg     720x720 sky-circle crops, UTC in the name (:mod:`.frames`)
    videos/auroramaxHD_YYYYMMDD_720p.mp4  1280x720 timelapse, local time burned in, optional (:mod:`.movies`)
    omni_data/hro2_1min/YYYY/omni_hro2_1min_YYYYMM01_v01.cdf   OMNI HRO2 layout, fill values (:mod:`.omni_files`)
    omni_data/hourly/YYYY/omni2_h0_mrg1hr_YYYYMM01_v01.cdf       hourly OMNI2: Dst, F10.7, Kp
    kp_data/Kp_defYYYY.wdc                3-hourly Kp in GFZ's WDC format
    truth/frames.csv                      per-frame truth (aurora_visible, morphology, form, activity, clouds, ...)
    truth/solarwind.nc                    gap-free solar wind and the activity it drove
    synthetic.json                        seed, planted delay, nights, frame size
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.sky import local_night, sky_conditions
from aurora_sw.solarwind.kp import write_kp_wdc
from aurora_sw.synthetic.frames import cloudiness, frame_path, night_times, write_frames
from aurora_sw.synthetic.movies import write_timelapse
from aurora_sw.synthetic.omni_files import write_omni_cdfs
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_kp, synthetic_solar_wind
from aurora_sw.times import night_date


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
    def videos_dir(self) -> Path:
        return self.root / "videos"

    @property
    def omni_dir(self) -> Path:
        return self.root / "omni_data"

    @property
    def kp_dir(self) -> Path:
        return self.root / "kp_data"

    @property
    def truth_csv(self) -> Path:
        return self.root / "truth" / "frames.csv"

    @property
    def truth_solarwind(self) -> Path:
        """The gap-free solar wind and the activity it drove (NetCDF)."""
        return self.root / "truth" / "solarwind.nc"

    @classmethod
    def open(cls, root: str | os.PathLike) -> "SyntheticArchive":
        """Read ``synthetic.json`` of an archive written by :func:`generate_archive`."""
        root = Path(root)
        meta = json.loads((root / "synthetic.json").read_text())
        return cls(root=root, **{k: tuple(v) if k == "nights" else v for k, v in meta.items()})


def generate_archive(
    out: str | os.PathLike,
    start_night: str = "2024-02-05",
    *,
    n_nights: int = 4,
    seed: int = 0,
    delay_min: float = 45.0,
    size: int = 720,
    sun_max_alt_deg: float = -8.0,
    video_nights: int = 0,
    video_minutes: int | None = None,
    workers: int | None = None,
    catalog: Catalog | None = None,
    site_key: str | None = None,
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
    catalog
        The catalog (default :func:`~aurora_sw.catalog.load_catalog`).
    site_key
        The site imaged (default: the catalog's default site).

    Raises
    ------
    AuroraSWError
        ``start_night`` not a YYYY-MM-DD date; no nights, no pixels, or negative video counts.

    Examples
    --------
    >>> arch = generate_archive("synthetic", "2024-02-05", n_nights=2, size=128)  # doctest: +SKIP
    >>> arch.frames_dir  # doctest: +SKIP
    PosixPath('synthetic/frames')
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
    clouds = np.zeros(len(times))
    for night in np.unique(night_of):
        m = night_of == night
        clouds[m] = cloudiness(rng, int(m.sum()))

    archive = SyntheticArchive(
        root=root,
        nights=tuple(pd.to_datetime(np.unique(night_of)).strftime("%Y-%m-%d")),
        planted_delay_min=float(delay_min),
        seed=seed,
        frame_size=size,
        n_frames=len(times),
    )
    truths = write_frames(
        archive.frames_dir, times, night_of=night_of, geo=geo, activity=act_at, clouds=clouds, size=size, site=site, seed=seed,
        workers=workers, progress=progress,
    )

    truth = pd.DataFrame(truths)
    truth.insert(0, "time_utc", times)
    truth.insert(1, "night", pd.to_datetime(night_of).strftime("%Y-%m-%d"))
    truth.insert(2, "activity", act_at)
    truth["cloudiness"] = clouds
    truth["sun_alt"] = geo.sun_alt.to_numpy()
    truth["moon_alt"] = geo.moon_alt.to_numpy()
    truth["path"] = [str(archive.frames_dir.relative_to(root) / frame_path(n, t)) for n, t in zip(night_of, times)]
    archive.truth_csv.parent.mkdir(exist_ok=True)
    truth.to_csv(archive.truth_csv, index=False)

    write_omni_cdfs(sw, activity, archive.omni_dir, seed=seed)
    write_kp_wdc(synthetic_kp(sw), archive.kp_dir)
    truth_sw = sw[[k for k in sw.data_vars if k.endswith("_true")]].assign(activity=activity)
    truth_sw.to_netcdf(archive.truth_solarwind)

    for i, night in enumerate(nights[:video_nights]):
        write_timelapse(
            archive.videos_dir, night, site=site, catalog=catalog, night_seed=seed * 1000 + i, activity=activity, size=size, minutes=video_minutes
        )

    meta = {k: v for k, v in asdict(archive).items() if k != "root"}
    (root / "synthetic.json").write_text(json.dumps(meta, indent=2))
    return archive
