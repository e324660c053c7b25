import numpy as np
import pandas as pd

from aurora_sw.model.temporal import hmm_smooth


def test_smoothing_fixes_isolated_flips_and_keeps_real_changes():
    rng = np.random.default_rng(0)
    truth = np.zeros(600, bool)
    truth[100:250] = truth[400:480] = True
    p = np.where(truth, 0.8, 0.2) + rng.normal(0, 0.05, 600)
    flips = rng.random(600) < 0.1  # the classifier is wrong on 10 % of frames, at random
    p[flips] = 1 - p[flips]
    p = np.clip(p, 0.01, 0.99)
    raw_acc = ((p >= 0.5) == truth).mean()
    smooth = hmm_smooth(p)
    assert ((smooth >= 0.5) == truth).mean() > raw_acc + 0.05
    assert ((smooth >= 0.5) == truth).mean() > 0.97


def test_gaps_break_the_chain_and_stay_nan():
    t = pd.date_range("2024-02-06T02:00", periods=20, freq="1min").append(pd.date_range("2024-02-06T12:00", periods=20, freq="1min"))
    p = np.r_[np.full(20, 0.9), np.full(20, 0.1)]
    p[5] = np.nan
    s = hmm_smooth(p, t)
    assert np.isnan(s[5])
    assert s[19] > 0.9 and s[20] < 0.1  # no leakage across the 10-hour gap
