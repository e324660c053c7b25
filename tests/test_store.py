"""The index store under faults: damaged chunks found and named, old stores still open, one writer.

The stores here are written from made-up scores (no classifier), so every test takes seconds;
tests/test_pipeline.py runs the same faults through `aurora-sw score`.
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.schema import GEOMETRY, INDEX_NAMES, KEOGRAM_ROWS
from aurora_sw.index.store import _mark, check_index, init_store, open_index, open_keogram, write_night, writer_lock

NIGHTS = ("2024-02-05", "2024-02-06")


def scored_frames(night: str, seed: int, n: int = 300) -> pd.DataFrame:
    """Manifest rows with scores, as `score` hands them to the store: one frame a minute from 03 UTC."""
    rng = np.random.default_rng(seed)
    t = pd.Timestamp(night, tz="UTC") + pd.Timedelta(hours=27) + pd.to_timedelta(np.arange(n), "min")
    df = pd.DataFrame({"time_utc": t, "night": night, "flags": "", "p_aurora": rng.random(n), "sun_class": "Night", "moon_class": "NoMoon"})
    for name in (*INDEX_NAMES, *GEOMETRY):
        df[name] = rng.random(n)
    df["sun_alt"] = -20.0
    df["meridian"] = list(rng.integers(0, 255, (n, KEOGRAM_ROWS, 3), dtype=np.uint8))
    return df


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "index.zarr"
    init_store(path, NIGHTS[0], NIGHTS[-1], 0.5, {"model_sha256": "test"})
    for i, night in enumerate(NIGHTS):
        write_night(path, night, scored_frames(night, i))
    return path


@pytest.fixture
def store(written, tmp_path):
    """A fresh copy of the two-night store, to damage."""
    return shutil.copytree(written, tmp_path / "index.zarr")


def aurora_sw(*args):
    return subprocess.run([sys.executable, "-m", "aurora_sw", *map(str, args)], capture_output=True, text=True, timeout=240)


def one_error_line(res) -> str:
    """The one line a user error prints (exit 1, no traceback)."""
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aurora-sw: error: "), res.stderr
    return lines[0]


def row(stdout: str, night: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(night))


def test_a_written_store_checks_ok_with_its_frame_counts(written):
    report = check_index(written)
    assert list(report.index) == list(NIGHTS)
    assert (report["status"] == "ok").all() and (report["frames"] == 300).all()
    res = aurora_sw("check", "--index", written)
    assert res.returncode == 0, res.stderr
    assert "2 ok" in res.stdout


def test_a_deleted_chunk_is_a_damaged_night_not_zero_frames(store):
    (store / "p_aurora" / "c" / "0").unlink()  # the first night's chunk
    res = aurora_sw("check", "--index", store)
    assert NIGHTS[0] in one_error_line(res)
    assert re.search(r"damaged\s+300\s+p_aurora$", row(res.stdout, NIGHTS[0]))  # named: night, variable, what it held
    assert row(res.stdout, NIGHTS[1]).split()[1] == "ok"

    res = aurora_sw("summary", "--index", store)
    assert NIGHTS[0] in one_error_line(res)
    assert row(res.stdout, NIGHTS[0]).split()[-1] == "damaged" and "<NA>" in row(res.stdout, NIGHTS[0])  # no frame count claimed
    assert row(res.stdout, NIGHTS[1]).split()[1] == "300"

    ds = open_index(store)
    assert ds.attrs["nights_damaged"] == NIGHTS[0] and "p_aurora" in ds.attrs["damage"]
    first = ds.sel(time=slice(None, f"{NIGHTS[1]}T17:59")).load()
    assert first["p_aurora"].isnull().all() and (first["aurora"] == -1).all() and first["night"].isnull().all()  # left out whole
    assert int(ds["p_aurora"].notnull().sum()) == 300


def test_corrupted_chunk_bytes_give_one_line(store):
    chunk = store / "aurora" / "c" / "1"
    data = bytearray(chunk.read_bytes())
    data[8:40] = b"\xff" * 32  # overwritten in place, as a bad disk block would
    chunk.write_bytes(bytes(data))
    res = aurora_sw("summary", "--index", store)
    assert NIGHTS[1] in one_error_line(res)
    assert row(res.stdout, NIGHTS[1]).split()[-1] == "damaged"
    res = aurora_sw("check", "--index", store)
    one_error_line(res)
    assert row(res.stdout, NIGHTS[1]).split()[-1] == "aurora"
    healthy = open_index(store).sel(time=slice(None, f"{NIGHTS[1]}T17:59")).load()  # the other night reads as before
    assert int(healthy["aurora"].isin([0, 1]).sum()) == 300


def test_a_damaged_keogram_is_refused_not_drawn(store):
    chunk = next(p for p in (store / "keogram" / "keogram" / "c").rglob("*") if p.is_file() and p.parts[-3] == "0")
    chunk.write_bytes(chunk.read_bytes()[:-50])  # cut short
    assert check_index(store).loc[NIGHTS[0], "damaged"] == "keogram"
    with pytest.raises(AuroraSWError, match=f"keogram of night {NIGHTS[0]} is damaged"):
        open_keogram(store, NIGHTS[0])
    assert open_keogram(store, NIGHTS[1]).sizes["time"] == 300


def test_a_store_from_before_checksums_opens_as_unverified(store):
    for name in ("night_digest", "night_frames"):  # what a store written before this change lacks
        shutil.rmtree(store / name)
    res = aurora_sw("check", "--index", store)
    assert res.returncode == 0, res.stderr
    assert "2 unverified" in res.stdout
    res = aurora_sw("summary", "--index", store)
    assert res.returncode == 0, res.stderr
    assert row(res.stdout, NIGHTS[0]).split()[-1] == "unverified"
    ds = open_index(store)
    assert ds.attrs["nights_unverified"] == ",".join(NIGHTS) and int(ds["p_aurora"].notnull().sum()) == 600


def test_summary_of_a_store_with_no_complete_night_is_one_line(tmp_path):
    init_store(tmp_path / "empty.zarr", NIGHTS[0], NIGHTS[-1], 0.5, {})
    assert "no complete night" in one_error_line(aurora_sw("summary", "--index", tmp_path / "empty.zarr"))
    res = aurora_sw("check", "--index", tmp_path / "empty.zarr")
    assert res.returncode == 0 and "2 incomplete" in res.stdout


def test_correlate_leaves_a_damaged_night_out_and_says_so(store, small_archive, tmp_path):
    hidden = shutil.copytree(store, tmp_path / "hidden.zarr")
    _mark(hidden, 0, done=False)  # the same night simply not there
    (store / "p_aurora" / "c" / "0").unlink()

    def correlate(index):
        return aurora_sw("correlate", "--index", index, "--vars", "bz_gsm", "--lags", "-30:30:10", "--no-granger", "--offline",
                         "--cache", small_archive.omni_dir, "--kp-cache", small_archive.kp_dir, "--out", tmp_path / index.stem)

    damaged, missing = correlate(store), correlate(hidden)
    assert damaged.returncode == 0 and missing.returncode == 0, damaged.stderr + missing.stderr
    assert re.search(rf"damaged night\(s\) left out: {NIGHTS[0]}: p_aurora", damaged.stderr)
    result = [line for line in damaged.stdout.splitlines() if line.startswith("bz_gsm")]
    assert result and result == [line for line in missing.stdout.splitlines() if line.startswith("bz_gsm")]  # not read as data


def test_a_second_writer_stops_at_once_naming_the_first(written):
    with writer_lock(written):
        res = subprocess.run(
            [sys.executable, "-c", f"from aurora_sw.index.store import writer_lock\nwith writer_lock({str(written)!r}): pass"],
            capture_output=True, text=True, timeout=60,
        )
    assert res.returncode == 1 and "LockedError" in res.stderr  # an AuroraSWError: one line in the CLI
    assert f"being written by pid {os.getpid()}" in res.stderr
    with writer_lock(written):  # released, and free again
        pass


def test_rewriting_a_night_keeps_it_verified(store):
    write_night(store, NIGHTS[1], scored_frames(NIGHTS[1], 7, n=200))
    report = check_index(store)
    assert (report["status"] == "ok").all() and list(report["frames"]) == [300, 200]
    second = open_index(store)["p_aurora"].sel(time=slice(f"{NIGHTS[1]}T18:00", None)).values
    np.testing.assert_array_equal(second[~np.isnan(second)], scored_frames(NIGHTS[1], 7, n=200)["p_aurora"])
