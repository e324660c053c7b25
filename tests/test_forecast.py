"""The forecast: scores against independent references, nights held out whole, skill where the aurora
follows the solar wind 45 min later, models that load safely, and the commands a user types."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from aurora_sw.catalog import load_catalog
from aurora_sw.errors import AuroraSWError
from aurora_sw.forecast import load_forecast_model
from aurora_sw.forecast.baselines import KpRule
from aurora_sw.forecast.features import features, observed_aurora, target
from aurora_sw.forecast.verify import brier, brier_skill, reliability, tss_best
from aurora_sw.model.evaluate import roc_auc
from aurora_sw.index.schema import NO_FRAME, VARIABLES, class_codes
from aurora_sw.sky import SUN_CLASSES
from aurora_sw.solarwind.coupling import newell_coupling
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_kp, synthetic_solar_wind
from aurora_sw.workflows.forecast import predict_forecast, train_forecast

pytest.importorskip("aacgmv2", reason="magnetic local time needs aacgmv2 (the magnetic extra)")

FIRST, N_NIGHTS = "2024-01-10", 8
DARK_UTC_HOURS = (3, 12)  # Yellowknife in January: dark from 20:00 to 05:00 local (UTC-7)


def synthetic_sky(first: str = FIRST, n_nights: int = N_NIGHTS, seed: int = 3):
    """A solar wind and an index whose aurora follows its Newell coupling 45 min later (no frames rendered)."""
    start = pd.Timestamp(first) - pd.Timedelta(days=1)
    sw_full = synthetic_solar_wind(start, pd.Timestamp(first) + pd.Timedelta(days=n_nights + 1), seed=seed)
    activity = aurora_activity(sw_full, delay_min=45, seed=seed)
    sw = sw_full[["bz_gsm", "by_gsm", "vsw", "density", "pressure"]].copy()
    sw["newell"] = ("time", newell_coupling(sw["vsw"].values, sw["by_gsm"].values, sw["bz_gsm"].values))
    kp = synthetic_kp(sw_full)
    sw["kp"] = ("time", kp.reindex(pd.DatetimeIndex(sw["time"].values), method="ffill").to_numpy())
    time = pd.date_range(pd.Timestamp(first) + pd.Timedelta(hours=18), periods=n_nights * 1440, freq="1min")
    dark = (time.hour >= DARK_UTC_HOURS[0]) & (time.hour < DARK_UTC_HOURS[1])
    act = activity.reindex(time=time).values
    rng = np.random.default_rng(seed)
    p = np.where(dark, np.clip(1 / (1 + np.exp(-8 * (act - 0.6))) + rng.normal(0, 0.05, len(time)), 0, 1), np.nan)
    aurora = np.where(np.isnan(p), NO_FRAME, p >= 0.5).astype("int8")
    sun = class_codes(np.where(dark, "Night", "Day"), SUN_CLASSES)
    index = xr.Dataset(
        {"p_aurora": ("time", p), "aurora": ("time", aurora, {"threshold": 0.5}), "sun_class": ("time", sun, VARIABLES["sun_class"].attrs)},
        coords={"time": time.to_numpy()}, attrs={"night_start_utc_hour": 18},
    )
    return index, sw


@pytest.fixture(scope="module")
def sky():
    return synthetic_sky()


@pytest.fixture(scope="module")
def trained(sky):
    index, sw = sky
    cat = load_catalog()
    return train_forecast(index, sw, site=cat.site(), site_key=cat.default_site_key, leads_min=(0, 60), n_boot=100)


def test_scores_match_independent_references():
    from sklearn.metrics import brier_score_loss, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.3
    p = np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.2, 500), 0, 1)
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p))
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert brier_skill(p, np.full(500, y.mean()), y) == pytest.approx(1 - brier_score_loss(y, p) / (y.mean() * (1 - y.mean())))
    tss, threshold = tss_best(p, y)
    pred = p >= threshold
    assert tss == pytest.approx(pred[y].mean() - pred[~y].mean())  # hit rate - false-alarm rate at that threshold
    rel = reliability(p, y)
    assert sum(rel["count"]) == 500 and all(0 <= o <= 1 for o in rel["observed"])
    assert np.isnan(roc_auc(np.zeros(500), p))  # one class: no AUC, not an error


def test_kp_rule_finds_the_threshold_that_separates():
    kp = np.array([1, 1, 2, 2, 3, 4, 5, 5, 6, 7], float)
    y = kp >= 4
    rule = KpRule().fit(kp, y)
    assert rule.threshold == 4 and rule.p_above == 1 and rule.p_below == 0
    assert rule.predict(np.array([4.3, 2.0, np.nan]), np.full(3, 0.25)).tolist() == [1.0, 0.0, 0.25]


def test_target_is_the_observation_lead_minutes_later(sky):
    index, _ = sky
    obs = observed_aurora(index)
    y60 = target(obs, 60)
    t = obs.dropna().index[100]
    assert y60[t - pd.Timedelta(minutes=60)] == obs[t]
    assert np.isnan(obs[index["time"].values[0]])  # a day-time minute: not an outcome
    with pytest.raises(AuroraSWError, match="lead -5"):
        target(obs, -5)


def test_features_look_only_backwards(sky):
    index, sw = sky
    cat = load_catalog()
    t = pd.DatetimeIndex(["2024-01-12 06:00"])
    before = features(t, sw, index=index, site=cat.site())
    future = sw.copy(deep=True)
    after = future["time"] > np.datetime64(t[0])
    for name in future.data_vars:
        future[name] = future[name].where(~after, 1e4)  # spoil everything after the issue time
    index2 = index.copy(deep=True)
    index2["p_aurora"] = index2["p_aurora"].where(index2["time"] <= np.datetime64(t[0]), 1.0)
    pd.testing.assert_frame_equal(before, features(t, future, index=index2, site=cat.site()))
    current = sw.copy(deep=True)  # Kp of the 3-hour interval that t is in is published after t: never a feature
    current["kp"] = current["kp"].where(current["time"] <= np.datetime64(t[0] - pd.Timedelta(minutes=180)), 9.0)
    pd.testing.assert_frame_equal(before, features(t, current, index=index, site=cat.site()))
    mlt = np.degrees(np.arctan2(before["mlt_sin"], before["mlt_cos"])).iloc[0] / 15 % 24
    assert 20 < mlt < 24  # Yellowknife's magnetic midnight is near 08:30 UT: 06 UT is late evening MLT


def test_the_forecast_beats_persistence_an_hour_ahead(trained):
    v = trained.verification[60]
    assert v.n_nights == N_NIGHTS and v.n_minutes > 3000
    assert v.model == "logistic"  # 8 nights: too few for trees (TREES_MIN_NIGHTS)
    assert v.bss["persistence"] > 0.3 and v.ci["bss_persistence"][0] > 0  # measured +0.47 (0.42 .. 0.53): the planted delay is used
    assert v.bss["climatology"] > 0.1 and v.ci["bss_climatology"][0] > 0 and v.roc_auc > 0.7  # measured: +0.22 (0.05 .. 0.39) and 0.79
    assert "doy_sin" not in trained.model.features  # 8 nights: the day of year would name the night
    now = trained.verification[0]
    assert "persistence" not in now.bss  # at lead 0 persistence is the observation itself
    assert now.roc_auc > 0.7  # the nowcast from the solar wind alone (measured 0.81: it sees the wind 45 min back)


def test_trees_once_there_are_enough_nights(sky, monkeypatch, tmp_path):
    """Trees (calibrated on held-out nights) take over from TREES_MIN_NIGHTS nights; they are also scored
    against the logistic model, and they save and load through skops."""
    import aurora_sw.forecast.model as model

    index, sw = sky
    cat = load_catalog()
    monkeypatch.setattr(model, "TREES_MIN_NIGHTS", 5)  # the 8-night sky counts as "enough" here
    res = train_forecast(index, sw, site=cat.site(), site_key="yellowknife", leads_min=(30,), n_boot=20)
    v = res.verification[30]
    assert v.model == "hgb" and "logistic" in v.bss and v.roc_auc > 0.6
    res.write(tmp_path / "trees")
    loaded = load_forecast_model(tmp_path / "trees")
    at = pd.Timestamp("2024-01-13 07:00")
    assert loaded.kind == "hgb"
    assert predict_forecast(loaded, sw, at, site=cat.site(), index=index).equals(predict_forecast(res.model, sw, at, site=cat.site(), index=index))


def test_held_out_forecasts_never_saw_their_night(sky):
    """Flip every outcome of one night: its held-out forecasts must not move (it was never trained on)."""
    index, sw = sky
    cat = load_catalog()
    night = pd.Timestamp(FIRST) + pd.Timedelta(days=2)
    window = (index["time"] >= np.datetime64(night + pd.Timedelta(hours=18))) & (index["time"] < np.datetime64(night + pd.Timedelta(hours=42)))
    flipped = index.copy(deep=True)
    flipped["aurora"] = xr.where(window & (index["aurora"] >= 0), 1 - index["aurora"], index["aurora"]).astype("int8")
    kw = dict(site=cat.site(), site_key="yellowknife", leads_min=(30,), n_boot=10)
    a = train_forecast(index, sw, **kw).verification[30].held_out
    b = train_forecast(flipped, sw, **kw).verification[30].held_out
    mine = a["night"] == f"{night:%Y-%m-%d}"
    assert mine.sum() > 300
    np.testing.assert_allclose(a.loc[mine, "forecast"], b.loc[mine, "forecast"])
    assert not np.allclose(a.loc[~mine, "forecast"], b.loc[~mine, "forecast"])  # the other nights did learn from it


def test_saved_model_predicts_the_same_and_refuses_foreign_files(trained, sky, tmp_path):
    index, sw = sky
    cat = load_catalog()
    trained.write(tmp_path / "fc")
    got = json.loads((tmp_path / "fc" / "verification.json").read_text())
    assert set(got["leads"]) == {"0", "60"} and set(got["leads"]["60"]["bss"]) >= {"persistence", "climatology", "kp_rule"}
    assert (tmp_path / "fc" / "verification.png").stat().st_size > 10_000
    model = load_forecast_model(tmp_path / "fc")
    at = pd.Timestamp("2024-01-13 07:00")
    p = predict_forecast(model, sw, at, site=cat.site(), index=index)
    assert list(p.index) == [0, 60] and ((p >= 0) & (p <= 1)).all()
    assert p.equals(predict_forecast(trained.model, sw, at, site=cat.site(), index=index))

    import skops.io as sio

    sio.dump({"payload": pd.Timestamp("2024-01-01")}, tmp_path / "fc" / "lead_60.skops")  # a type skops does not trust
    with pytest.raises(AuroraSWError, match="not scikit-learn's"):
        load_forecast_model(tmp_path / "fc")
    (tmp_path / "fc" / "lead_60.skops").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(AuroraSWError, match="lead_60.skops: not a readable forecast model"):
        load_forecast_model(tmp_path / "fc")
    with pytest.raises(AuroraSWError, match="no forecast model here"):
        load_forecast_model(tmp_path / "nothing")
    with pytest.raises(AuroraSWError, match="no solar wind"):
        predict_forecast(trained.model, sw, pd.Timestamp("2025-06-01"), site=cat.site())
    with pytest.raises(AuroraSWError, match="outside the years AACGM-v2 covers"):
        predict_forecast(trained.model, sw, pd.Timestamp("2031-01-01"), site=cat.site())
