"""Superposed epoch analysis: the average course of a series around events, with a baseline.

Events: southward IMF turnings, aurora onsets in the index, or any list of UTC times (e.g. CME
arrivals). Night-only data leave holes, so every epoch bin reports how many events fed it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from aurora_sw.errors import AuroraSWError


def _series(da: xr.DataArray) -> pd.Series:
    s = da.to_series()
    s.index = pd.DatetimeIndex(s.index)
    return s.sort_index()


def threshold_crossings(da: xr.DataArray, threshold: float, below: bool = False, quiet_min: int = 60, min_gap_min: int | None = None) -> pd.DatetimeIndex:
    """Times where ``da`` crosses ``threshold`` after ``quiet_min`` minutes on the other side.

    ``below=False``: upward crossings (aurora onsets in ``p_aurora``); ``below=True``: downward
    (southward turnings in ``bz_gsm`` with a negative threshold). The quiet stretch must be fully
    observed (no gaps). Events closer than ``min_gap_min`` (default ``quiet_min``) are merged.
    """
    s = _series(da)
    s = s.resample(pd.infer_freq(s.index[:10]) or "1min").mean() if len(s) > 10 else s
    on = (s < threshold) if below else (s > threshold)
    off = (s >= threshold) if below else (s <= threshold)
    quiet = off.astype(float).where(s.notna()).rolling(quiet_min, min_periods=quiet_min).min().shift(1) == 1
    starts = s.index[(on & quiet).to_numpy()]
    gap = pd.Timedelta(minutes=min_gap_min or quiet_min)
    kept: list[pd.Timestamp] = []
    for t in starts:
        if not kept or t - kept[-1] >= gap:
            kept.append(t)
    return pd.DatetimeIndex(kept)


@dataclass(frozen=True)
class EventDefinition:
    """A named rule that finds events as threshold crossings of one variable.

    Attributes
    ----------
    name
        What users type (``aurora-sw epochs --events NAME``).
    variable
        The series it is applied to: a solar-wind catalog variable or an index variable.
    threshold
        In the variable's units.
    below
        ``True``: the event is the series dropping below ``threshold``; ``False``: rising above.
    quiet_min
        Minutes the series must have stayed, fully observed, on the other side before the
        crossing; events closer than this are merged into the first.
    description
        One sentence for help texts and result attributes.
    """

    name: str
    variable: str
    threshold: float
    below: bool
    quiet_min: int
    description: str

    def find(self, series: xr.DataArray) -> pd.DatetimeIndex:
        """The events in ``series`` (UTC times of the crossings)."""
        return threshold_crossings(series, self.threshold, below=self.below, quiet_min=self.quiet_min)


# A southward turning of the IMF opens the dayside magnetosphere (Dungey 1961); -3 nT after an hour
# of northward or weak field separates a real turning from the field's minute-to-minute noise.
SOUTHWARD_TURNING = EventDefinition(
    "southward", "bz_gsm", -3.0, below=True, quiet_min=60,
    description="IMF Bz (GSM) drops below -3 nT after 60 fully observed minutes at or above it",
)
# p_aurora > 0.5 is the classifier's aurora/no-aurora decision; an hour without aurora before it
# makes the crossing an onset rather than a flicker within one display.
AURORA_ONSET = EventDefinition(
    "onsets", "p_aurora", 0.5, below=False, quiet_min=60,
    description="p_aurora rises above 0.5 after 60 fully observed minutes at or below it",
)
EVENT_DEFINITIONS: dict[str, EventDefinition] = {d.name: d for d in (SOUTHWARD_TURNING, AURORA_ONSET)}


def superposed_epoch(
    da: xr.DataArray,
    events: pd.DatetimeIndex | list,
    window_min: tuple[int, int] = (-120, 240),
    bin_min: int = 1,
    n_random: int = 200,
    seed: int = 0,
) -> xr.Dataset:
    """Median, quartiles, mean and event count per epoch bin, plus a random-epoch baseline.

    Parameters
    ----------
    da
        A series on ``time`` (UTC).
    events
        Epoch zero times (UTC).
    window_min
        Epoch range in minutes around each event.
    bin_min
        Bin width in minutes (60 for hourly bins over days).
    n_random
        Sets of random epochs (as many as ``events``, drawn where the series has data) for the
        baseline: its 2.5/97.5 % envelope of the bin means shows what chance alone gives.

    Returns
    -------
    xarray.Dataset
        On ``epoch`` (minutes from the event): ``median``, ``q25``, ``q75``, ``mean``, ``n``,
        ``random_low``, ``random_high``; attrs ``n_events`` (events with data in their window;
        an event outside the series' span still counts if its window reaches into it) and
        ``n_events_without_data``.
    """
    start, stop = window_min
    if start > stop:
        raise AuroraSWError(f"superposed_epoch: window {start}..{stop} min: the start must not exceed the stop, e.g. (-120, 240)")
    if bin_min < 1 or n_random < 0:
        raise AuroraSWError(f"superposed_epoch: bin_min ({bin_min}) must be 1 minute or more and n_random ({n_random}) >= 0")
    s = _series(da)
    events = pd.DatetimeIndex(events)
    if len(events) == 0:
        raise AuroraSWError("superposed_epoch: no events")
    step = pd.Timedelta(minutes=bin_min)
    binned = s.resample(step).mean()
    vals = binned.to_numpy(float)
    offsets = np.arange(start // bin_min, stop // bin_min + 1)

    def matrix(times: pd.DatetimeIndex) -> np.ndarray:
        # Bin positions counted from the first bin, so that windows of events before or after the
        # series still pick up the part that overlaps it.
        j = np.floor((times - binned.index[0]) / step).astype(int)
        k = np.asarray(j)[:, None] + offsets[None, :]
        ok = (k >= 0) & (k < len(vals))
        return np.where(ok, vals[np.clip(k, 0, len(vals) - 1)], np.nan)

    m = matrix(events)
    has_data = np.isfinite(m).any(axis=1)
    if not has_data.any():
        raise AuroraSWError(f"superposed_epoch: none of the {len(events)} events has data of {da.name} within {start}..{stop} min of it")
    m = m[has_data]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(m, 0)
        q25, q75 = np.nanpercentile(m, [25, 75], axis=0)
        mean = np.nanmean(m, 0)
        rng = np.random.default_rng(seed)
        candidates = binned.index[binned.notna().to_numpy()]
        rand_means = np.array([np.nanmean(matrix(pd.DatetimeIndex(rng.choice(candidates, len(m)))), 0) for _ in range(n_random)])
        low, high = np.nanpercentile(rand_means, [2.5, 97.5], axis=0) if n_random else (np.full(len(offsets), np.nan),) * 2
    units = da.attrs.get("units", "")
    return xr.Dataset(
        {
            "median": ("epoch", median, {"units": units}),
            "q25": ("epoch", q25, {"units": units}),
            "q75": ("epoch", q75, {"units": units}),
            "mean": ("epoch", mean, {"units": units}),
            "n": ("epoch", np.isfinite(m).sum(0), {"units": "1", "long_name": "events contributing"}),
            "random_low": ("epoch", low, {"units": units, "long_name": "2.5 % of random-epoch means"}),
            "random_high": ("epoch", high, {"units": units, "long_name": "97.5 % of random-epoch means"}),
        },
        coords={"epoch": ("epoch", offsets * bin_min, {"units": "min", "long_name": "time from event"})},
        attrs={"n_events": len(m), "n_events_without_data": int((~has_data).sum()), "variable": str(da.name), "bin_min": bin_min},
    )
