"""Movie ingest: OCR of the burned-in time, robust fit, DST, bad files, idempotency."""

import os
import shutil
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError
from aurora_sw.ingest import ingest, read_manifest
from aurora_sw.ingest.journal import JOURNAL_NAME
from aurora_sw.ingest.video import fit_times, parse_overlay, sparse_fit

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


def _night_reads(n: int = 840, seed: int = 0):
    """A 14-hour night of kept frames (one a minute, every 10th movie frame): the camera restarts at kept
    frame 301 (its clock 1 h 37 s on), MST becomes MDT at kept frame 500 (UTC goes on), and 8 % of the
    overlays are misread (hours, days or seconds wrong, or unparsable)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n, dtype=float) * 10
    truth = 1_710_030_000 + 6.0 * idx
    truth[301:] += 3637
    reads = truth.copy()
    bad = rng.choice(n, size=int(0.08 * n), replace=False)
    kinds = rng.integers(0, 4, len(bad))
    reads[bad[kinds == 0]] += 10 * 3600
    reads[bad[kinds == 1]] -= 3 * 86400
    reads[bad[kinds == 2]] += 4
    reads[bad[kinds == 3]] = np.nan
    zone = np.where(np.arange(n) < 500, "MST", "MDT")
    return idx, truth, reads, zone


@pytest.mark.parametrize("seed", range(6))
def test_sparse_reads_give_the_dense_fit_with_a_fraction_of_the_ocr(seed):
    """The time of every frame within 1 s with a restart, a DST switch and 8 % misreads, from under a
    third of the reads; the restart's first frame is found exactly; every misread that was read is flagged."""
    idx, truth, reads, zone = _night_reads(seed=seed)
    calls = []

    def read(ks):
        calls.extend(ks)
        return [(reads[k], zone[k]) for k in ks]

    fitted, residual, was_read = sparse_fit(idx, read, 6.0)
    assert len(calls) == len(set(calls)) == was_read.sum()  # each overlay read once
    assert was_read.sum() < 0.2 * len(idx)  # measured: 112-123 of 840 reads (13-15 %), seeds 0-5
    dense, _ = fit_times(idx, reads, 6.0)
    assert np.abs(fitted - dense).max() <= 1.0  # what reading every overlay gives
    misread = ~(np.abs(reads - truth) <= 1)
    wrong = ~(np.abs(fitted - truth) <= 1.0)
    # Within 1 s everywhere but where no overlay can tell: the restart's first frame misread is put in the
    # segment before it (so does the dense fit); it is flagged like every misread that was read.
    assert set(np.flatnonzero(wrong)) <= ({301} if misread[301] else set())
    assert was_read[300:311].all()  # between the last read before the restart and the first after, every frame read
    assert (~(np.abs(residual[misread & was_read]) <= 2)).all()
    assert np.isnan(residual[~was_read]).all()


def test_sparse_reads_every_frame_when_told_and_refuse_nonsense():
    idx, truth, reads, zone = _night_reads(n=60)
    fitted, _, was_read = sparse_fit(idx, lambda ks: [(reads[k], zone[k]) for k in ks], 6.0, every=1)
    assert was_read.all() and np.abs(fitted - truth).max() <= 1.0
    with pytest.raises(AuroraSWError, match="give 1 or more"):
        sparse_fit(idx, lambda ks: [(reads[k], zone[k]) for k in ks], 6.0, every=0)


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
def test_overlays_read_in_one_batch_read_as_one_by_one(movies, catalog):
    """Stacked into one tesseract call, the overlays (30 % of them scribbled over, one blank, one with a mark
    above its digits) give the times read one at a time wherever those are right, and no frame another's."""
    from aurora_sw.ingest.video import iter_frames, overlay_crop, read_overlay_crop, read_overlay_crops

    import cv2

    _, dst, _ = movies
    site = catalog.site("yellowknife")
    crops = [overlay_crop(f.rgb, tuple(site.camera_epochs[-1].overlay_box)) for f in iter_frames(dst, 1)][:64]
    crops[1] = np.zeros_like(crops[1])  # a blank overlay: no line at all ...
    cv2.circle(crops[3], (200, 4), 4, 255, -1)  # ... and a mark above the digits, which tesseract may read as a line of its own
    texts = read_overlay_crops(crops, site.tz)
    assert len(texts) == len(crops) and texts[1] == ""
    batch = [parse_overlay(t, site.tz) for t in texts]
    single = [parse_overlay(read_overlay_crop(c, site.tz), site.tz) for c in crops]
    truth = [datetime(2024, 3, 10, 8, 50, tzinfo=timezone.utc) + pd.Timedelta(seconds=6 * i) for i in range(len(crops))]
    right = [i for i in range(len(crops)) if single[i] == truth[i]]
    assert len(right) >= 40
    assert sum(batch[i] == truth[i] for i in right) >= len(right) - 2
    # No frame takes a neighbour's time, as a line given to the wrong crop would do to a run of frames (a lone
    # misread may land on some frame's time: they are 6 s apart; the fit flags it).
    shifted = [i for i in range(1, len(batch) - 1) if batch[i] is not None and batch[i] != truth[i] and batch[i] in (truth[i - 1], truth[i + 1])]
    assert len(shifted) <= 1, [(i, texts[i], single[i]) for i in shifted]


@needs_tesseract
def test_movie_workers_and_a_dask_cluster_give_the_same_manifest(movies, tmp_path, catalog):
    """`ingest --workers 2` (two processes) and `ingest --dask` (a local Dask cluster) give the same rows,
    problems and frames as one movie after another."""
    from aurora_sw.cluster import dask_client

    folder, _, _ = movies
    runs = {"one": ingest([folder], tmp_path / "one", catalog, progress=False),
            "two": ingest([folder], tmp_path / "two", catalog, progress=False, workers=2)}
    with dask_client(dask=True) as client:
        runs["dask"] = ingest([folder], tmp_path / "dask", catalog, progress=False, client=client)
    cols = ["time_utc", "frame_index", "ocr_text", "time_residual_s", "flags", "source"]
    a = read_manifest(tmp_path / "one")
    frames = sorted(p.name for p in (tmp_path / "one" / "frames").rglob("*.jpg"))
    for key in ("two", "dask"):
        b = read_manifest(tmp_path / key)
        pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))
        assert [p.path.rsplit("/", 1)[-1] for p in runs["one"].problems] == [p.path.rsplit("/", 1)[-1] for p in runs[key].problems]
        assert sorted(p.name for p in (tmp_path / key / "frames").rglob("*.jpg")) == frames
        assert not list((tmp_path / key / "frames").glob(".pending-*"))


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
    stale = tmp_path / "killed" / "frames" / ".pending-auroramaxHD_20240309_720p-x"  # what a SIGKILL mid-movie leaves
    stale.mkdir(parents=True)
    (stale / "120.jpg").write_bytes(b"\xff\xd8")
    # The first movie was decoded completely: the rerun takes its records from the journal and decodes only the second.
    assert len(list((tmp_path / "killed" / JOURNAL_NAME).glob("*.records.parquet"))) == 1
    rerun = []
    monkeypatch.setattr(manifest_mod, "video_records", lambda *args, **kwargs: rerun.append(args[0]) or real(*args, **kwargs))
    killed = ingest([dst, winter], tmp_path / "killed", catalog, progress=False)
    assert rerun == [winter]
    monkeypatch.setattr(manifest_mod, "video_records", real)
    clean = ingest([dst, winter], tmp_path / "clean", catalog, progress=False)
    cols = ["time_utc", "night", "path", "source", "frame_index", "ocr_text", "time_residual_s", "sun_alt", "flags"]
    a = read_manifest(tmp_path / "killed")[cols]
    b = read_manifest(tmp_path / "clean")[cols]
    a["path"], b["path"] = (m["path"].str.replace(str(tmp_path / k), "", regex=False) for m, k in ((a, "killed"), (b, "clean")))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    strip = lambda run, k: [(p.path.replace(str(tmp_path / k), ""), p.reason, p.problem) for p in run.problems]  # noqa: E731
    assert strip(killed, "killed") == strip(clean, "clean")
    assert not stale.exists() and not (tmp_path / "killed" / JOURNAL_NAME).exists()  # the manifest holds the movies now


@needs_tesseract
def test_a_journal_entry_is_not_used_for_a_changed_movie_other_options_or_lost_frames(movies, tmp_path, catalog):
    """The journal keeps a movie's records only for the same file decoded the same way, with its frames on disk."""
    from aurora_sw.ingest.journal import MovieJournal
    from aurora_sw.ingest.video import video_records

    _, _, winter = movies
    movie = tmp_path / winter.name
    shutil.copy(winter, movie)
    site = catalog.site("yellowknife")
    records, problems = video_records(movie, site, frames_dir=tmp_path / "frames", every_s=60.0, progress=False)
    journal = MovieJournal(tmp_path / JOURNAL_NAME, tmp_path / "frames", site=site, every_s=60.0, ocr_every=10)
    journal.save(movie, records, problems)
    back, back_problems = journal.load(movie)
    pd.testing.assert_frame_equal(pd.DataFrame(back), pd.DataFrame(records))
    assert back_problems == problems and len(back) == 6
    assert MovieJournal(tmp_path / JOURNAL_NAME, tmp_path / "frames", site=site, every_s=120.0, ocr_every=10).load(movie) is None
    assert MovieJournal(tmp_path / JOURNAL_NAME, tmp_path / "frames", site=site, every_s=60.0, ocr_every=1).load(movie) is None
    # An archive copied elsewhere mid-ingest (a bigger disk) finishes with its own frames, not the original's.
    shutil.copytree(tmp_path / "frames", tmp_path / "copy" / "frames")
    shutil.copytree(tmp_path / JOURNAL_NAME, tmp_path / "copy" / JOURNAL_NAME)
    copied, _ = MovieJournal(tmp_path / "copy" / JOURNAL_NAME, tmp_path / "copy" / "frames", site=site, every_s=60.0, ocr_every=10).load(movie)
    assert [r["path"] for r in copied] == [r["path"].replace(str(tmp_path), str(tmp_path / "copy")) for r in records]
    stamp = movie.stat()
    os.utime(movie, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))
    assert journal.load(movie) is None  # the movie changed since
    os.utime(movie, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert journal.load(movie) is not None
    os.remove(back[0]["path"])
    assert journal.load(movie) is None  # a frame gone: decode again


def test_overlay_zones_come_from_the_site_zone():
    from datetime import timedelta

    from aurora_sw.ingest.video import zone_offsets

    assert zone_offsets(TZ) == {"MST": timedelta(hours=-7), "MDT": timedelta(hours=-6)}
    helsinki = ZoneInfo("Europe/Helsinki")  # another camera's zone: its own abbreviations
    assert parse_overlay("2024-07-01 23:00:00 EEST", helsinki) == datetime(2024, 7, 1, 20, 0, tzinfo=timezone.utc)


def _splice(first, second, out):
    """One movie of two: the camera restarted between them (the second's clock jumps on)."""
    import av

    dst = av.open(str(out), mode="w")
    stream = dst.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    stream.options = {"crf": "23", "preset": "veryfast"}
    for src in (first, second):
        with av.open(str(src)) as container:
            for frame in container.decode(video=0):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                    dst.mux(packet)
    for packet in stream.encode():
        dst.mux(packet)
    dst.close()
    return out


@needs_tesseract
def test_a_restarted_camera_movie_read_sparsely_keeps_every_time_within_a_second(tmp_path, catalog):
    """A real movie with a restart inside (22:00-22:08 MST, then from 23:31): every kept frame within 1 s
    of the writer's truth, with fewer overlay reads than frames, and the same times as reading them all."""
    from aurora_sw.ingest.video import video_records
    from aurora_sw.synthetic.movies import write_timelapse
    from aurora_sw.synthetic.solarwind import aurora_activity, synthetic_solar_wind

    site = catalog.site("yellowknife")
    act = aurora_activity(synthetic_solar_wind("2024-01-30", "2024-02-03", seed=5), seed=5)
    parts = [write_timelapse(tmp_path / name, pd.Timestamp("2024-01-31"), site=site, catalog=catalog, night_seed=5, activity=act, size=96, minutes=minutes, start_local=start)
             for name, minutes, start in (("a", 8, "22:00"), ("b", 8, "23:31"))]
    movie = _splice(*parts, tmp_path / "auroramaxHD_20240131_720p.mp4")
    t_a, t_b = pd.Timestamp("2024-02-01T05:00:00Z"), pd.Timestamp("2024-02-01T06:31:00Z")
    runs = {}
    for every in (10, 1):
        recs, problems = video_records(movie, site, frames_dir=tmp_path / f"frames{every}", progress=False, ocr_every=every)
        df = pd.DataFrame(recs).sort_values("frame_index")
        runs[every] = df
        assert not problems and len(df) == 16
        truth = np.where(df.frame_index < 80, t_a.value, t_b.value - 80 * 6 * 10**9) + df.frame_index.to_numpy() * 6 * 10**9
        assert (df.time_utc - pd.to_datetime(truth, utc=True)).abs().max() <= pd.Timedelta(seconds=1)
        assert all(pd.Timestamp(r["time_utc"]).strftime("%Y%m%dT%H%M%SZ") in r["path"] for r in recs)
        assert not list((tmp_path / f"frames{every}").glob(".pending-*"))  # renamed to their times, nothing left behind
    sparse_reads = int((runs[10].ocr_text != "").sum())
    assert sparse_reads < 16 and (runs[1].ocr_text != "").all()
    pd.testing.assert_series_equal(runs[10].time_utc.reset_index(drop=True), runs[1].time_utc.reset_index(drop=True))


def test_a_movie_of_another_size_is_a_problem_not_a_crash(tmp_path, catalog):
    """Frames smaller than the catalog's overlay box and sky circle: one problem naming the size, nothing written."""
    import av

    from aurora_sw.ingest.video import video_records

    movie = tmp_path / "small_640x360.mp4"
    with av.open(str(movie), mode="w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for i in range(20):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((360, 640, 3), 10 * i, np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    recs, problems = video_records(movie, catalog.site("yellowknife"), frames_dir=tmp_path / "frames", progress=False)
    assert recs == [] and [p.reason for p in problems] == ["unreadable_video"] and "frames are 640x360" in problems[0].problem
    assert not list((tmp_path / "frames").rglob("*.jpg")) and not list((tmp_path / "frames").glob(".pending-*"))


@needs_tesseract
def test_a_run_killed_as_it_writes_the_manifest_lists_every_problem_on_the_rerun(movies, tmp_path, catalog, monkeypatch):
    """The problems are written before the manifest: a manifest written first would have the rerun skip
    its movies as done, and their problems (duplicate minutes, bad movies) would never be listed."""
    import aurora_sw.ingest.manifest as manifest_mod

    folder, _, _ = movies
    real = manifest_mod._write_problems

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest_mod, "_write_problems", killed)  # killed as the problems are written
    with pytest.raises(KeyboardInterrupt):
        ingest([folder], tmp_path / "killed", catalog, progress=False)
    assert not (tmp_path / "killed" / "manifest.parquet").exists()
    monkeypatch.setattr(manifest_mod, "_write_problems", real)
    rerun = ingest([folder], tmp_path / "killed", catalog, progress=False)
    clean = ingest([folder], tmp_path / "clean", catalog, progress=False)
    a, b = (pd.read_csv(tmp_path / k / "ingest_problems.csv") for k in ("killed", "clean"))
    for table, k in ((a, "killed"), (b, "clean")):
        table["path"] = table["path"].str.replace(str(tmp_path / k), "", regex=False)
    assert len(b) >= 3 and rerun.n_total == clean.n_total
    pd.testing.assert_frame_equal(a, b)
