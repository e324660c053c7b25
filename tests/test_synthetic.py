"""The synthetic sky: deterministic, physically sane, and driven by the planted delay."""

import numpy as np
import pandas as pd
import pytest

from aurora_sw.synthetic.render import FrameState, NightSky
from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind

DARK = dict(minute=100.0, lst_deg=120.0, sun_alt=-35.0, sun_az=0.0, moon_alt=-20.0, moon_az=90.0, moon_illum=0.1, activity=0.0, cloudiness=0.0)


@pytest.fixture(scope="module")
def sky():
    return NightSky(256, 62.43, seed=4)


def render(sky, **kw):
    frame, truth = sky.render(FrameState(**{**DARK, **kw}), frame_seed=7)
    return frame.astype(float), truth


def sky_mean(sky, frame):
    return frame[sky.full.inside & (sky.full.alt > 15)].mean()


def test_same_seed_same_frame_other_seed_differs():
    a, _ = NightSky(128, 62.43, seed=1).render(FrameState(**{**DARK, "activity": 1.0}), frame_seed=3)
    b, _ = NightSky(128, 62.43, seed=1).render(FrameState(**{**DARK, "activity": 1.0}), frame_seed=3)
    c, _ = NightSky(128, 62.43, seed=2).render(FrameState(**{**DARK, "activity": 1.0}), frame_seed=3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fisheye_circle_with_black_corners(sky):
    frame, _ = render(sky)
    assert frame[0, 0].max() == 0 and frame[-1, -1].max() == 0
    assert sky_mean(sky, frame) > 5


def test_aurora_pixels_are_greener_than_the_surrounding_sky(sky):
    quiet, _ = render(sky)
    active, truth = render(sky, activity=1.2)
    assert truth["aurora_visible"] and truth["aurora_area"] > 0.05
    green_gain = (active - quiet)[..., 1]
    aur = green_gain > 20  # pixels the aurora lit
    assert aur.mean() > 0.02
    greenness = active[..., 1] - 0.5 * (active[..., 0] + active[..., 2])
    around = sky.full.inside & ~aur & (sky.full.alt > 10)
    assert greenness[aur].mean() > greenness[around].mean() + 15


def test_twilight_brighter_at_minus_8_than_minus_25(sky):
    assert sky_mean(sky, render(sky, sun_alt=-8.0, sun_az=300.0)[0]) > 1.5 * sky_mean(sky, render(sky, sun_alt=-25.0, sun_az=300.0)[0])


def test_moonlit_sky_brighter_at_full_moon(sky):
    full = sky_mean(sky, render(sky, moon_alt=30.0, moon_az=180.0, moon_illum=0.99)[0])
    crescent = sky_mean(sky, render(sky, moon_alt=30.0, moon_az=180.0, moon_illum=0.15)[0])
    assert full > crescent + 5


def test_overcast_hides_the_aurora(sky):
    _, clear = render(sky, activity=0.8)
    _, overcast = render(sky, activity=0.8, cloudiness=1.0)
    assert clear["aurora_area"] > overcast["aurora_area"]
    assert overcast["cloud_cover"] > 0.8


def test_solar_wind_has_gaps_streams_and_is_reproducible():
    a = synthetic_solar_wind("2024-01-01", "2024-03-01", seed=3)
    b = synthetic_solar_wind("2024-01-01", "2024-03-01", seed=3)
    assert np.array_equal(a["bz_gsm"].values, b["bz_gsm"].values, equal_nan=True)
    gaps = np.isnan(a["bz_gsm"].values)
    assert 0.005 < gaps.mean() < 0.3
    assert not np.isnan(a["bz_gsm_true"].values).any()
    v = a["vsw_true"].to_series().resample("1D").mean()
    assert v.max() > 500 and v.min() < 420  # high-speed streams over a slow background
    assert v.autocorr(27) > max(v.autocorr(k) for k in range(5, 23))  # streams recur with the 27-day rotation


def test_activity_follows_newell_with_the_planted_delay():
    from aurora_sw.analysis.lag import lagged_correlation
    from aurora_sw.solarwind.coupling import newell_coupling

    sw = synthetic_solar_wind("2024-01-01", "2024-01-15", seed=5)
    act = aurora_activity(sw, delay_min=37, seed=5)
    newell = sw["vsw_true"].copy(data=newell_coupling(sw["vsw_true"].values, sw["by_gsm_true"].values, sw["bz_gsm_true"].values))
    res = lagged_correlation(newell, act, lags=range(0, 91), n_boot=0)
    assert res.attrs["peak_lag_min"] == 37


def test_timelapse_is_auroramax_style(tmp_path, catalog):
    import av

    from aurora_sw.synthetic.movies import write_timelapse

    site = catalog.site("yellowknife")
    sw = synthetic_solar_wind("2024-02-04", "2024-02-07", seed=1)
    act = aurora_activity(sw, seed=1)
    path = write_timelapse(tmp_path, pd.Timestamp("2024-02-05"), site=site, catalog=catalog, night_seed=11, activity=act, size=240, minutes=2, start_local="21:00")
    assert path.name == "auroramaxHD_20240205_720p.mp4"
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        rate = container.streams.video[0].average_rate
    assert len(frames) == 20  # one movie frame per 6 s of sky time
    assert frames[0].shape == (720, 1280, 3) and float(rate) == 25
    first = frames[0].astype(float)
    assert first[:, :200].mean() < 15 and first[360, 640].sum() > 0  # black sides, sky circle centred
    assert first[680:712, 900:1260].max() > 200  # burned-in local time at the bottom right


def test_corona_rays_converge_on_the_magnetic_zenith(sky):
    from aurora_sw.synthetic.render import MAG_DECLINATION_DEG, MAG_DIP_DEG

    _, truth = render(sky, activity=2.0)
    assert truth["form"] == "corona" and truth["morphology"] == "discrete"  # OATH has no corona class
    assert render(sky, activity=1.2)[1]["form"] != "corona"
    *_, forms = sky._aurora(FrameState(**{**DARK, "activity": 2.0}), np.random.default_rng(0))
    corona = forms["corona"]
    off = sky.half.angular_distance(MAG_DIP_DEG, MAG_DECLINATION_DEG + 180.0)
    assert corona[off < 15].mean() > 3 * corona[(off > 45) & sky.half.inside].mean()  # bright where the rays meet, fading outwards


def test_pulsating_patches_in_the_morning_switch_from_frame_to_frame(sky):
    morning = FrameState(**{**DARK, "activity": 0.8, "sun_az": 70.0})
    a = sky._aurora(morning, np.random.default_rng(1))[3]["pulsating"]
    b = sky._aurora(morning, np.random.default_rng(2))[3]["pulsating"]
    assert a.max() > 0 and b.max() > 0 and not np.allclose(a, b)  # other patches lit each minute
    evening = FrameState(**{**DARK, "activity": 0.8, "sun_az": 300.0})
    assert "pulsating" not in sky._aurora(evening, np.random.default_rng(1))[3]
    _, truth = sky.render(morning, frame_seed=7)
    assert truth["form"] == "pulsating" and truth["morphology"] == "diffuse"


def test_camera_looks_vary_by_night_and_the_fixed_look_is_there():
    from aurora_sw.synthetic.render import CameraLook

    looks = [NightSky(128, 62.43, seed=s).look for s in range(8)]
    assert len({lk.exposure for lk in looks}) == 8 and all(0.75 <= lk.exposure <= 1.35 for lk in looks)
    st = FrameState(**DARK)
    fixed = NightSky(128, 62.43, seed=1, look=CameraLook())
    blue = NightSky(128, 62.43, seed=1, look=CameraLook(white_balance=(0.8, 1.0, 1.2)))
    f, b = fixed.render(st, frame_seed=3)[0].astype(float), blue.render(st, frame_seed=3)[0].astype(float)
    inside = fixed.full.inside & (fixed.full.alt > 20)
    assert (b[inside][:, 2] - b[inside][:, 0]).mean() > (f[inside][:, 2] - f[inside][:, 0]).mean() + 1  # a bluer night sky
    dark = NightSky(128, 62.43, seed=1, look=CameraLook(exposure=0.7)).render(st, frame_seed=3)[0].astype(float)
    assert dark[inside].mean() < f[inside].mean() - 2
