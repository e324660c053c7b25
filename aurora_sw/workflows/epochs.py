"""What a variable does around events: the superposed epoch analysis, asked one way everywhere.

Events are one of the named definitions of :mod:`aurora_sw.analysis.epochs` (``southward``,
``onsets``) or any UTC times (a catalog event list, a CSV); ``aurora-sw epochs`` and the Explorer
call :func:`epochs`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from aurora_sw.analysis.epochs import EVENT_DEFINITIONS, EventDefinition, superposed_epoch
from aurora_sw.errors import AuroraSWError

if TYPE_CHECKING:
    from aurora_sw.catalog import Catalog

__all__ = ["BIN_MIN", "EpochResult", "N_RANDOM", "WINDOW_MIN", "epochs", "epochs_of_index", "event_times_from_csv"]

WINDOW_MIN: tuple[int, int] = (-120, 240)
BIN_MIN = 5
N_RANDOM = 200


@dataclass(frozen=True)
class EpochResult:
    """What :func:`epochs` found.

    Attributes
    ----------
    epochs
        The :func:`aurora_sw.analysis.epochs.superposed_epoch` Dataset (on ``epoch``, minutes from
        the event), its attrs extended with ``events`` (the definition or the source's name).
    events
        The event times used (UTC).
    rise_min
        The first epoch at or after 0 where the median rises above the random-epoch band
        (minutes), or ``None`` when it stays within it.
    """

    epochs: xr.Dataset
    events: pd.DatetimeIndex
    rise_min: float | None

    def summary(self) -> str:
        """One line: how many events, and when (if) the median leaves the random-epoch band."""
        variable = self.epochs.attrs["variable"]
        when = (f"rises above the random-epoch band at {self.rise_min:+.0f} min" if self.rise_min is not None
                else "stays within the random-epoch band")
        return f"{self.epochs.attrs['n_events']} events; the median {variable} {when}"

    def write(self, out: str | os.PathLike, stem: str) -> Path:
        """Save ``STEM.nc`` and its plot ``STEM.png`` in ``out``; returns the NetCDF path."""
        from aurora_sw.analysis.plots import plot_superposed_epoch

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.epochs.to_netcdf(out / f"{stem}.nc")
        plot_superposed_epoch(self.epochs, out / f"{stem}.png")
        return out / f"{stem}.nc"


def event_times_from_csv(path: str | os.PathLike) -> pd.DatetimeIndex:
    """Event times from a CSV with a ``time`` column of UTC times (naive UTC, as the index's)."""
    try:
        times = pd.DatetimeIndex(pd.to_datetime(pd.read_csv(path)["time"], utc=True).dt.tz_localize(None))
    except (OSError, KeyError, ValueError) as exc:
        raise AuroraSWError(f"{path}: need a CSV with a 'time' column of UTC times ({exc})") from None
    if times.empty:
        raise AuroraSWError(f"{path}: no event times in its 'time' column")
    return times


def epochs(
    series: Mapping[str, xr.DataArray],
    events: str | EventDefinition | pd.DatetimeIndex,
    *,
    variable: str = "p_aurora",
    window_min: tuple[int, int] = WINDOW_MIN,
    bin_min: int = BIN_MIN,
    n_random: int = N_RANDOM,
    seed: int = 0,
) -> EpochResult:
    """Superposed epoch of ``variable`` around events, with a random-epoch baseline.

    Parameters
    ----------
    series
        Variables by name, each on its own UTC ``time`` (a Dataset, or e.g. ``{"p_aurora": ...,
        "bz_gsm": ...}`` from the index and the solar wind): ``variable`` and, for a named event
        definition, its variable.
    events
        A named definition (``"southward"``, ``"onsets"``, or an :class:`EventDefinition`), or
        event times (UTC).
    variable
        What to average.
    window_min, bin_min, n_random, seed
        Epoch range (minutes), bin width (minutes), random epoch sets for the baseline, and their seed.

    Returns
    -------
    EpochResult
    """
    if isinstance(events, str):
        if events not in EVENT_DEFINITIONS:
            raise AuroraSWError(f"epochs: no event definition {events!r}; use {', '.join(EVENT_DEFINITIONS)} or give event times")
        events = EVENT_DEFINITIONS[events]
    if variable not in series:
        raise AuroraSWError(f"epochs: no variable {variable!r}; have {', '.join(map(str, series))}")
    if isinstance(events, EventDefinition):
        if events.variable not in series:
            raise AuroraSWError(f"epochs: the {events.name!r} events need {events.variable!r}; have {', '.join(map(str, series))}")
        times, source = events.find(series[events.variable]), f"{events.name}: {events.description}"
    else:
        times, source = pd.DatetimeIndex(events), "event times given"
    res = superposed_epoch(series[variable], times, window_min, bin_min, n_random=n_random, seed=seed)
    res.attrs["events"] = source
    above = res["epoch"].where((res["median"] > res["random_high"]) & (res["epoch"] >= 0), drop=True)
    return EpochResult(epochs=res, events=times, rise_min=float(above[0]) if above.size else None)


def epochs_of_index(
    index: str | os.PathLike,
    events: str,
    *,
    variable: str = "p_aurora",
    window_min: tuple[int, int] = WINDOW_MIN,
    bin_min: int = BIN_MIN,
    catalog: "Catalog",
    cache: str | os.PathLike | None = None,
    kp_cache: str | os.PathLike | None = None,
    offline: bool = False,
) -> tuple[EpochResult, str]:
    """:func:`epochs` of an index store, reading the solar wind the events and ``variable`` need.

    Parameters
    ----------
    index
        The aurora-index Zarr store.
    events
        A named definition (``southward``, ``onsets``), an event list of the catalog (e.g.
        ``flares``), or a CSV of UTC times (column ``time``).
    variable
        An index variable or a solar-wind catalog variable.
    window_min, bin_min
        Epoch range and bin width (minutes).
    catalog, cache, kp_cache, offline
        As :func:`aurora_sw.solarwind.variables.load_solar_wind`.

    Returns
    -------
    (EpochResult, str)
        The result and the file stem it is written under (``epochs_EVENTS_VARIABLE``).
    """
    from aurora_sw.workflows.inputs import index_and_solar_wind

    definition = EVENT_DEFINITIONS.get(events)
    sw_names = [definition.variable] if definition and definition.variable in catalog.solarwind.variables else []
    if variable in catalog.solarwind.variables and variable not in sw_names:
        sw_names.append(variable)
    needs = tuple(v for v in (variable, definition.variable if definition else None) if v and v not in sw_names)
    first, last = window_min
    # Events from `last` minutes before the index to `-first` after it have windows that reach it.

    def pad(t: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
        return t.min() - pd.Timedelta(minutes=max(last, 0)), t.max() + pd.Timedelta(minutes=max(-first, 0))

    csv_times = event_times_from_csv(events) if definition is None and events not in catalog.events else None  # a bad CSV fails first
    ds, sw = index_and_solar_wind(index, sw_names, pad, catalog=catalog, cache=cache, kp_cache=kp_cache, offline=offline, needs=needs)
    if definition is not None:
        times: EventDefinition | pd.DatetimeIndex = definition
    elif events in catalog.events:
        from aurora_sw.solarwind.events import load_events

        t = pd.DatetimeIndex(ds["time"].values)  # events whose window reaches the index
        times = pd.DatetimeIndex(load_events(events, t.min() - pd.Timedelta(minutes=last), t.max() - pd.Timedelta(minutes=first), catalog=catalog, offline=offline)["time"])
    else:
        times = csv_times
    series = {**{n: sw[n] for n in sw.data_vars}, **{n: ds[n] for n in needs}}
    stem = f"epochs_{events if definition or events in catalog.events else Path(events).stem}_{variable}"
    return epochs(series, times, variable=variable, window_min=(first, last), bin_min=bin_min), stem
