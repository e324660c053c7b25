"""The camera: strict frame reading (truncated, tiny and greyscale frames refused with their reason),
the fisheye geometry and the skymap."""

import cv2
import numpy as np
import pytest

from aurora_sw.camera import (
    EARTH_RADIUS_KM,
    FrameError,
    altaz_to_pixel,
    circle_mask,
    crop_sky,
    magnetic_north_azimuth,
    pixel_altaz,
    pixel_to_altaz,
    read_frame,
    skymap,
)
from aurora_sw.errors import AuroraSWError


@pytest.fixture
def sky(tmp_path):
    """A 240 px colour frame: dark sky, noise, a green arc, written as JPEG and PNG."""
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(30, 6, (240, 240, 3)), 0, 255).astype(np.uint8)
    cv2.line(img, (20, 80), (220, 90), (40, 180, 60), 9)  # RGB
    cv2.imwrite(str(tmp_path / "sky.jpg"), img[..., ::-1])
    cv2.imwrite(str(tmp_path / "sky.png"), img[..., ::-1])
    return img


def reason(path, **kw):
    with pytest.raises(FrameError) as info:
        read_frame(path, **kw)
    return info.value.reason


def test_a_whole_frame_reads_as_opencv_does_in_rgb(sky, tmp_path):
    for name in ("sky.jpg", "sky.png"):
        img = read_frame(tmp_path / name)
        np.testing.assert_array_equal(img, cv2.imread(str(tmp_path / name))[..., ::-1])
    assert read_frame(tmp_path / "sky.jpg", reduce=4).shape == (60, 60, 3)
    (tmp_path / "padded.jpg").write_bytes((tmp_path / "sky.jpg").read_bytes() + b"\0" * 16)  # bytes after the end marker
    assert read_frame(tmp_path / "padded.jpg").shape == (240, 240, 3)
    cv2.imwrite(str(tmp_path / "prog.jpg"), sky[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])  # ten scans
    assert read_frame(tmp_path / "prog.jpg").shape == (240, 240, 3)


@pytest.mark.parametrize("fraction", [0.4, 0.9, 0.999])
def test_a_jpeg_cut_short_is_truncated_not_a_grey_filled_frame(sky, tmp_path, fraction):
    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * fraction)])
    assert cv2.imread(str(tmp_path / "cut.jpg")) is not None  # what fooled the old reader
    assert reason(tmp_path / "cut.jpg") == "truncated"
    assert reason(tmp_path / "cut.jpg", reduce=8) == "truncated"


def test_a_progressive_jpeg_or_png_cut_short_is_truncated(sky, tmp_path):
    cv2.imwrite(str(tmp_path / "prog.jpg"), sky[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = (tmp_path / "prog.jpg").read_bytes()
    (tmp_path / "prog.jpg").write_bytes(data[: int(len(data) * 0.9)])  # the last scans missing
    assert reason(tmp_path / "prog.jpg") == "truncated"
    data = (tmp_path / "sky.png").read_bytes()
    (tmp_path / "sky.png").write_bytes(data[: len(data) // 2])
    assert reason(tmp_path / "sky.png") == "truncated"


def test_tiny_greyscale_and_broken_files_are_refused(sky, tmp_path):
    cv2.imwrite(str(tmp_path / "one.jpg"), sky[:1, :1])
    cv2.imwrite(str(tmp_path / "one.png"), sky[:1, :1])
    grey = cv2.cvtColor(sky, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "grey1.jpg"), grey)  # one component
    cv2.imwrite(str(tmp_path / "grey3.jpg"), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))  # three equal ones
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "header.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut in the header")
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    got = {p: reason(tmp_path / p) for p in ("one.jpg", "one.png", "grey1.jpg", "grey3.jpg", "grey.png", "empty.jpg", "header.jpg", "text.jpg", "missing.jpg")}
    assert got == {
        "one.jpg": "too_small", "one.png": "too_small",
        "grey1.jpg": "greyscale", "grey3.jpg": "greyscale", "grey.png": "greyscale",
        "empty.jpg": "unreadable", "header.jpg": "unreadable", "text.jpg": "unreadable", "missing.jpg": "unreadable",
    }


def test_an_all_black_frame_is_not_called_greyscale(tmp_path):
    cv2.imwrite(str(tmp_path / "black.jpg"), np.zeros((128, 128, 3), np.uint8))  # the dark flag's business
    assert read_frame(tmp_path / "black.jpg").max() == 0


def test_the_error_names_the_file_and_is_a_user_error_and_an_oserror(sky, tmp_path):
    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(FrameError) as info:
        read_frame(tmp_path / "cut.jpg")
    assert str(tmp_path / "cut.jpg") in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, AuroraSWError) and isinstance(info.value, OSError)


def test_the_model_reader_is_the_strict_one(sky, tmp_path):
    from aurora_sw.model.data import FrameDataset, read_frame as model_read_frame

    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.4)])
    assert model_read_frame(str(tmp_path / "sky.jpg"), 64).shape == (64, 64, 3)
    with pytest.raises(FrameError, match="truncated"):
        model_read_frame(str(tmp_path / "cut.jpg"), 64)
    with pytest.raises(FrameError, match="truncated"):  # training never sees the grey-filled frame
        FrameDataset([str(tmp_path / "cut.jpg")], [0], 64)[0]


# ----------------------------------------------------------------------------- geometry


def angle_diff(a, b):
    """Smallest difference between two azimuths (deg)."""
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def test_the_projection_and_its_inverse_round_trip():
    rng = np.random.default_rng(1)
    alt, az = rng.uniform(0.0, 89.0, 500), rng.uniform(0.0, 360.0, 500)
    for size in (180, 181, 720):
        x, y = altaz_to_pixel(alt, az, size)
        alt2, az2 = pixel_to_altaz(x, y, size)
        np.testing.assert_allclose(alt2, alt, atol=1e-9)
        assert angle_diff(az2, az).max() < 1e-9
        # and the other way: pixels inside the circle -> sky -> the same pixels
        px, py = rng.uniform(0, size - 1, (2, 500))
        inside = np.hypot(px - (size - 1) / 2, py - (size - 1) / 2) < size / 2
        x2, y2 = altaz_to_pixel(*pixel_to_altaz(px[inside], py[inside], size), size)
        np.testing.assert_allclose(x2, px[inside], atol=1e-9)
        np.testing.assert_allclose(y2, py[inside], atol=1e-9)


def test_north_is_up_east_is_left_zenith_in_the_middle():
    alt, az = pixel_altaz(181)
    assert alt[90, 90] == 90.0
    assert alt[0, 90] < 1.0 and az[0, 90] == 0.0  # top: the northern horizon
    assert alt[90, 0] < 1.0 and az[90, 0] == 90.0  # left: east
    assert az[180, 90] == 180.0 and az[90, 180] == 270.0
    assert alt[0, 0] == 0.0  # a corner outside the circle reads as the horizon, not below it
    np.testing.assert_allclose(alt[90, 45], 45.0, atol=0.3)  # equidistant: half way out is 45 deg up


def test_the_sky_mask_is_the_circle_and_its_inner_part_clears_the_horizon():
    size = 360
    full, inner = circle_mask(size), circle_mask(size, radius_frac=0.9)
    assert abs(full.mean() - np.pi / 4) < 0.01
    assert (inner <= full).all() and abs(inner.sum() / full.sum() - 0.81) < 0.01
    alt, _ = pixel_altaz(size)
    assert alt[inner].min() >= 8.5  # radius_frac 0.9: above ~9 deg elevation


def test_crop_sky_cuts_the_epochs_circle_out_of_a_movie_frame(catalog):
    epoch = catalog.site("yellowknife").camera_epochs[0]
    frame = np.full((720, 1280, 3), 200, np.uint8)
    cx, cy = epoch.mask_center_xy
    frame[cy, cx] = (10, 250, 30)  # the zenith
    crop = crop_sky(frame, epoch)
    r = epoch.mask_radius_px
    assert crop.shape == (2 * r, 2 * r, 3)
    assert tuple(crop[r, r]) == (10, 250, 30)
    assert (crop[~circle_mask(2 * r)] == 0).all() and (crop[circle_mask(2 * r)] > 0).all()
    assert crop_sky(frame, epoch, out_size=180).shape == (180, 180, 3)


# ----------------------------------------------------------------------------- skymap


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def initial_bearing(lat1, lon1, lat2, lon2):
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - lon1)
    return np.degrees(np.arctan2(np.sin(dl) * np.cos(p2), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl))) % 360


def expected_distance_km(elevation_deg, height_km, observer_km):
    """Sea-level distance to below where a ray at ``elevation_deg`` meets the shell: the slant range
    from the law of cosines, then the central angle from the law of sines."""
    r0, r1, e = EARTH_RADIUS_KM + observer_km, EARTH_RADIUS_KM + height_km, np.radians(elevation_deg)
    slant = -r0 * np.sin(e) + np.sqrt((r0 * np.sin(e)) ** 2 + r1**2 - r0**2)
    return EARTH_RADIUS_KM * np.arcsin(slant * np.cos(e) / r1)


def test_skymap_zenith_is_the_site_and_outside_the_circle_is_nan(catalog):
    site = catalog.site("yellowknife")
    sm = skymap(site, site.camera_epochs[0], size=181)
    assert set(sm.data_vars) == {"azimuth", "elevation", "lat", "lon"}
    assert sm.attrs["camera_epoch"] == site.camera_epochs[0].name and sm.attrs["emission_height_km"] == 110.0
    assert sm["lat"].attrs["units"] == "degrees_north" and sm["lon"].attrs["units"] == "degrees_east"
    assert all(sm[v].attrs.get("units") and sm[v].attrs.get("long_name") for v in sm.data_vars)
    assert float(sm.elevation[90, 90]) == 90.0
    np.testing.assert_allclose([float(sm.lat[90, 90]), float(sm.lon[90, 90])], [site.lat_deg, site.lon_deg], atol=1e-9)
    inside = circle_mask(181)
    for name in sm.data_vars:
        values = sm[name].values
        assert np.isnan(values[~inside]).all() and np.isfinite(values[inside]).all(), name
    assert np.nanmin(sm.elevation.values) >= 0.0
    assert skymap(site, size=None).sizes["x"] == 2 * site.camera_epochs[-1].mask_radius_px  # the native crop
    from datetime import datetime

    assert skymap(site, datetime(2012, 2, 6, 6), size=64).attrs["camera_epoch"] == site.camera_epochs[0].name  # naive: UTC


@pytest.mark.parametrize("height_km", [110.0, 230.0])
def test_skymap_puts_each_pixel_where_the_closed_form_geometry_does(catalog, height_km):
    site = catalog.site("yellowknife")
    sm = skymap(site, size=360, emission_height_km=height_km)
    el, az, lat, lon = (sm[v].values.ravel() for v in ("elevation", "azimuth", "lat", "lon"))
    keep = np.isfinite(el) & (el > 0.5) & (el < 89.0)
    el, az, lat, lon = el[keep], az[keep], lat[keep], lon[keep]
    dist = haversine_km(site.lat_deg, site.lon_deg, lat, lon)
    np.testing.assert_allclose(dist, expected_distance_km(el, height_km, site.elevation_m / 1000), rtol=1e-6, atol=1e-6)
    assert angle_diff(initial_bearing(site.lat_deg, site.lon_deg, lat, lon), az).max() < 1e-6
    # sanity in numbers: at 110 km, 45 deg up is ~110 km away and the horizon ~1150 km
    if height_km == 110.0:
        assert 100 < expected_distance_km(45.0, 110.0, 0.21) < 115
        assert 1100 < dist.max() < 1200


def test_magnetic_north_lies_along_constant_aacgm_longitude(catalog):
    aacgmv2 = pytest.importorskip("aacgmv2")
    from datetime import datetime, timezone

    from aurora_sw.camera import destination

    site = catalog.site("yellowknife")
    t = datetime(2024, 2, 6, 6, tzinfo=timezone.utc)
    azimuth = magnetic_north_azimuth(site, t)
    assert 0.0 < azimuth < 30.0  # east of geographic north at Yellowknife
    tn = t.replace(tzinfo=None)
    mlat0, mlon0, _ = aacgmv2.convert_latlon(site.lat_deg, site.lon_deg, 110.0, tn, "G2A")
    lat, lon = destination(site.lat_deg, site.lon_deg, azimuth, 100.0)
    mlat1, mlon1, _ = aacgmv2.convert_latlon(float(lat), float(lon), 110.0, tn, "G2A")
    assert mlat1 - mlat0 > 0.5 and abs(mlon1 - mlon0) < 0.05


def test_jpeg_header_reads_size_components_frame_type_and_exif_orientation(tmp_path):
    """The one JPEG header reader (strict frame check and the GPU decode's choice of frames), against
    files Pillow writes: baseline, progressive, greyscale, EXIF-rotated with an XMP segment after
    the EXIF one, and a file cut inside its header."""
    import io

    from PIL import Image

    from aurora_sw.camera import JpegHeader, jpeg_header
    from aurora_sw.index.device_frames import device_decodable

    img = Image.new("RGB", (200, 120), (10, 80, 20))

    def encoded(im, **kw) -> bytes:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90, **kw)
        return buf.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    files = {
        "baseline": encoded(img),
        "progressive": encoded(img, progressive=True),
        "grey": encoded(img.convert("L")),
        "rotated": encoded(img, exif=exif.tobytes(), xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"),
    }
    want = {"baseline": (200, 120, 3, 0xC0, 1), "progressive": (200, 120, 3, 0xC2, 1), "grey": (200, 120, 1, 0xC0, 1), "rotated": (200, 120, 3, 0xC0, 6)}
    for name, data in files.items():
        h = jpeg_header(data)
        assert isinstance(h, JpegHeader) and (h.width, h.height, h.components, h.frame_marker, h.orientation) == want[name], name
        assert data[h.scan_start - 14 : h.scan_start].find(b"\xff\xda") >= 0  # the scan's header ends where its data starts
        assert device_decodable(data) == (name == "baseline"), name
    assert 0 < files["rotated"].find(b"Exif\x00\x00") < files["rotated"].find(b"http://ns.adobe.com/xap/1.0/")  # XMP after EXIF: it does not undo the rotation
    assert jpeg_header(files["baseline"][:40]) == ("unreadable", "the file ends inside its header")
    assert not device_decodable(files["baseline"][:40])
