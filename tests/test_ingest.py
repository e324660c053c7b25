import shutil
from pathlib import Path

import pandas as pd

from aurora_sw.ingest import ingest, read_manifest
from aurora_sw.ingest.manifest import MANIFEST_COLUMNS


def test_ingest_is_idempotent_and_complete(small_archive, tmp_path, catalog):
    s1 = ingest([small_archive.frames_dir], tmp_path / "arch", catalog, progress=False)
    assert s1.n_added == small_archive.n_frames and not s1.problems
    s2 = ingest([small_archive.frames_dir], tmp_path / "arch", catalog, progress=False)
    assert s2.n_added == 0 and s2.n_total == s1.n_total
    m = read_manifest(tmp_path / "arch")
    assert list(m.columns) == MANIFEST_COLUMNS
    assert m.time_utc.is_monotonic_increasing and m.time_utc.dt.tz is not None
    assert set(m.night) == set(small_archive.nights)
    assert (m.sun_alt <= -7.9).all()  # the synthetic camera records below -8 deg


def test_bad_files_are_reported_and_the_rest_kept(small_archive, tmp_path, catalog):
    src = tmp_path / "frames"
    shutil.copytree(small_archive.frames_dir / small_archive.nights[0], src)
    (src / "20240206T200000Z.jpg").write_bytes(b"")  # zero bytes
    (src / "20240206T200100Z.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (src / "holiday_photo.jpg").write_bytes((src / sorted(p.name for p in src.iterdir())[0]).read_bytes())
    s = ingest([src], tmp_path / "arch", catalog, progress=False)
    problems = {p["path"].rsplit("/", 1)[-1]: p["problem"] for p in s.problems}
    assert "no UTC time" in problems["holiday_photo.jpg"]
    assert "unreadable" in problems["20240206T200000Z.jpg"] and "unreadable" in problems["20240206T200100Z.jpg"]
    m = read_manifest(tmp_path / "arch")
    assert len(m) == len(list((small_archive.frames_dir / small_archive.nights[0]).iterdir()))
    assert (tmp_path / "arch" / "ingest_problems.csv").exists()


def test_one_frame_per_minute_from_denser_frames(tmp_path, small_archive, catalog):
    src = tmp_path / "dense"
    src.mkdir()
    first = sorted((small_archive.frames_dir / small_archive.nights[0]).iterdir())[0]
    t0 = pd.Timestamp("2024-02-06T05:00:00Z")
    for k in range(30):  # 3 minutes at 6 s cadence
        (src / (t0 + pd.Timedelta(seconds=6 * k)).strftime("%Y%m%dT%H%M%SZ.jpg")).write_bytes(first.read_bytes())
    s = ingest([src], tmp_path / "arch", catalog, progress=False)
    m = read_manifest(tmp_path / "arch")
    assert len(m) == 3 and s.n_added == 3
    assert m["flags"].iloc[1:].str.contains("duplicate").all()  # identical images flagged


def test_a_moved_project_keeps_its_frames(small_archive, tmp_path, catalog):
    project = tmp_path / "project"
    shutil.copytree(small_archive.frames_dir, project / "frames")
    ingest([project / "frames"], project / "archive", catalog, progress=False)
    stored = pd.read_parquet(project / "archive" / "manifest.parquet")["path"]
    assert not any(Path(p).is_absolute() for p in stored)  # relative to the manifest's folder
    shutil.move(project, tmp_path / "moved")
    m = read_manifest(tmp_path / "moved" / "archive")
    assert all(Path(p).is_absolute() and Path(p).exists() for p in m["path"])
    assert all(str(tmp_path / "moved") in p for p in m["path"])
