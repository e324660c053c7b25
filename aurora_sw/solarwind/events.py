"""Solar events: GOES flares from the HEK through sunpy (cached by month), and CSV event lists.

Event lists are declared in ``data_catalog.yaml`` under ``events`` and read by :func:`load_events`.
Flares come from the Heliophysics Event Knowledgebase (``sunpy.net.Fido`` with ``attrs.hek``); each
month queried is written to ``CACHE/flares_MINCLASS/YYYY-MM.csv``, and a month in the cache is
never asked for again. Offline, only the cache is read and missing months are named.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from aurora_sw.catalog import Catalog, EventList, load_catalog
from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable
from aurora_sw.solarwind.omni import resolve_cache_dir
from aurora_sw.times import naive_utc, utc_range

HEK_URL = "https://www.lmsal.com/hek/her"
EVENT_COLUMNS = ["time", "peak_time", "end_time", "goes_class", "noaa_ar"]


def _months(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Calendar months touching [start, end)."""
    return list(pd.date_range(start.to_period("M").to_timestamp(), end - pd.Timedelta(microseconds=1), freq="MS"))


def _month_file(cache: Path, min_class: str, month: pd.Timestamp) -> Path:
    return cache / f"flares_{min_class}" / f"{month:%Y-%m}.csv"


def _query_hek(month: pd.Timestamp, min_class: str) -> pd.DataFrame:
    """One month of GOES flares >= ``min_class`` from the HEK (network)."""
    from sunpy.net import Fido
    from sunpy.net import attrs as a

    end = month + pd.offsets.MonthBegin(1)
    result = Fido.search(a.Time(month.to_pydatetime(), end.to_pydatetime()), a.hek.EventType("FL"),
                         a.hek.FL.GOESCls >= min_class, a.hek.OBS.Observatory == "GOES")
    table = result["hek"]
    if len(table) == 0:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    return pd.DataFrame(
        {
            "time": pd.to_datetime([str(t) for t in table["event_starttime"]]),
            "peak_time": pd.to_datetime([str(t) for t in table["event_peaktime"]]),
            "end_time": pd.to_datetime([str(t) for t in table["event_endtime"]]),
            "goes_class": [str(c) for c in table["fl_goescls"]],
            "noaa_ar": [int(n) if str(n).isdigit() else -1 for n in table["ar_noaanum"]],
        }
    ).sort_values("time")


def load_flares(
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    min_class: str = "M1.0",
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
    configured_cache: str = "event_data",
) -> pd.DataFrame:
    """GOES flares of class >= ``min_class`` starting in [start, end) (UTC), one row per flare.

    Parameters
    ----------
    cache_dir
        Cache folder (default ``$AURORA_SW_EVENT_DIR``, else the catalog's ``cache_dir``).
    offline
        Read only the cache; months missing from it raise :class:`NetworkUnavailableError`
        naming them. Online, the HEK host is checked first (a few seconds at most), so a missing
        network is one line, never a hang.

    Returns
    -------
    pandas.DataFrame
        ``time`` (start, UTC), ``peak_time``, ``end_time``, ``goes_class``, ``noaa_ar``.
    """
    start, end = utc_range(start, end)  # a zone-aware time is converted, not just stripped of its zone
    cache = resolve_cache_dir(cache_dir, "AURORA_SW_EVENT_DIR", configured_cache)
    months = _months(start, end)
    missing = [m for m in months if not _month_file(cache, min_class, m).exists()]
    if missing and offline:
        names = ", ".join(f"{m:%Y-%m}" for m in missing)
        raise NetworkUnavailableError(f"offline: no cached flare list (>= {min_class}) for {names} in {cache}; fetch them once online")
    if missing and not host_reachable(HEK_URL):
        raise NetworkUnavailableError(f"cannot reach the HEK ({HEK_URL}) for flares in {missing[0]:%Y-%m}..{missing[-1]:%Y-%m}; no network? (use the cache with --offline)")
    for month in missing:
        frame = _query_hek(month, min_class)
        path = _month_file(cache, min_class, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)  # a month is cached whole or not at all
    frames = [pd.read_csv(_month_file(cache, min_class, m), parse_dates=["time", "peak_time", "end_time"]) for m in months]
    flares = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EVENT_COLUMNS)
    flares = flares[(flares["time"] >= start) & (flares["time"] < end)]
    return flares.sort_values("time").reset_index(drop=True)


def _read_csv_events(spec: EventList, name: str, base: Path) -> pd.DataFrame:
    path = Path(spec.path)
    path = path if path.is_absolute() else base / path
    try:
        df = pd.read_csv(path)
        times = naive_utc(df[spec.time_column])
    except FileNotFoundError:
        raise AuroraSWError(f"events.{name}: {path} does not exist") from None
    except KeyError:
        raise AuroraSWError(f"events.{name}: {path} has no column {spec.time_column!r}") from None
    except (ValueError, TypeError) as exc:
        raise AuroraSWError(f"events.{name}: {path}: column {spec.time_column!r} is not UTC times ({exc})") from None
    return df.assign(time=times).sort_values("time").reset_index(drop=True)


def load_events(
    name: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    catalog: Catalog | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool = False,
) -> pd.DataFrame:
    """The catalog's event list ``name`` in [start, end) (UTC): a DataFrame with a ``time`` column.

    CSV paths are relative to the catalog file's folder.
    """
    catalog = catalog or load_catalog()
    spec = catalog.event_list(name)
    start, end = utc_range(start, end)
    if spec.source == "hek_flares":
        return load_flares(start, end, min_class=spec.min_class, cache_dir=cache_dir, offline=offline, configured_cache=spec.cache_dir)
    base = catalog.path.parent if catalog.path else Path.cwd()
    events = _read_csv_events(spec, name, base)
    return events[(events["time"] >= start) & (events["time"] < end)].reset_index(drop=True)
