"""Times a user types (``--start``, ``--end``, ``--night``) -> UTC timestamps, or one clear error.

Inside aurora-sw times are naive ``datetime64[ns]`` in UTC. A time with a zone is converted to
UTC; one without is taken as UTC already (:func:`naive_utc`, :func:`aware_utc`: the one place
this is written). A night is named by its local date at dusk.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError

TimeLike = str | dt.datetime | dt.date | pd.Timestamp
_NIGHT = re.compile(r"\d{4}-\d{2}-\d{2}")


def naive_utc(times):
    """Times as naive UTC (the internal convention): zone-aware ones converted to UTC, naive ones
    taken as UTC already. The one place this conversion is written.

    Parameters
    ----------
    times
        A scalar (``Timestamp``, ``datetime``, ISO string), a ``pandas.Series`` (of datetimes or
        ISO strings, each may carry its own offset) or anything ``pandas.DatetimeIndex`` takes.

    Returns
    -------
    pandas.Timestamp, pandas.Series or pandas.DatetimeIndex
        The same kind as given (array-likes as a ``DatetimeIndex``), naive, in UTC.

    Examples
    --------
    >>> naive_utc("2024-02-01T00:00-07:00")
    Timestamp('2024-02-01 07:00:00')
    """
    if isinstance(times, pd.Series):
        return pd.to_datetime(times, utc=True).dt.tz_localize(None)
    if isinstance(times, (str, dt.datetime, dt.date, pd.Timestamp, np.datetime64)):
        t = pd.Timestamp(times)
        return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t
    t = pd.DatetimeIndex(pd.to_datetime(times))
    return t.tz_convert("UTC").tz_localize(None) if t.tz is not None else t


def aware_utc(times):
    """Times as timezone-aware UTC: zone-aware ones converted, naive ones taken as UTC.

    Same kinds in and out as :func:`naive_utc`.

    Examples
    --------
    >>> aware_utc(pd.DatetimeIndex(["2024-02-01 07:00"]))[0]
    Timestamp('2024-02-01 07:00:00+0000', tz='UTC')
    """
    if isinstance(times, pd.Series):
        return pd.to_datetime(times, utc=True)
    if isinstance(times, (str, dt.datetime, dt.date, pd.Timestamp, np.datetime64)):
        t = pd.Timestamp(times)
        return t.tz_convert("UTC") if t.tzinfo is not None else t.tz_localize("UTC")
    t = pd.DatetimeIndex(pd.to_datetime(times))
    return t.tz_convert("UTC") if t.tz is not None else t.tz_localize("UTC")


def utc_now() -> pd.Timestamp:
    """The present moment as a naive UTC timestamp (the internal convention)."""
    return naive_utc(pd.Timestamp.now(tz="UTC"))


def utc_time(value: TimeLike, name: str = "time") -> pd.Timestamp:
    """``value`` as a naive UTC timestamp.

    Parameters
    ----------
    value
        An ISO date or date-time (``2024-02-01``, ``2024-02-01T06:30``,
        ``2024-02-01T00:00-07:00``), a ``datetime`` or a ``Timestamp``.
    name
        What the value is (``start``, ``end``), for the message.

    Raises
    ------
    AuroraSWError
        ``value`` is not a date or time (``notadate``, ``2024-13-01``, empty).

    Examples
    --------
    >>> utc_time("2024-02-01T00:00-07:00")
    Timestamp('2024-02-01 07:00:00')
    """
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        t = pd.NaT
    if t is pd.NaT:
        raise AuroraSWError(f"{name} {value!r}: not a date or time; use an ISO UTC date/time such as 2024-02-01 or 2024-02-01T06:30")
    return naive_utc(t)


def utc_range(start: TimeLike | None, end: TimeLike | None, open_ended: bool = False) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``start`` and ``end`` as naive UTC timestamps, ``end`` strictly after ``start``.

    Parameters
    ----------
    open_ended
        Allow ``None`` for either bound (an open range, returned as ``None``).

    Raises
    ------
    AuroraSWError
        Either is not a time, or ``end`` is not after ``start`` (an empty or reversed range).
    """
    t0 = None if open_ended and start is None else utc_time(start, "start")
    t1 = None if open_ended and end is None else utc_time(end, "end")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise AuroraSWError(f"end {t1} is not after start {t0}: give a range that runs forward")
    return t0, t1


def duration_s(text: str, name: str = "duration") -> float:
    """A positive duration typed with its unit (``60s``, ``2min``, ``1h``), in seconds.

    Raises
    ------
    AuroraSWError
        Not a duration, no unit (pandas would read ``60`` as 60 nanoseconds), or not positive.
    """
    try:
        td = pd.Timedelta(text) if re.search(r"[a-zA-Z]", text) else pd.NaT
    except (ValueError, TypeError):
        td = pd.NaT
    if td is pd.NaT or td <= pd.Timedelta(0):
        raise AuroraSWError(f"{name} {text!r}: not a positive duration with a unit; use e.g. 60s or 2min")
    return td.total_seconds()


def night_date(night: str) -> str:
    """A night's name (its local date at dusk, ``YYYY-MM-DD``), checked to be a real date.

    Raises
    ------
    AuroraSWError
        ``night`` is not a ``YYYY-MM-DD`` calendar date (``2024-13-01``, ``yesterday``).
    """
    try:
        if not _NIGHT.fullmatch(night):
            raise ValueError
        return dt.date.fromisoformat(night).isoformat()
    except ValueError:
        raise AuroraSWError(f"night {night!r}: not a date; name a night by its local date at dusk as YYYY-MM-DD, e.g. 2024-02-05") from None
