"""Movie ingest: OCR of the burned-in time, robust fit, DST, bad files, idempotency."""

import shutil
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from aurora_sw.ingest import ingest, read_manifest
from aurora_sw.ingest.video import fit_times, parse_overlay

TZ = ZoneInfo("America/Yellowknife")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (apt-get install tesseract-ocr)")


def test_fit_corrects_the_thesis_misreads_and_splits_at_a_restart():
    idx = np.arange(0, 1200, 10, dtype=float)
    truth = 1_706_750_000 + 6.0 * idx
    truth[60:] += 3600 + 37  # the camera restarted: a new segment with another offset
    reads = truth.copy()
    reads[[5, 33, 80]] += 10 * 3600  # hour 28 read for 18
    reads[[12, 90]] -= 3 * 86400  # day 34 read as 31
    reads[[20, 21]] = np.nan  # unreadable
    reads[47] += 4  # a stray inserted 4 in the seconds
    fitted, residual = fit_times(idx, reads, 6.0)
    assert np.nanmax(np.abs(fitted - truth)) <= 1.0
    assert (np.abs(residual[[5, 33, 80, 12, 90, 47]]) > 2).all()  # misreads stand out
    assert np.isnan(residual[[20, 21]]).all() and np.isfinite(fitted[[20, 21]]).all()


def test_overlay_parsing_follows_mst_and_mdt():
    assert parse_overlay("2024-01-31 18:19:54 MST", TZ) == datetime(2024, 2, 1, 1, 19, 54, tzinfo=timezone.utc)
    assert parse_overlay("2024-03-1003:07:00MDT", TZ) == datetime(2024, 3, 10, 9, 7, tzinfo=timezone.utc)
    assert parse_overlay("2024-07-01 23:00:00", TZ) == datetime(2024, 7, 2, 5, 0, tzinfo=timezone.utc)  # no label: the zone
    assert parse_overlay("AuroraMAX", TZ) is None
    assert parse_overlay("2024-02-31 10:00:00 MST", TZ) is None


@pytest.fixture(scope="module")
def movies(tmp_path_factory, catalog):
    """A DST-switch night with OCR noise, a winter night, and broken files."""
    from aurora_sw.synthetic.movies import write_timelapse
    from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind

    site = catalog.site("yellowknife")
    folder = tmp_path_factory.mktemp("movies")
    sw = synthetic_solar_wind("2024-02-28", "2024-03-12", seed=2)
    act = aurora_activity(sw, seed=2)
    dst = write_timelapse(folder, pd.Timestamp("2024-03-09"), site=site, catalog=catalog, night_seed=3, activity=act, size=192, minutes=20, start_local="01:50", overlay_noise=0.3, seed=2)
    winter = write_timelapse(folder, pd.Timestamp("2024-03-01"), site=site, catalog=catalog, night_seed=4, activity=act, size=192, minutes=6, start_local="23:00")
    (folder / "auroramaxHD_20240302_720p.mp4").write_bytes(b"")
    (folder / "auroramaxHD_20240303_720p.mp4").write_bytes(winter.read_bytes()[: winter.stat().st_size // 2])
    (folder / "auroramaxHD_20240304_720p.mp4").write_text("not a movie")
    return folder, dst, winter


@needs_tesseract
def test_every_kept_frame_within_a_second_of_truth_across_the_dst_switch(movies, tmp_path, catalog):
    folder, dst, winter = movies
    s = ingest([folder], tmp_path / "arch", catalog, progress=False)
    m = read_manifest(tmp_path / "arch")
    from_dst = m[m.source == str(dst.resolve())].sort_values("frame_index")
    # The writer's truth: 01:50 MST on 2024-03-10 = 08:50 UTC, one movie frame per 6 s.
    truth = pd.Timestamp("2024-03-10T08:50:00Z") + pd.to_timedelta(6 * from_dst.frame_index, unit="s")
    assert len(from_dst) == 20
    assert (from_dst.time_utc - truth).abs().max() <= pd.Timedelta(seconds=1)
    assert from_dst.ocr_text.str.contains("MDT").any() and from_dst.ocr_text.str.contains("MST").any()
    noisy = from_dst[from_dst["flags"].str.contains("ocr_mismatch")]
    assert len(noisy) >= 1  # the scribbled overlays did fool the OCR on some frames ...
    assert ((noisy.time_residual_s.abs() > 2) | noisy.time_residual_s.isna()).all()  # ... and those are flagged, their times still right
    assert (from_dst.sun_alt < -20).all() and set(from_dst.columns) >= {"ocr_text", "time_residual_s", "moon_phase"}
    frame = m.path.iloc[0]
    import cv2

    assert cv2.imread(frame).shape == (720, 720, 3)

    problems = {p.path.rsplit("/", 1)[-1]: p.problem for p in s.problems}
    assert set(problems) >= {"auroramaxHD_20240302_720p.mp4", "auroramaxHD_20240303_720p.mp4", "auroramaxHD_20240304_720p.mp4"}
    assert len(m[m.source == str(winter.resolve())]) == 6


@needs_tesseract
def test_reingest_adds_nothing_and_does_not_decode_again(movies, tmp_path, catalog, monkeypatch):
    folder, dst, _ = movies
    first = ingest([dst], tmp_path / "arch", catalog, progress=False)
    assert first.n_added == 20
    import aurora_sw.ingest.manifest as manifest_mod

    monkeypatch.setattr(manifest_mod, "video_records", lambda *a, **k: pytest.fail("decoded again"))
    again = ingest([dst], tmp_path / "arch", catalog, progress=False)
    assert again.n_added == 0 and again.n_total == 20


@needs_tesseract
def test_a_killed_ingest_rerun_equals_a_clean_run(movies, tmp_path, catalog, monkeypatch):
    folder, dst, winter = movies
    import aurora_sw.ingest.manifest as manifest_mod

    real = manifest_mod.video_records
    calls = []

    def dies_on_the_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed while decoding the second movie
        return real(*args, **kwargs)

    monkeypatch.setattr(manifest_mod, "video_records", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        ingest([dst, winter], tmp_path / "killed", catalog, progress=False)
    assert not (tmp_path / "killed" / "manifest.parquet").exists()  # nothing half-written
    monkeypatch.setattr(manifest_mod, "video_records", real)
    ingest([dst, winter], tmp_path / "killed", catalog, progress=False)
    ingest([dst, winter], tmp_path / "clean", catalog, progress=False)
    cols = ["time_utc", "night", "frame_index", "ocr_text", "time_residual_s", "sun_alt", "flags"]
    a = read_manifest(tmp_path / "killed")[cols]
    b = read_manifest(tmp_path / "clean")[cols]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_overlay_zones_come_from_the_site_zone():
    from datetime import timedelta

    from aurora_sw.ingest.video import zone_offsets

    assert zone_offsets(TZ) == {"MST": timedelta(hours=-7), "MDT": timedelta(hours=-6)}
    helsinki = ZoneInfo("Europe/Helsinki")  # another camera's zone: its own abbreviations
    assert parse_overlay("2024-07-01 23:00:00 EEST", helsinki) == datetime(2024, 7, 1, 20, 0, tzinfo=timezone.utc)
