"""One UTC normalisation: naive UTC inside, zones converted, naive times taken as UTC."""

import numpy as np
import pandas as pd

from aurora_sw.times import aware_utc, naive_utc


def test_naive_and_aware_utc_keep_the_kind_and_convert_zones():
    assert naive_utc("2024-02-01T00:00-07:00") == pd.Timestamp("2024-02-01 07:00")
    assert naive_utc(pd.Timestamp("2024-02-01 07:00")) == pd.Timestamp("2024-02-01 07:00")  # naive: UTC already
    series = pd.Series(["2024-02-01T00:00-07:00", "2024-02-01T07:00Z"])
    assert (naive_utc(series) == pd.Timestamp("2024-02-01 07:00")).all() and naive_utc(series).dt.tz is None
    idx = pd.DatetimeIndex(["2024-02-01 00:00"]).tz_localize("America/Yellowknife")
    assert naive_utc(idx)[0] == pd.Timestamp("2024-02-01 07:00") and naive_utc(idx).tz is None
    grid = np.array(["2024-02-01T07:00"], dtype="datetime64[ns]")
    assert aware_utc(grid)[0] == pd.Timestamp("2024-02-01 07:00", tz="UTC")
    assert aware_utc(idx)[0] == aware_utc(pd.Series(idx))[0] == pd.Timestamp("2024-02-01 07:00", tz="UTC")
