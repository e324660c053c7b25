import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError
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
    problems = {p.path.rsplit("/", 1)[-1]: p.problem for p in s.problems}
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


def copy_frames(small_archive, dst: Path, n: int = 30, night: int = 0) -> list[Path]:
    """The first ``n`` frames of a night copied into ``dst``."""
    dst.mkdir(parents=True)
    frames = sorted((small_archive.frames_dir / small_archive.nights[night]).iterdir())[:n]
    for f in frames:
        shutil.copy(f, dst / f.name)
    return sorted(dst.iterdir())


def spoil(frames: list[Path]) -> dict[str, str]:
    """Three frames spoiled as the issue found them: cut to 40 % of its bytes, 1x1 px, greyscale."""
    import cv2

    cut, tiny, grey = frames[5], frames[6], frames[7]
    cut.write_bytes(cut.read_bytes()[: int(0.4 * cut.stat().st_size)])
    cv2.imwrite(str(tiny), cv2.imread(str(tiny))[:1, :1])
    cv2.imwrite(str(grey), cv2.cvtColor(cv2.imread(str(grey)), cv2.COLOR_BGR2GRAY))
    return {cut.name: "truncated", tiny.name: "too_small", grey.name: "greyscale"}


def test_truncated_tiny_and_greyscale_frames_are_flagged_and_listed(small_archive, tmp_path, catalog):
    frames = copy_frames(small_archive, tmp_path / "frames")
    spoiled = spoil(frames)
    s = ingest([tmp_path / "frames"], tmp_path / "arch", catalog, progress=False)
    m = read_manifest(tmp_path / "arch")
    assert len(m) == len(frames) and s.n_added == len(frames)  # the minutes stay on the time axis
    flags = {Path(p).name: set(f.split(",")) for p, f in zip(m["path"], m["flags"])}
    for name, reason in spoiled.items():
        assert reason in flags[name]
    bad = {"truncated", "too_small", "greyscale", "unreadable"}
    assert not any(flags[f.name] & bad for f in frames if f.name not in spoiled)
    assert s.problem_counts == {"truncated": 1, "too_small": 1, "greyscale": 1}
    assert {Path(p.path).name: p.reason for p in s.problems} == spoiled


def test_ingest_command_counts_bad_frames_and_reruns_keep_the_problem_list(small_archive, tmp_path):
    frames = copy_frames(small_archive, tmp_path / "frames")
    spoil(frames)
    (tmp_path / "frames" / "holiday_photo.jpg").write_bytes(frames[0].read_bytes())
    cmd = [sys.executable, "-m", "aurora_sw", "ingest", str(tmp_path / "frames"), "--out", str(tmp_path / "arch")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert f"{len(frames)} frames added" in first.stdout
    assert "4 problems (" in first.stdout
    for count in ("truncated 1", "too_small 1", "greyscale 1", "no_time 1"):
        assert count in first.stdout
    listed = pd.read_csv(tmp_path / "arch" / "ingest_problems.csv")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "0 frames added" in again.stdout and "truncated 1" in again.stdout
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "arch" / "ingest_problems.csv"), listed)  # not appended twice
    assert len(listed) == 4 and set(listed["reason"]) == {"truncated", "too_small", "greyscale", "no_time"}


def test_a_frame_repaired_in_place_loses_its_flag_and_its_problem(small_archive, tmp_path, catalog):
    frames = copy_frames(small_archive, tmp_path / "frames", n=10)
    whole = frames[5].read_bytes()
    frames[5].write_bytes(whole[: int(0.4 * len(whole))])
    ingest([tmp_path / "frames"], tmp_path / "arch", catalog, progress=False)
    frames[5].write_bytes(whole)  # fetched again
    s = ingest([tmp_path / "frames"], tmp_path / "arch", catalog, progress=False)
    m = read_manifest(tmp_path / "arch")
    assert not s.problems and not m["flags"].str.contains("truncated").any()
    assert pd.read_csv(tmp_path / "arch" / "ingest_problems.csv").empty


def test_the_same_frames_from_a_second_folder_add_no_minutes(small_archive, tmp_path, catalog):
    frames = copy_frames(small_archive, tmp_path / "a", n=20)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    first = ingest([tmp_path / "a"], tmp_path / "arch", catalog, progress=False)
    second = ingest([tmp_path / "b"], tmp_path / "arch", catalog, progress=False)
    m = read_manifest(tmp_path / "arch")
    assert first.n_added == len(frames) and second.n_added == 0 and len(m) == len(frames)
    assert m["time_utc"].is_unique and all(str(tmp_path / "a") in p for p in m["path"])  # the first stays
    assert second.problem_counts == {"duplicate_minute": len(frames)}
    both = ingest([tmp_path / "a", tmp_path / "b"], tmp_path / "together", catalog, progress=False)  # in one run
    assert both.n_added == len(frames) and both.problem_counts == {"duplicate_minute": len(frames)}
    again = ingest([tmp_path / "b"], tmp_path / "arch", catalog, progress=False)
    listed = pd.read_csv(tmp_path / "arch" / "ingest_problems.csv")
    assert again.n_added == 0 and len(listed) == len(frames) and set(listed["reason"]) == {"duplicate_minute"}


def test_two_ingests_at_once_keep_every_row(small_archive, tmp_path):
    """Two real processes into one archive: one waits for the other; no row is lost."""
    from aurora_sw.locking import writer_lock

    a = copy_frames(small_archive, tmp_path / "a", n=25, night=0)
    b = copy_frames(small_archive, tmp_path / "b", n=25, night=1)
    arch = tmp_path / "arch"
    procs = []
    with writer_lock(arch / "manifest.parquet"):  # both start while the archive is busy, so they must meet
        for src in ("a", "b"):
            err = open(tmp_path / f"{src}.err", "w+")
            cmd = [sys.executable, "-m", "aurora_sw", "ingest", str(tmp_path / src), "--out", str(arch), "--lock-timeout", "240"]
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True), err))
        deadline = time.time() + 120
        while time.time() < deadline and not all("waiting up to" in (tmp_path / f"{s}.err").read_text() for s in "ab"):
            time.sleep(0.2)
        assert all("waiting up to" in (tmp_path / f"{s}.err").read_text() for s in "ab")
        assert str(os.getpid()) in (tmp_path / "a.err").read_text()  # the holder is named
    outs = [p.communicate(timeout=240)[0] for p, _ in procs]
    assert [p.returncode for p, _ in procs] == [0, 0], [e.read() for _, e in procs]
    assert all(o.startswith("25 frames added") for o in outs)
    assert sorted(int(o.split(", ")[1].split()[0]) for o in outs) == [25, 50]  # the second saw the first's rows
    m = read_manifest(arch)
    assert len(m) == len(a) + len(b) and set(map(lambda p: Path(p).name, m["path"])) == {f.name for f in a + b}


def test_an_ingest_that_cannot_wait_stops_in_one_line_and_changes_nothing(small_archive, tmp_path, catalog):
    from aurora_sw.locking import writer_lock

    copy_frames(small_archive, tmp_path / "a", n=5)
    ingest([tmp_path / "a"], tmp_path / "arch", catalog, progress=False)
    before = (tmp_path / "arch" / "manifest.parquet").read_bytes()
    copy_frames(small_archive, tmp_path / "b", n=5, night=1)
    with writer_lock(tmp_path / "arch" / "manifest.parquet"):
        res = subprocess.run(
            [sys.executable, "-m", "aurora_sw", "ingest", str(tmp_path / "b"), "--out", str(tmp_path / "arch"), "--lock-timeout", "0"],
            capture_output=True, text=True, timeout=300,
        )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aurora-sw: error: ") and f"pid {os.getpid()}" in lines[0]
    assert (tmp_path / "arch" / "manifest.parquet").read_bytes() == before


def test_a_bad_lock_timeout_is_refused_before_anything_is_written(small_archive, tmp_path, catalog):
    copy_frames(small_archive, tmp_path / "a", n=3)
    for bad in (-1.0, float("nan")):
        with pytest.raises(AuroraSWError, match="--lock-timeout"):
            ingest([tmp_path / "a"], tmp_path / "arch", catalog, progress=False, lock_timeout_s=bad)
    assert not (tmp_path / "arch").exists()


@pytest.mark.parametrize("every_s", [0.0, -60.0, float("nan")])
def test_the_library_refuses_a_cadence_that_is_not_positive(tmp_path, every_s):
    """``ingest(every_s=0)`` from Python is refused as the CLI's ``--every 0s`` is, and makes no archive."""
    with pytest.raises(AuroraSWError, match="--every"):
        ingest([tmp_path], tmp_path / "arch", every_s=every_s, progress=False)
    assert not (tmp_path / "arch").exists()
