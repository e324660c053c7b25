"""Solar rotation bookkeeping: the 27-day Bartels rotation (the geomagnetic convention)."""

from __future__ import annotations

import pandas as pd

BARTELS_EPOCH = pd.Timestamp("1832-02-08")  # day 1 of Bartels rotation 1
BARTELS_DAYS = 27


def bartels_rotation(time: pd.Timestamp | str) -> tuple[int, int]:
    """Bartels rotation number and day of the rotation (1..27) for a UTC time.

    Rotation 1 began on 1832-02-08; each lasts exactly 27 days.

    Examples
    --------
    >>> bartels_rotation("2024-02-05")
    (2598, 6)
    """
    days = (pd.Timestamp(time).tz_localize(None).normalize() - BARTELS_EPOCH).days
    return days // BARTELS_DAYS + 1, days % BARTELS_DAYS + 1
