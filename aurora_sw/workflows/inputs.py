"""What the analyses read: the index, and the solar wind over the span a question needs.

One rule for every face: index variables named by the question are checked before any solar wind
is read (a typo fails at once, not after a download), and the solar wind is read over the span
the analysis can pair with the index, plus an hour (the loaders' end is exclusive; files are daily).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.catalog import Catalog, Site

__all__ = ["Span", "camera_site", "index_and_solar_wind", "solar_wind_series"]

#: From the index's minutes (UTC) to the (start, end) of the solar wind a question needs.
Span = Callable[[pd.DatetimeIndex], tuple[pd.Timestamp, pd.Timestamp]]


def camera_site(index: xr.Dataset, catalog: "Catalog", site_key: str | None = None) -> tuple[str, "Site"]:
    """The key and site of the camera an index was scored for.

    The site the store records (``attrs["site"]``, written by ``aurora-sw score``); stores from
    before it was recorded: ``site_key`` or the catalog's default site.

    Raises
    ------
    AuroraSWError
        ``site_key`` names another site than the one the index records, or the catalog lacks it.
    """
    recorded = index.attrs.get("site") or None
    if site_key and recorded and site_key != recorded:
        raise AuroraSWError(f"--site {site_key}: this index was scored for site {recorded!r}; leave --site out (or give {recorded})")
    key = site_key or recorded or catalog.default_site_key
    return key, catalog.site(key)


def index_and_solar_wind(
    index: str | os.PathLike,
    names: Sequence[str],
    span: Span,
    *,
    catalog: "Catalog",
    cache: str | os.PathLike | None = None,
    kp_cache: str | os.PathLike | None = None,
    offline: bool = False,
    needs: Sequence[str] = (),
) -> tuple[xr.Dataset, xr.Dataset]:
    """The index (loaded) and the solar-wind variables ``names`` over ``span(index minutes)``.

    Parameters
    ----------
    index
        The aurora-index Zarr store.
    names
        Solar-wind catalog variables (none: an empty Dataset, nothing read).
    span
        The solar-wind span the question needs, from the index's minutes.
    catalog, cache, kp_cache, offline
        As :func:`aurora_sw.solarwind.variables.load_solar_wind`.
    needs
        Index variables the question uses: checked before the solar wind is read.
    """
    from aurora_sw.index.store import open_index
    from aurora_sw.solarwind.variables import load_solar_wind

    ds = open_index(index).load()
    missing = [v for v in needs if v not in ds]
    if missing:
        raise AuroraSWError(f"{index}: no variable {', '.join(map(repr, missing))}; have {', '.join(ds.data_vars)}")
    if not names:  # the question needs no solar wind: read none (no cache, no download)
        return ds, xr.Dataset(coords={"time": ds["time"].values[:0]})
    start, end = span(pd.DatetimeIndex(ds["time"].values))
    hour = pd.Timedelta(minutes=60)
    sw = load_solar_wind(start - hour, end + hour, list(names), catalog=catalog, cache_dir=cache, offline=offline, kp_cache_dir=kp_cache)
    return ds, sw


def solar_wind_series(
    variable: str,
    times: pd.DatetimeIndex,
    *,
    saved: str | os.PathLike | None,
    pad: pd.Timedelta,
    catalog: "Catalog",
    cache: str | os.PathLike | None = None,
    kp_cache: str | os.PathLike | None = None,
    offline: bool = False,
) -> xr.DataArray:
    """One solar-wind variable around ``times``: from a saved NetCDF when there is one, else the loaders.

    Parameters
    ----------
    variable
        Solar-wind catalog variable.
    times
        The minutes it must cover (UTC); the loaders read ``pad`` more on each side.
    saved
        A NetCDF holding ``variable`` (the ``solarwind.nc`` a demo or an earlier run wrote); used
        when it exists, and a file without ``variable`` is refused, naming what it has.
    """
    if saved is not None and Path(saved).exists():
        try:
            sw_file = xr.open_dataset(saved)
        except (OSError, ValueError) as exc:
            raise AuroraSWError(f"{saved}: not a NetCDF file of solar wind ({type(exc).__name__}); give the solarwind.nc a demo or `solarwind fetch --out` writes") from None
        with sw_file:
            if variable not in sw_file:
                raise AuroraSWError(f"{saved}: no variable {variable!r} (has {', '.join(sw_file.data_vars)})")
            return sw_file[variable].load()
    from aurora_sw.solarwind.variables import load_solar_wind

    return load_solar_wind(times.min() - pad, times.max() + pad, [variable], catalog=catalog, cache_dir=cache, offline=offline, kp_cache_dir=kp_cache)[variable]
