"""The real-time solar wind at L1 (NOAA SWPC's JSON products), propagated to the bow shock.

SWPC serves ``mag-1-day.json`` and ``plasma-1-day.json`` as an array of arrays (first row the
header, every value a string, ``null`` for missing) and has moved other products to lists of
objects; both forms are read here by column name, anything else is refused in one line. The
measurements are taken at L1, about 1.5 million km upstream: each is moved to the time it reaches
the bow-shock nose (distance / its own speed), where OMNI is shifted to, so that a forecast trained
on OMNI sees the same clock.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.catalog import Catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable
from aurora_sw.times import naive_utc

__all__ = ["fetch_json", "parse_swpc_json", "propagate_to_bow_shock", "realtime_solar_wind"]

#: Solar-wind columns of the SWPC products and the catalog names they become.
MAG_COLUMNS = {"bx_gsm": "bx_gse", "by_gsm": "by_gsm", "bz_gsm": "bz_gsm"}  # SWPC's bx_gsm is bx (GSE = GSM for x)
PLASMA_COLUMNS = {"density": "density", "speed": "vsw"}
#: OMNI's flow pressure, P (nPa) = 2e-6 n (cm^-3) v^2 (km/s)^2 (alphas included as 4 %), so that a
#: model trained on OMNI's ``pressure`` sees the same quantity live.
PRESSURE_FACTOR = 2.0e-6
#: A speed older than this is not used to move the field to the bow shock.
SPEED_HOLD = pd.Timedelta(minutes=10)

log = logging.getLogger(__name__)


def fetch_json(url: str, *, timeout_s: float = 10.0) -> object:
    """GET ``url`` and decode its JSON; one line naming the URL when the network or the server fails."""
    if not host_reachable(url, timeout_s=min(timeout_s, 3.0)):
        raise NetworkUnavailableError(f"no network: cannot reach {url}; live mode needs the real-time solar wind")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise AuroraSWError(f"{url}: the server answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        raise NetworkUnavailableError(f"{url}: no answer ({getattr(exc, 'reason', exc) or type(exc).__name__}); live mode needs the real-time solar wind") from None
    try:
        return json.loads(body)
    except ValueError:
        raise AuroraSWError(f"{url}: not JSON ({len(body)} bytes); SWPC may have changed the product") from None


def parse_swpc_json(data: object, columns: dict[str | tuple[str, ...], str], *, source: str) -> pd.DataFrame:
    """An SWPC product as a table indexed by ``time_tag`` (naive UTC), with ``columns`` renamed.

    Parameters
    ----------
    data
        The decoded JSON: an array of arrays whose first row is the header, or a list of objects.
    columns
        SWPC column -> name to give it; every one must be present. A tuple of names is one column
        under any of them (the first present is used: SWPC has renamed some).
    source
        What the data is (its URL), for the message.

    Raises
    ------
    AuroraSWError
        One line naming ``source``: another shape, a missing column, or unreadable time tags.
    """
    if isinstance(data, list) and data and isinstance(data[0], list):
        header = [str(h) for h in data[0]]
        if any(not isinstance(row, list) or len(row) != len(header) for row in data[1:]):
            raise AuroraSWError(f"{source}: rows of another length than the header's {len(header)}; SWPC may have changed the product")
        df = pd.DataFrame(data[1:], columns=header) if len(data) > 1 else pd.DataFrame(columns=header)
    elif isinstance(data, list) and all(isinstance(row, dict) for row in data):
        df = pd.DataFrame(data)
    else:
        raise AuroraSWError(f"{source}: neither an array of arrays with a header row nor a list of objects; SWPC may have changed the product")
    chosen = {}
    for old, new in columns.items():
        names = old if isinstance(old, tuple) else (old,)
        chosen[next((n for n in names if n in df.columns), names[0])] = new
    missing = [c for c in ("time_tag", *chosen) if c not in df.columns]
    if missing:
        raise AuroraSWError(f"{source}: no column {', '.join(map(repr, missing))} (has {', '.join(map(str, df.columns))})")
    if not df.empty and not isinstance(df["time_tag"].iloc[0], str):
        raise AuroraSWError(f"{source}: time_tag values are not ISO times (first: {df['time_tag'].iloc[0]!r})")
    try:
        time = naive_utc(df["time_tag"])
    except (ValueError, TypeError):
        raise AuroraSWError(f"{source}: time_tag values are not times (first: {df['time_tag'].iloc[0]!r})") from None
    out = pd.DataFrame({new: pd.to_numeric(df[old], errors="coerce") for old, new in chosen.items()})
    out.index = pd.DatetimeIndex(time, name="time")
    return out[~out.index.isna()].sort_index()


def propagate_to_bow_shock(l1: pd.DataFrame, speed_kms: pd.Series, *, distance_km: float) -> pd.DataFrame:
    """Move each L1 measurement to the minute it reaches the bow shock: ``t + distance / speed``.

    Parameters
    ----------
    l1
        Measurements at L1, indexed by time (naive UTC).
    speed_kms
        Solar-wind speed (km/s) at L1; held from the last value before each measurement, for up
        to :data:`SPEED_HOLD`.
    distance_km
        L1 to the bow-shock nose (km).

    Returns
    -------
    pandas.DataFrame
        The means of the measurements arriving in each minute, on a 1-min grid (NaN where none
        arrive); rows without a speed are dropped.
    """
    v = speed_kms.sort_index().reindex(l1.index, method="ffill", tolerance=SPEED_HOLD)
    ok = (v > 0).to_numpy()
    arrival = l1.index[ok] + pd.to_timedelta(distance_km / v.to_numpy()[ok], unit="s")
    moved = l1[ok].set_axis(pd.DatetimeIndex(arrival).floor("1min"))
    per_minute = moved.groupby(level=0).mean()
    if per_minute.empty:
        return per_minute
    return per_minute.reindex(pd.date_range(per_minute.index.min(), per_minute.index.max(), freq="1min"))


def realtime_solar_wind(catalog: Catalog, *, timeout_s: float = 10.0) -> xr.Dataset:
    """The last day of real-time solar wind at the bow shock, on a 1-min UTC grid.

    Variables (catalog names): ``bz_gsm``, ``by_gsm``, ``bx_gse`` (nT), ``vsw`` (km/s), ``density``
    (cm^-3), ``pressure`` (nPa, from density and speed), ``kp`` (planetary Kp, held over its 3-hour
    interval; NaN without a Kp product) and every derived catalog variable these feed (``newell``,
    ``ey``, ``clock_angle``, ``bs``, ...).
    """
    from aurora_sw.solarwind.variables import add_derived

    rt = catalog.solarwind.realtime
    mag = parse_swpc_json(fetch_json(rt.mag_url, timeout_s=timeout_s), MAG_COLUMNS, source=rt.mag_url)
    plasma = parse_swpc_json(fetch_json(rt.plasma_url, timeout_s=timeout_s), PLASMA_COLUMNS, source=rt.plasma_url)
    distance = rt.l1_distance_km - rt.bow_shock_km
    speed = plasma["vsw"].dropna()
    bs = pd.concat([propagate_to_bow_shock(mag, speed, distance_km=distance), propagate_to_bow_shock(plasma, speed, distance_km=distance)], axis=1)
    bs["pressure"] = PRESSURE_FACTOR * bs["density"] * bs["vsw"] ** 2
    bs["kp"] = np.nan
    if rt.kp_url:  # optional: without it the forecast takes Kp as missing
        try:
            kp = parse_swpc_json(fetch_json(rt.kp_url, timeout_s=timeout_s), {("Kp", "kp", "kp_index"): "kp"}, source=rt.kp_url)
            # stamped at the start of its 3-hour interval and held over it, as the catalog's Kp is
            bs["kp"] = kp["kp"].reindex(bs.index, method="ffill", tolerance=pd.Timedelta(minutes=179)).to_numpy() if len(bs) else []
        except AuroraSWError as exc:
            log.warning("live: no real-time Kp (%s); the forecast takes it as missing", exc)
    ds = add_derived(xr.Dataset.from_dataframe(bs.rename_axis("time")), list(catalog.solarwind.variables), catalog)  # newell, ey, ...
    for name in ds.data_vars:
        if name in catalog.solarwind.variables:
            var = catalog.solarwind.variables[name]
            ds[name].attrs = {"units": var.units, "long_name": f"{var.long_name} (real time, propagated from L1 to the bow shock)"}
    return ds
