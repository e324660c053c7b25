"""3-hourly Kp from GFZ Potsdam (WDC format) through pyspedas' NOAA/GFZ loader.

Online, ``pyspedas.projects.noaa.noaa_load_kp`` downloads ``Kp_defYYYY.wdc`` into the cache.
Offline, the cached files are parsed by the same pyspedas reader; missing years are named.
pyspedas' loader always tries the network first (~12 s when there is none), so the network is
checked here before it is called.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable
from aurora_sw.solarwind.omni import resolve_cache_dir

GFZ_REMOTE = "https://kp.gfz-potsdam.de/app/files/"
KP_FILE = "Kp_def{year}.wdc"


def kp_cache_dir(catalog: Catalog, cache_dir: str | os.PathLike | None = None) -> Path:
    """The Kp cache: ``cache_dir``, else ``$KP_DATA_DIR``, else the catalog's."""
    return resolve_cache_dir(cache_dir, "KP_DATA_DIR", catalog.solarwind.kp.cache_dir)


def load_kp(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> xr.DataArray:
    """Kp (0..9 in thirds) at the start of each 3-h interval, UTC, between ``start`` and ``end``.

    Raises
    ------
    NetworkUnavailableError
        Online mode, and GFZ cannot be reached.
    AuroraSWError
        Offline, and a year's ``Kp_defYYYY.wdc`` is not in the cache.
    """
    catalog = catalog or load_catalog()
    start, end = pd.Timestamp(start).tz_localize(None), pd.Timestamp(end).tz_localize(None)
    root = kp_cache_dir(catalog, cache_dir)
    years = range(start.year, (end - pd.Timedelta(seconds=1)).year + 1)
    trange = [start.strftime("%Y-%m-%d/%H:%M:%S"), end.strftime("%Y-%m-%d/%H:%M:%S")]

    from pyspedas import get_data
    from pyspedas.projects.noaa.noaa_load_kp import load_kp_to_tplot, noaa_load_kp

    this_year = pd.Timestamp.now(tz="UTC").year
    if not offline and all((root / KP_FILE.format(year=y)).exists() and y < this_year for y in years):
        offline = True  # complete past years are read from the cache without the network
    if offline:
        files = [root / KP_FILE.format(year=y) for y in years]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise AuroraSWError(f"Kp files missing under {root}: {', '.join(missing)} (run `aurora-sw solarwind fetch` online first)")
        names = load_kp_to_tplot(trange=trange, files=[str(f) for f in files], datatype=["Kp"])
    else:
        if not host_reachable(GFZ_REMOTE):
            raise NetworkUnavailableError(f"no network: cannot reach kp.gfz-potsdam.de for Kp; use --offline to read only the cache at {root}")
        root.mkdir(parents=True, exist_ok=True)
        names = noaa_load_kp(trange=trange, local_kp_dir=str(root), datatype=["Kp"], gfz=True)
    if not names or "Kp" not in names:
        raise AuroraSWError(f"no Kp data for {trange[0]} .. {trange[1]} under {root}")
    data = get_data("Kp")
    t = pd.to_datetime(np.asarray(data.times), unit="s")
    kp = pd.Series(np.asarray(data.y, float), index=t).sort_index()
    kp = kp[~kp.index.duplicated()]
    kp = kp[(kp.index >= start.floor("3h")) & (kp.index < end)]
    var = catalog.solarwind.variables.get("kp")
    attrs = {"units": var.units if var else "1", "long_name": var.long_name if var else "planetary K index", "source": "GFZ Potsdam definitive Kp via pyspedas"}
    return xr.DataArray(kp.to_numpy(), coords={"time": kp.index.to_numpy()}, dims="time", name="kp", attrs=attrs)


def write_kp_wdc(kp: pd.Series, folder: str | os.PathLike) -> list[Path]:
    """Write 3-hourly Kp as GFZ WDC files ``Kp_defYYYY.wdc`` (the format pyspedas reads).

    Each line is one day: YYMMDD, Bartels rotation and day, eight Kp values (x10 in thirds:
    ``33`` = 3+, ``37`` = 4-), the daily sum, eight ap values, Ap, Cp and C9.
    """
    from aurora_sw.solarwind.rotation import bartels_rotation

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kp = kp.sort_index()
    days = kp.groupby(kp.index.normalize())
    ap_table = np.array([0, 2, 3, 4, 5, 6, 7, 9, 12, 15, 18, 22, 27, 32, 39, 48, 56, 67, 80, 94, 111, 132, 154, 179, 207, 236, 300, 400])
    lines: dict[int, list[str]] = {}
    for day, values in days:
        vals = values.reindex(pd.date_range(day, periods=8, freq="3h")).fillna(0).to_numpy()
        thirds = np.clip(np.round(vals * 3).astype(int), 0, 27)
        codes = [10 * (t // 3) + [0, 3, 7][t % 3] for t in thirds]
        aps = ap_table[thirds]
        rot, rot_day = bartels_rotation(day)
        line = (
            f"{day:%y%m%d}{rot:4d}{rot_day:2d}" + "".join(f"{c:2d}" for c in codes) + f"{sum(codes):3d}"
            + "".join(f"{a:3d}" for a in aps) + f"{int(round(aps.mean())):3d}" + "0.0" + "0"
        )
        lines.setdefault(day.year, []).append(line)
    paths = []
    for year, ls in lines.items():
        path = folder / KP_FILE.format(year=year)
        path.write_text("\n".join(ls) + "\n")
        paths.append(path)
    return paths
