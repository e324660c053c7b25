"""3-hourly Kp from GFZ Potsdam (WDC format): downloaded through pyspedas, read by our own parser.

Online, pyspedas' downloader fetches ``Kp_defYYYY.wdc`` from GFZ into the cache; the files are
then read here, not by pyspedas' ``load_kp_to_tplot``: real GFZ lines are space-padded
(`` 9 1 1`` is 2009-01-01, ``20 1 1`` is 2020-01-01) and pyspedas skips every line that starts
with a space, so the years 2000-2009 loaded as no data at all, without an error; it also turns
an unreadable value into Kp 0. pyspedas' loader always tries the network first (~12 s when
there is none), so the network is checked here before it is called.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable
from aurora_sw.solarwind.omni import resolve_cache_dir
from aurora_sw.times import utc_range

GFZ_REMOTE = "https://datapub.gfz-potsdam.de/download/10.5880.Kp.0001/Kp_definitive/"  # pyspedas' gfz_remote_data_dir
KP_FILE = "Kp_def{year}.wdc"
_KP_FILE_YEAR = re.compile(r"Kp_def(\d{4})\.wdc$")
_THIRDS = {0: 0.0, 3: 1 / 3, 7: 2 / 3}  # last digit of a WDC Kp code: 33 is 3+, 37 is 4-


def kp_cache_dir(catalog: Catalog, cache_dir: str | os.PathLike | None = None) -> Path:
    """The Kp cache: ``cache_dir``, else ``$KP_DATA_DIR``, else the catalog's."""
    return resolve_cache_dir(cache_dir, "KP_DATA_DIR", catalog.solarwind.kp.cache_dir)


def read_kp_wdc(path: str | os.PathLike) -> pd.Series:
    """Kp of one GFZ ``Kp_defYYYY.wdc`` file, read column by column (WDC fixed width).

    Columns (1-based): 1-2 year, 3-4 month, 5-6 day (each space-padded: ``20 1 1`` is
    2020-01-01; the century comes from the file name), 7-10 Bartels rotation, 11-12 its day,
    13-28 eight Kp codes of two characters (``3`` = 0+, ``7`` = 1-, ``10`` = 1o, ``90`` = 9o).
    Lines starting with ``#`` and blank lines are skipped.

    Returns
    -------
    pandas.Series
        Kp (0..9 in thirds) indexed by the start of each 3-h interval, UTC (naive).

    Raises
    ------
    AuroraSWError
        The name has no year, a line is too short, its date or a Kp code is not valid; the
        message names the file and line.
    """
    path = Path(path)
    m = _KP_FILE_YEAR.search(path.name)
    if m is None:
        raise AuroraSWError(f"{path}: a GFZ Kp file must be named Kp_defYYYY.wdc (the year gives the century)")
    year = int(m.group(1))
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        raise AuroraSWError(f"{path}: cannot read ({exc.strerror})") from None
    times, values = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        try:
            yy, month, day = int(line[0:2]), int(line[2:4]), int(line[4:6])
            codes = [int(line[12 + 2 * k : 14 + 2 * k]) for k in range(8)]
        except ValueError:
            raise AuroraSWError(f"{where}: not a WDC Kp line (date in columns 1-6, eight Kp codes in 13-28): {line[:40]!r}") from None
        if yy != year % 100:
            raise AuroraSWError(f"{where}: year {yy:02d} in the file for {year}; the file is damaged or misnamed, delete it and re-fetch")
        try:
            day0 = pd.Timestamp(year, month, day)
        except ValueError:
            raise AuroraSWError(f"{where}: no such date {year}-{month}-{day}; the file is damaged, delete it and re-fetch") from None
        for k, code in enumerate(codes):
            if not 0 <= code <= 90 or code % 10 not in _THIRDS:
                raise AuroraSWError(f"{where}: Kp code {code} is not 0..90 in thirds (x0, x3, x7); the file is damaged, delete it and re-fetch")
            times.append(day0 + pd.Timedelta(hours=3 * k))
            values.append(code // 10 + _THIRDS[code % 10])
    return pd.Series(np.asarray(values, float), index=pd.DatetimeIndex(times, name="time"), name="kp")


def load_kp(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> xr.DataArray:
    """Kp (0..9 in thirds) at the start of each 3-h interval, UTC, between ``start`` and ``end``.

    Parameters
    ----------
    start, end
        UTC times (end exclusive); timezone-aware values are converted to UTC.
    cache_dir
        Folder of ``Kp_defYYYY.wdc`` files (default: ``$KP_DATA_DIR`` or the catalog's).
    offline
        Read only the cache.

    Raises
    ------
    NetworkUnavailableError
        Online mode, and GFZ cannot be reached.
    AuroraSWError
        ``end`` is not after ``start``; a year's ``Kp_defYYYY.wdc`` is not in the cache (offline)
        or not on the server; a file is damaged (see :func:`read_kp_wdc`).
    """
    catalog = catalog or load_catalog()
    start, end = utc_range(start, end)
    root = kp_cache_dir(catalog, cache_dir)
    years = range(start.year, (end - pd.Timedelta(seconds=1)).year + 1)
    files = [root / KP_FILE.format(year=y) for y in years]

    this_year = pd.Timestamp.now(tz="UTC").year
    if not offline and all(f.exists() and y < this_year for f, y in zip(files, years)):
        offline = True  # complete past years are read from the cache without the network
    if not offline:
        if not host_reachable(GFZ_REMOTE):
            raise NetworkUnavailableError(f"no network: cannot reach datapub.gfz-potsdam.de for Kp; use --offline to read only the cache at {root}")
        from pyspedas.utilities.download import download

        root.mkdir(parents=True, exist_ok=True)
        download(remote_path=GFZ_REMOTE, remote_file=[f.name for f in files], local_path=str(root) + os.sep)
    missing = [f.name for f in files if not f.exists()]
    if missing:
        how = "run `aurora-sw solarwind fetch` online first" if offline else "GFZ did not provide them"
        raise AuroraSWError(f"Kp files missing under {root}: {', '.join(missing)} ({how})")
    kp = pd.concat([read_kp_wdc(f) for f in files]).sort_index()
    kp = kp[~kp.index.duplicated()]
    kp = kp[(kp.index >= start.floor("3h")) & (kp.index < end)]
    if kp.empty:
        raise AuroraSWError(f"no Kp data for {start} .. {end} in {', '.join(f.name for f in files)} under {root}")
    var = catalog.solarwind.variables.get("kp")
    attrs = {"units": var.units if var else "1", "long_name": var.long_name if var else "planetary K index", "source": "GFZ Potsdam definitive Kp (WDC format)"}
    return xr.DataArray(kp.to_numpy(), coords={"time": kp.index.to_numpy()}, dims="time", name="kp", attrs=attrs)


def write_kp_wdc(kp: pd.Series, folder: str | os.PathLike) -> list[Path]:
    """Write 3-hourly Kp as GFZ WDC files ``Kp_defYYYY.wdc`` (the layout GFZ publishes; :func:`read_kp_wdc` reads it).

    Each line is one day, space-padded as GFZ writes it (``20 1 5`` for 2020-01-05): YYMMDD,
    Bartels rotation and day, eight Kp values (x10 in thirds: ``33`` = 3+, ``37`` = 4-), the
    daily sum, eight ap values, Ap, Cp and C9.
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
            f"{day.year % 100:2d}{day.month:2d}{day.day:2d}{rot:4d}{rot_day:2d}" + "".join(f"{c:2d}" for c in codes) + f"{sum(codes):3d}"
            + "".join(f"{a:3d}" for a in aps) + f"{int(round(aps.mean())):3d}" + "0.0" + "0"
        )
        lines.setdefault(day.year, []).append(line)
    paths = []
    for year, ls in lines.items():
        path = folder / KP_FILE.format(year=year)
        path.write_text("\n".join(ls) + "\n")
        paths.append(path)
    return paths
