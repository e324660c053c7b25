"""OMNI 1-min solar wind at the bow-shock nose, through pyspedas, as an xarray Dataset.

pyspedas finds the monthly HRO/HRO2 CDFs in the local cache (``hro2_1min/YYYY/
omni_hro2_1min_YYYYMM01_v01.cdf``) and downloads what is missing when online; the files are then
read with cdflib so that fill values (9999.99, 99999.9, 99999, ...) become NaN exactly, which
pyspedas' own reader does not do for integer variables.

Offline (``offline=True``) only the cache is read, and missing months are named in the error.
Online without a network, the loader says so in one line instead of waiting on timeouts.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog, load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable
from aurora_sw.times import utc_now, utc_range

OMNI_REMOTE = "https://spdf.gsfc.nasa.gov/pub/data/omni/omni_cdaweb/"


def _file_starts(start: pd.Timestamp, end: pd.Timestamp, datatype: str) -> list[pd.Timestamp]:
    """Start dates of the files covering [start, end): months (1/5-min) or half-years (hourly)."""
    months = pd.date_range(start.to_period("M").to_timestamp(), end - pd.Timedelta(seconds=1), freq="MS")
    if datatype == "hourly":
        return sorted({pd.Timestamp(m.year, 1 if m.month <= 6 else 7, 1) for m in months})
    return list(months)


def _trange(start: pd.Timestamp, end: pd.Timestamp, datatype: str) -> list[str]:
    # pyspedas' half-year file naming (hourly) parses dates only.
    if datatype == "hourly":
        return [start.strftime("%Y-%m-%d"), end.ceil("1D").strftime("%Y-%m-%d")]
    return [start.strftime("%Y-%m-%d/%H:%M:%S"), end.strftime("%Y-%m-%d/%H:%M:%S")]


def _file_pattern(level: str, datatype: str, start: pd.Timestamp) -> str:
    if datatype == "hourly":
        return f"hourly/{start:%Y}/omni2_h0_mrg1hr_{start:%Y%m}01_v??.cdf"
    return f"{level}_{datatype}/{start:%Y}/omni_{level}_{datatype}_{start:%Y%m}01_v??.cdf"


def _complete_in_cache(root: Path, level: str, datatype: str, periods: list[pd.Timestamp]) -> bool:
    """Every file is cached and none covers the current month (which OMNI still extends)."""
    this_month = utc_now().to_period("M").to_timestamp()
    for start in periods:
        if start + pd.DateOffset(months=6 if datatype == "hourly" else 1) > this_month:
            return False
        if not any(root.glob(_file_pattern(level, datatype, start))):
            return False
    return True


def resolve_cache_dir(explicit: str | os.PathLike | None, env_var: str, configured: str) -> Path:
    """A data cache folder: ``explicit``, else ``$env_var`` (pyspedas' convention), else the catalog's."""
    if explicit is not None:
        return Path(explicit).resolve()
    return Path(os.environ.get(env_var) or configured).resolve()


def omni_cache_dir(catalog: Catalog, cache_dir: str | os.PathLike | None = None) -> Path:
    """The local OMNI cache: ``cache_dir``, else ``$OMNI_DATA_DIR``, else the catalog's."""
    return resolve_cache_dir(cache_dir, "OMNI_DATA_DIR", catalog.solarwind.omni.cache_dir)


_CDF3_UNCOMPRESSED = bytes.fromhex("cdf300010000ffff")  # magic number, then "not compressed"


def _cdf_shortfall(path: Path) -> str | None:
    """How much of an uncompressed CDF 3 file is missing, or ``None`` when none is (or it cannot tell).

    The global descriptor record (GDR, its offset at bytes 20-28 of the file) stores the file's
    end offset at its byte 36. A download cut short keeps a valid header, and cdflib then lists
    only the variables it reached ("no variable 'flow_speed'") or fails mid-read.
    """
    with open(path, "rb") as f:
        head = f.read(28)
        if head[:8] != _CDF3_UNCOMPRESSED or len(head) < 28:
            return None
        f.seek(int.from_bytes(head[20:28], "big") + 36)
        declared = f.read(8)
    size = path.stat().st_size
    if len(declared) < 8:
        return f"{size} bytes, cut inside its header"
    eof = int.from_bytes(declared, "big")
    return f"{size} of {eof} bytes" if size < eof else None


def _read_cdf(path: Path, source_vars: dict[str, tuple[str, float | None]]) -> pd.DataFrame:
    import cdflib

    damaged = f"{path}: damaged or truncated OMNI CDF"
    fix = "delete it and re-fetch (`aurora-sw solarwind fetch` online)"
    shortfall = _cdf_shortfall(path)
    if shortfall:
        raise AuroraSWError(f"{damaged} ({shortfall}); {fix}")
    try:
        cdf = cdflib.CDF(str(path))
        epoch = cdflib.cdfepoch.to_datetime(cdf.varget("Epoch"))
        available = set(cdf.cdf_info().zVariables)
        raw = {
            name: (np.asarray(cdf.varget(var), dtype=float), cdf.varattsget(var).get("FILLVAL"))
            for name, (var, _) in source_vars.items()
            if var in available
        }
    except Exception as exc:  # cdflib raises OSError, EOFError, ValueError... on a damaged file
        raise AuroraSWError(f"{damaged} ({type(exc).__name__}: {exc}); {fix}".replace("\n", " ")) from None
    cols = {}
    for name, (var, fill) in source_vars.items():
        if name not in raw:
            raise AuroraSWError(f"{path}: has no variable {var!r} (catalog solarwind.variables.{name}.source_var)")
        data, file_fill = raw[name]
        if data.shape != (len(epoch),):
            raise AuroraSWError(f"{damaged} ({var} has {data.size} values for {len(epoch)} times); {fix}")
        bad = ~np.isfinite(data)
        for fv in (fill, file_fill):
            if fv is not None:
                fv = float(np.asarray(fv).ravel()[0])
                bad |= np.isclose(data, fv, rtol=1e-6) | (np.abs(data) >= abs(fv) * 0.999)
        cols[name] = np.where(bad, np.nan, data)
    return pd.DataFrame(cols, index=pd.DatetimeIndex(epoch, name="time"))


def load_omni(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    variables: list[str] | None = None,
    *,
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    datatype: str | None = None,
) -> xr.Dataset:
    """OMNI variables of the catalog between ``start`` and ``end`` (UTC, end exclusive).

    Parameters
    ----------
    variables
        Catalog names whose source is ``omni_{datatype}`` (default: all of them).
    datatype
        ``1min``, ``5min`` (HRO/HRO2 monthly files) or ``hourly`` (OMNI2 half-year files);
        default the catalog's ``solarwind.omni.datatype``.
    cache_dir
        Local cache root holding ``hro2_1min/`` (default: ``$OMNI_DATA_DIR`` or the catalog's).
    offline
        Read only the cache (pyspedas ``no_update=True``); missing months raise an error
        listing them.

    Returns
    -------
    xarray.Dataset
        One variable per name on ``time`` (UTC, 1 min), NaN where OMNI has fill values, with
        ``units`` and ``long_name`` from the catalog.

    Raises
    ------
    NetworkUnavailableError
        Online mode, and the OMNI server cannot be reached.
    AuroraSWError
        Months missing from the cache (offline), unreadable files, unknown variables.
    """
    catalog = catalog or load_catalog()
    cfg = catalog.solarwind.omni
    datatype = datatype or cfg.datatype
    start, end = utc_range(start, end)
    names = variables or [k for k, v in catalog.solarwind.variables.items() if v.source == f"omni_{datatype}"]
    source_vars = {}
    for name in names:
        var = catalog.variable(name)
        if var.source != f"omni_{datatype}":
            raise AuroraSWError(f"solarwind.variables.{name}: source is {var.source or 'derived'}, not omni_{datatype}")
        source_vars[name] = (var.source_var, var.fill)

    root = omni_cache_dir(catalog, cache_dir)
    periods = _file_starts(start, end, datatype)
    if not offline and _complete_in_cache(root, cfg.level, datatype, periods):
        offline = True  # a second call reads the cache and never touches the network
    if not offline and not host_reachable(OMNI_REMOTE):
        raise NetworkUnavailableError(
            f"no network: cannot reach {urlparse(OMNI_REMOTE).hostname} for OMNI data; "
            f"use --offline to read only the local cache at {root}"
        )
    import pyspedas.projects.omni as omni
    from pyspedas.projects.omni.config import CONFIG

    CONFIG["local_data_dir"] = str(root) + os.sep  # pyspedas reads its env var only at import
    files = omni.data(
        trange=_trange(start, end, datatype),
        level=cfg.level,
        datatype=datatype,
        downloadonly=True,
        no_update=offline,
    ) or []
    found = {Path(f).name[-16:-10]: Path(f) for f in files}  # YYYYMM from ..._YYYYMM01_v01.cdf
    missing = [m for m in periods if m.strftime("%Y%m") not in found]
    if missing:
        want = ", ".join(_file_pattern(cfg.level, datatype, m) for m in missing)
        how = "run `aurora-sw solarwind fetch` online first" if offline else "the server did not provide them"
        raise AuroraSWError(f"OMNI files missing under {root}: {want} ({how})")

    frames = [_read_cdf(found[m.strftime("%Y%m")], source_vars) for m in periods]
    df = pd.concat(frames).sort_index()
    df = df[~df.index.duplicated()]
    df = df[(df.index >= start) & (df.index < end)]
    ds = xr.Dataset.from_dataframe(df)
    for name in names:
        var = catalog.variable(name)
        if var.scale != 1.0:
            ds[name] = ds[name] * var.scale
        ds[name].attrs = {"units": var.units, "long_name": var.long_name, "source": f"OMNI {datatype} {var.source_var}"}
    ds["time"].attrs = {"long_name": "time (UTC)", "standard_name": "time"}
    ds.attrs["source"] = f"OMNI {datatype} via pyspedas, cache {root}"
    return ds
