"""Keograms along any meridian: a pattern drawn at a known place in the sky shows up where the
camera's projection says it must, and the command line refuses a meridian it cannot draw."""

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from aurora_sw.camera import altaz_to_pixel
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.keogram import keogram, meridian_strip

SIZE = 180


def sky_with(draw) -> np.ndarray:
    img = np.full((SIZE, SIZE, 3), 20, np.uint8)
    draw(img)
    return img


def peak_angle(strip: np.ndarray) -> float:
    """Meridian angle (deg, 0 at the first horizon) of the centroid of the strip's green excess."""
    excess = np.clip(strip[:, 1] - 20.0, 0, None)
    return float(((np.arange(len(strip)) + 0.5) * excess).sum() / excess.sum() / len(strip) * 180.0)


def spot_at(alt: float, az: float):
    x, y = altaz_to_pixel(np.array([alt]), np.array([az]), SIZE)
    return lambda img: cv2.circle(img, (int(round(x[0])), int(round(y[0]))), 4, (30, 220, 40), -1)


def test_an_east_west_arc_crosses_the_east_west_keogram_and_not_the_north_south_one():
    # A band along the east-west direction 30 px north of the zenith never meets the E-W meridian;
    # a north-south band 40 px east of the zenith (east is left) meets it 50 px from the eastern horizon.
    ew_arc = sky_with(lambda img: cv2.line(img, (10, 60), (170, 60), (30, 220, 40), 5))
    ns_arc = sky_with(lambda img: cv2.line(img, (50, 10), (50, 170), (30, 220, 40), 5))
    assert abs(peak_angle(meridian_strip(ew_arc, SIZE)) - 60.5) < 2  # N-S keogram: 60 px from the north
    assert meridian_strip(ew_arc, SIZE, azimuth_deg=90)[:, 1].max() < 30  # E-W keogram: not there
    assert meridian_strip(ns_arc, SIZE)[:, 1].max() < 30
    east = meridian_strip(ns_arc, SIZE, azimuth_deg=90)
    assert abs(peak_angle(east) - 50.5) < 2  # row 0 is the eastern horizon
    west = meridian_strip(ns_arc, SIZE, azimuth_deg=270)
    np.testing.assert_allclose(west, east[::-1], atol=1e-4)  # the same meridian, the other way


@pytest.mark.parametrize("az", [30.0, 45.0, 135.0, 200.0, 317.5])
def test_a_spot_shows_up_at_its_elevation_on_its_meridian_and_opposite(az):
    img = sky_with(spot_at(40.0, az))
    # 40 deg up: 40 deg of meridian angle from the horizon at az, 140 from the opposite one
    assert abs(peak_angle(meridian_strip(img, SIZE, azimuth_deg=az)) - 40.0) < 2
    assert abs(peak_angle(meridian_strip(img, SIZE, azimuth_deg=(az + 180) % 360)) - 140.0) < 2
    assert meridian_strip(img, SIZE, azimuth_deg=(az + 90) % 360)[:, 1].max() < 30  # a meridian 90 deg away misses it


def test_a_turn_by_a_fraction_of_a_degree_matches_the_quarter_turn():
    img = sky_with(spot_at(25.0, 90.0))
    exact = meridian_strip(img, SIZE, azimuth_deg=90.0)
    near = meridian_strip(img, SIZE, azimuth_deg=90.001)
    assert abs(peak_angle(exact) - peak_angle(near)) <= 1.0
    assert np.abs(exact - near).mean() < 2.0


@pytest.fixture
def night(tmp_path):
    """Five frames of an arc along the north-south meridian, 40 px east of the zenith, and a
    manifest of them."""
    rows = []
    for i in range(5):
        img = sky_with(lambda im: cv2.line(im, (50, 10), (50, 170), (30, 220, 40), 5))
        path = tmp_path / "frames" / f"2024020{6}T05{i:02d}00Z.jpg"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), img[..., ::-1])
        rows.append({"time_utc": pd.Timestamp("2024-02-06T05:00Z") + pd.Timedelta(minutes=i), "path": str(path)})
    return pd.DataFrame(rows)


def test_keogram_of_frames_along_azimuth_90(night):
    keo = keogram(night, size=SIZE, azimuth_deg=90)
    assert [peak_angle(strip) for strip in keo.values] == pytest.approx([50.5] * 5, abs=2)
    assert keo.attrs["azimuth_deg"] == 90.0 and "E-W" in keo.attrs["long_name"]
    assert keogram(night, size=SIZE).sel(channel="G").max() < 40  # the N-S keogram misses the arc
    for bad in (-1.0, 360.0, float("nan")):
        with pytest.raises(AuroraSWError, match="azimuth"):
            keogram(night, size=SIZE, azimuth_deg=bad)


def run(*args):
    return subprocess.run([sys.executable, "-m", "aurora_sw", "keogram", *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def archive(night, tmp_path):
    """An archive folder whose manifest lists the night's frames."""
    from aurora_sw.ingest.manifest import MANIFEST_COLUMNS

    archive = tmp_path / "archive"
    archive.mkdir()
    manifest = night.assign(night="2024-02-05", flags="")
    for column in MANIFEST_COLUMNS:
        if column not in manifest:
            manifest[column] = np.nan if column not in ("source", "ocr_text", "sun_class", "moon_class") else ""
    manifest[MANIFEST_COLUMNS].to_parquet(archive / "manifest.parquet", index=False)
    return archive


def test_the_keogram_command_draws_any_meridian_and_refuses_what_it_cannot(archive, tmp_path):
    out = tmp_path / "keo" / "east.png"
    res = run("--archive", archive, "--night", "2024-02-05", "--size", SIZE, "--azimuth", 90, "--out", out)
    assert res.returncode == 0, res.stderr
    assert "5 frames" in res.stdout and "azimuth 90.0" in res.stdout
    import xarray as xr

    with xr.open_dataarray(out.with_suffix(".nc")) as keo:
        assert [peak_angle(strip) for strip in keo.values] == pytest.approx([50.5] * 5, abs=2)

    for args, words in (
        (("--azimuth", 400), "must be in 0 <= azimuth < 360"),
        (("--azimuth", -10), "must be in 0 <= azimuth < 360"),
        (("--index", tmp_path / "index.zarr", "--azimuth", 90), "north-south keogram only"),
    ):
        source = () if "--index" in args else ("--archive", archive)
        res = run(*source, "--night", "2024-02-05", *args, "--out", tmp_path / "bad.png")
        assert res.returncode == 1, res.stdout + res.stderr
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], res.stderr
    assert not (tmp_path / "bad.png").exists()


def test_the_magnetic_meridian_is_measured_from_magnetic_north(archive, tmp_path):
    pytest.importorskip("aacgmv2")
    from aurora_sw.camera import magnetic_north_azimuth
    from aurora_sw.catalog import load_catalog

    declination = magnetic_north_azimuth(load_catalog().site("yellowknife"), pd.Timestamp("2024-02-06T05:00Z"))
    res = run("--archive", archive, "--night", "2024-02-05", "--size", SIZE, "--magnetic", "--azimuth", 90, "--out", tmp_path / "mag.png")
    assert res.returncode == 0, res.stderr
    assert f"azimuth {90 + declination:.1f}" in res.stdout
