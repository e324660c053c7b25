"""Scoring an archive into the index store: kill and resume, partial nights hidden, bad frames, Dask, and
the faults a user met: --out at a foreign folder, a mislabelled checkpoint, two writers, a damaged night."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import xarray as xr

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.pipeline import score_archive
from aurora_sw.index.store import _mark, check_index, done_nights, open_index, partial_path, write_night
from aurora_sw.ingest import ingest
from aurora_sw.model import Checkpoint, create_model, load_checkpoint, save_checkpoint
from test_score import decoder_threads
from test_store import aurora_sw, one_error_line  # the same CLI runs as the store's tests

VARS = ["p_aurora", "aurora", "green_excess", "aurora_area", "sun_alt", "sun_class", "flags", "night"]


#: The archive here keeps every STEP-th minute of the small archive: every fault below scores it
#: again (some twice), and half the frames tests the same paths in half the time.
STEP = 2


@pytest.fixture(scope="module")
def setup(small_archive, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    for night in small_archive.nights:
        (root / "frames" / night).mkdir(parents=True)
        for f in sorted((small_archive.frames_dir / night).iterdir())[::STEP]:
            shutil.copy(f, root / "frames" / night)
    ingest([root / "frames"], root / "arch", progress=False)
    torch.manual_seed(0)
    model = create_model("efficientnet_b1")
    with torch.no_grad():
        model.get_classifier().weight.normal_(0, 0.05)  # not all 0.5: a real spread of probabilities
    ckpt = save_checkpoint(Checkpoint("efficientnet_b1", model.state_dict(), 32), root / "model.pt")
    clean = score_archive(root / "arch", ckpt, root / "clean.zarr", progress=False)
    return root, ckpt, clean


def test_store_is_chunked_by_night_and_complete(setup, small_archive):
    root, _, clean = setup
    n_frames = sum(len(list((root / "frames" / night).iterdir())) for night in small_archive.nights)
    assert clean["scored"] == list(small_archive.nights) and clean["frames"] == n_frames > small_archive.n_frames // STEP - 2
    assert xr.open_zarr(root / "clean.zarr", consolidated=False)["p_aurora"].encoding["chunks"] == (1440,)  # one chunk a night
    ds = open_index(root / "clean.zarr")
    assert int(ds["p_aurora"].notnull().sum()) == n_frames
    assert ds.attrs["model_sha256"]


def started_until_a_night_is_done(cmd: list[str], new, **popen) -> subprocess.Popen:
    """`cmd` (a `score`) started, once its new store ``new`` holds a complete night (or it ended)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, **popen)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if new.exists() and "night_done" in os.listdir(new) and done_nights(new):
            break
        time.sleep(0.1)
    return proc


def test_killed_run_resumed_equals_a_clean_run(setup):
    root, ckpt, _ = setup
    store = root / "killed.zarr"
    new = partial_path(store)  # a fresh run builds the new index beside the store
    cmd = [sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(ckpt), "--out", str(store)]
    proc = started_until_a_night_is_done(cmd, new, stderr=subprocess.DEVNULL)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(done_nights(new)) == 1  # killed between nights: one complete, one not
    assert not store.exists()  # nothing at --out until the new index is complete
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert "1 already complete" in res.stdout
    assert not new.exists()
    a = open_index(store)[VARS].load()
    b = open_index(root / "clean.zarr")[VARS].load()
    xr.testing.assert_equal(a, b)


def test_a_run_stopped_with_ctrl_c_says_what_is_kept_and_how_to_go_on(setup):
    """Ctrl-C ended `score` with exit code 130 and no word (Typer swallowed the interrupt): now one
    line says the complete nights are kept and that --resume goes on, which it does."""
    root, ckpt, _ = setup
    store = root / "interrupted.zarr"
    new = partial_path(store)
    cmd = [sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(ckpt), "--out", str(store)]
    with open(root / "interrupted.err", "w+") as log:  # a file, not a pipe: the progress bar never blocks on it
        proc = started_until_a_night_is_done(cmd, new, stderr=log)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        log.seek(0)
        err = log.read()
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("aurora-sw:")]
    # 130, or ended by SIGINT itself (-2, which a shell reports as 130 too): the interpreter ends so, after
    # the same line, when the interrupt lands in some libraries' imports (seen 2.2-2.4 s into a run)
    assert proc.returncode in (130, -signal.SIGINT) and "Traceback" not in err, err[-2000:]
    assert lines == ["aurora-sw: interrupted; the nights scored completely so far are kept: run the same command with --resume to score the rest"]
    kept = len(done_nights(new))
    assert kept >= 1 and not store.exists()
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0 and f"{kept} already complete" in res.stdout, res.stderr
    xr.testing.assert_equal(open_index(store)[VARS].load(), open_index(root / "clean.zarr")[VARS].load())


def test_score_never_replaces_what_is_not_an_index(setup, tmp_path):
    root, ckpt, _ = setup
    folder = tmp_path / "archive"  # as reported: `--out archive` deleted the manifest
    folder.mkdir()
    shutil.copy(root / "arch" / "manifest.parquet", folder)
    manifest = (folder / "manifest.parquet").read_bytes()
    line = one_error_line(aurora_sw("score", "--archive", root / "arch", "--model", ckpt, "--out", folder))
    assert f"{folder}: is a folder with other files, not an aurora-sw index store" in line
    assert (folder / "manifest.parquet").read_bytes() == manifest and os.listdir(folder) == ["manifest.parquet"]
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    assert "is a file" in one_error_line(aurora_sw("score", "--archive", root / "arch", "--model", ckpt, "--out", notes))
    assert notes.read_text() == "keep me" and sorted(os.listdir(tmp_path)) == ["archive", "notes.txt"]  # nothing written beside


def test_a_checkpoint_that_does_not_fit_its_model_leaves_the_index_intact(setup, tmp_path):
    root, ckpt_path, _ = setup
    index = shutil.copytree(root / "clean.zarr", tmp_path / "index.zarr")
    wrong = load_checkpoint(ckpt_path)
    wrong.model_name = "efficientnet_b0"  # B1 weights labelled B0
    save_checkpoint(wrong, tmp_path / "b0.pt")
    line = one_error_line(aurora_sw("score", "--archive", root / "arch", "--model", tmp_path / "b0.pt", "--out", index))
    assert f"{tmp_path / 'b0.pt'}: its weights do not fit efficientnet_b0" in line
    assert (check_index(index)["status"] == "ok").all()
    xr.testing.assert_equal(open_index(index)[VARS].load(), open_index(root / "clean.zarr")[VARS].load())


def test_two_concurrent_score_runs_one_writes_the_other_names_it(setup, tmp_path):
    root, ckpt, _ = setup
    store = tmp_path / "index.zarr"
    cmd = [sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(ckpt), "--out", str(store)]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(codes) == [0, 1], outputs
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    lines = outputs[loser][1].strip().splitlines()
    assert len(lines) == 1 and f"being written by pid {runs[winner].pid}" in lines[0], outputs[loser][1]
    assert (check_index(store)["status"] == "ok").all()
    xr.testing.assert_equal(open_index(store)[VARS].load(), open_index(root / "clean.zarr")[VARS].load())


def test_a_damaged_night_is_named_and_resume_re_scores_it(setup, small_archive, tmp_path):
    root, ckpt, _ = setup
    store = shutil.copytree(root / "clean.zarr", tmp_path / "index.zarr")
    night = small_archive.nights[0]
    (store / "p_aurora" / "c" / "0").unlink()  # as reported: `summary` then said 0 frames, exit 0
    res = aurora_sw("check", "--index", store)
    assert night in one_error_line(res)
    assert re.search(rf"^{night}\s+damaged\s+\d+\s+p_aurora$", res.stdout, re.M)
    res = aurora_sw("score", "--archive", root / "arch", "--model", ckpt, "--out", store, "--resume")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("1 nights scored") and "1 already complete" in res.stdout  # only the damaged one
    assert (check_index(store)["status"] == "ok").all()
    xr.testing.assert_equal(open_index(store)[VARS].load(), open_index(root / "clean.zarr")[VARS].load())


def test_a_run_that_fails_midway_leaves_the_old_index(setup, small_archive, tmp_path, monkeypatch):
    """A write that fails (a full disk; a store removed by hand makes Zarr raise KeyError) stops the
    run with one line naming the night and --resume, leaves the old index whole, and the resumed run
    keeps the nights written before it."""
    import aurora_sw.index.pipeline as pipeline

    root, ckpt, _ = setup
    store = shutil.copytree(root / "clean.zarr", tmp_path / "index.zarr")
    before = open_index(store)[VARS].load()
    real = pipeline.score_night

    def disk_full_on_the_second_night(frames, ckpt, target, night, *args, **kwargs):
        if night == small_archive.nights[1]:
            raise OSError("No space left on device")
        return real(frames, ckpt, target, night, *args, **kwargs)

    monkeypatch.setattr(pipeline, "score_night", disk_full_on_the_second_night)
    with pytest.raises(AuroraSWError, match=f"writing night {small_archive.nights[1]} failed \\(OSError: No space left on device\\).*--resume") as failed:
        score_archive(root / "arch", ckpt, store, progress=False)
    assert isinstance(failed.value.__cause__, OSError)
    xr.testing.assert_equal(open_index(store)[VARS].load(), before)  # the old index, whole
    assert done_nights(partial_path(store)) == {small_archive.nights[0]}
    monkeypatch.undo()
    r = score_archive(root / "arch", ckpt, store, resume=True, progress=False)  # continues the new one, then swaps it in
    assert r["skipped"] == [small_archive.nights[0]] and r["scored"] == [small_archive.nights[1]]
    assert not partial_path(store).exists() and (check_index(store)["status"] == "ok").all()


def test_a_failed_write_stops_the_decoding_even_while_the_error_is_kept(setup, small_archive, tmp_path, monkeypatch):
    """The first night's write fails while the read-ahead thread is still decoding the next night:
    the run closes its decoding as it stops, so a caller that keeps the error (a notebook, a Dask
    worker) keeps no thread and no decoded batches with it."""
    import pandas as pd

    import aurora_sw.index.pipeline as pipeline
    from aurora_sw.ingest import read_manifest

    root, ckpt, _ = setup
    # Three nights (the second one's last half relabelled as a third): the first night's failed write is
    # seen when the second has been scored, while the thread decodes the third.
    manifest = read_manifest(root / "arch")
    second = manifest.index[manifest["night"] == small_archive.nights[1]]
    third = str((pd.Timestamp(small_archive.nights[1]) + pd.Timedelta(days=1)).date())
    manifest.loc[second[len(second) // 2:], "night"] = third
    (tmp_path / "arch3").mkdir()
    manifest.to_parquet(tmp_path / "arch3" / "manifest.parquet")

    def fails(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(pipeline, "score_night", fails)
    kept = []
    try:
        score_archive(tmp_path / "arch3", ckpt, tmp_path / "index.zarr", batch_size=1, progress=False)
    except AuroraSWError as exc:
        kept.append(exc)
    assert kept and small_archive.nights[0] in str(kept[0])
    assert not decoder_threads()


def test_readers_never_see_a_night_that_is_not_done(setup, small_archive):
    root, _, _ = setup
    shutil.copytree(root / "clean.zarr", root / "partial.zarr")
    _mark(root / "partial.zarr", 1, done=False)  # as if the second night were being rewritten
    ds = open_index(root / "partial.zarr").load()
    second = ds["night"] == np.datetime64(small_archive.nights[1])
    assert int(second.sum()) == 0 and 0 < int(ds["p_aurora"].notnull().sum()) < int(open_index(root / "clean.zarr")["p_aurora"].notnull().sum())


def test_a_corrupt_frame_is_flagged_not_fatal(setup, tmp_path):
    root, ckpt, _ = setup
    from aurora_sw.ingest import read_manifest

    m = read_manifest(root / "arch")
    victim = m["path"].iloc[10]
    backup = open(victim, "rb").read()
    try:
        open(victim, "wb").write(backup[:200])  # truncated after ingest
        r = score_archive(root / "arch", ckpt, tmp_path / "s.zarr", progress=False)
    finally:
        open(victim, "wb").write(backup)
    assert r["unreadable"] == 1 and r["frames"] == len(m) - 1
    ds = open_index(tmp_path / "s.zarr").load()
    t = np.datetime64(m["time_utc"].iloc[10].tz_localize(None).floor("1min"))
    assert np.isnan(float(ds["p_aurora"].sel(time=t))) and int(ds["flags"].sel(time=t)) & 1  # the 'unreadable' bit


def test_dask_gives_the_same_index(setup, tmp_path):
    root, ckpt, _ = setup
    from dask.distributed import Client, LocalCluster

    with Client(LocalCluster(processes=False, n_workers=2, threads_per_worker=1)) as client:
        r = score_archive(root / "arch", ckpt, tmp_path / "dask.zarr", client=client, progress=False)
    assert sorted(r["scored"]) == r["scored"] or len(r["scored"]) == 2
    xr.testing.assert_allclose(open_index(tmp_path / "dask.zarr")[VARS[:5]].load(), open_index(root / "clean.zarr")[VARS[:5]].load())


def test_keogram_puts_a_northern_arc_in_the_north(tmp_path):
    import cv2
    import pandas as pd

    from aurora_sw.index.keogram import keogram

    rows = []
    for i in range(5):
        img = np.full((180, 180, 3), 25, np.uint8)
        cv2.line(img, (20, 30 + 5 * i), (160, 30 + 5 * i), (30, 160, 40), 5)  # an arc moving south
        path = tmp_path / f"{i}.jpg"
        cv2.imwrite(str(path), img[..., ::-1])
        rows.append({"time_utc": pd.Timestamp("2024-02-06T05:00Z") + pd.Timedelta(minutes=i), "path": str(path)})
    keo = keogram(pd.DataFrame(rows))
    green = keo.sel(channel="G")
    peak = green.idxmax("meridian_angle").values
    np.testing.assert_allclose(peak, [30, 35, 40, 45, 50], atol=3)  # where the arcs were drawn: north of the zenith
    assert (np.diff(peak) > 0).all()  # drifting towards the zenith


def test_arc_shape_indices():
    import cv2

    from aurora_sw.index.physical import frame_indices
    from aurora_sw.index.schema import INDEX_NAMES

    def shape(draw):
        img = np.full((180, 180, 3), 30, np.uint8)
        draw(img)
        v = dict(zip(INDEX_NAMES, frame_indices(img)))
        return v["arc_orientation"], v["arc_elongation"], v["arc_curvature"]

    o, e, c = shape(lambda im: cv2.line(im, (20, 90), (160, 90), (30, 120, 30), 6))
    assert o == pytest.approx(90, abs=1) and e > 5 and abs(c) < 0.05  # an east-west arc, straight
    o, _, _ = shape(lambda im: cv2.line(im, (90, 20), (90, 160), (30, 120, 30), 6))
    assert min(o, 180 - o) < 1  # north-south
    _, _, c = shape(lambda im: cv2.ellipse(im, (90, 160), (80, 80), 0, 180, 360, (30, 120, 30), 6))
    assert c < -0.5  # bent, its middle north of its ends: negative (the sign is physical.arc_shape's convention)
    _, _, c = shape(lambda im: cv2.ellipse(im, (90, 20), (80, 80), 0, 0, 180, (30, 120, 30), 6))
    assert c > 0.5  # bulging south
    assert np.isnan(shape(lambda im: None)[0])  # no aurora, no shape


def test_night_area_and_cam_statistics_are_stored(setup, tmp_path):
    root, ckpt_path, _ = setup
    ckpt = load_checkpoint(ckpt_path)
    probs = open_index(root / "clean.zarr")["p_aurora"].values
    ckpt.threshold = float(np.nanquantile(probs, 0.9))  # a tenth of the frames count as aurora (CAM runs on those only)
    score_archive(root / "arch", ckpt, tmp_path / "cam.zarr", progress=False, cam=True)
    ds = open_index(tmp_path / "cam.zarr")
    has_frame = ds["aurora"].values >= 0
    is_aurora = ds["aurora"].values == 1
    assert 0 < is_aurora.sum() < has_frame.sum()
    for name in ("cam_fraction_above_0_5", "cam_centroid_elevation"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
        computed = np.isfinite(ds[name].values)
        assert (computed == is_aurora).all(), name  # computed exactly for the aurora frames
    elevation = ds["cam_centroid_elevation"].values[is_aurora]
    assert np.all((elevation >= 0) & (elevation <= 90))
    area = ds["aurora_area_night"].values[has_frame]  # the per-night background model, every frame
    assert np.isfinite(area).all() and np.all((area >= 0) & (area <= 1))
    assert ds.attrs["inference_backend"] == "onnx"
    assert ds.attrs["frame_decode"] == "cpu"  # the default (--decode gpu is opt-in)
    assert (ds.attrs["site"], ds.attrs["site_lat_deg"], ds.attrs["site_lon_deg"]) == ("yellowknife", 62.4333, -114.35)  # whose MLT: ds.aurora.site


def test_stored_keogram_matches_the_frames_and_hides_unfinished_nights(setup, small_archive, tmp_path):
    import pandas as pd

    from aurora_sw.errors import AuroraSWError
    from aurora_sw.index.keogram import keogram
    from aurora_sw.index.schema import KEOGRAM_ROWS
    from aurora_sw.index.store import open_keogram
    from aurora_sw.ingest import read_manifest

    root, _, _ = setup
    night = small_archive.nights[0]
    frames = read_manifest(root / "arch").query("night == @night")
    stored = open_keogram(root / "clean.zarr", night)
    assert stored.sizes["meridian_angle"] == KEOGRAM_ROWS
    assert int(stored.notnull().all(["meridian_angle", "channel"]).sum()) == len(frames)  # a row per frame, NaN between
    direct = keogram(frames, size=KEOGRAM_ROWS)  # decoded again from the JPEGs
    minutes = pd.DatetimeIndex(direct["time"].values).floor("1min")
    same = stored.sel(time=minutes).values
    assert np.abs(same - direct.values).mean() < 3.0  # DN
    assert np.corrcoef(same[..., 1].ravel(), direct.values[..., 1].ravel())[0, 1] > 0.95

    copy = tmp_path / "copy.zarr"
    shutil.copytree(root / "clean.zarr", copy)
    _mark(copy, 0, done=False)  # a night being rewritten: its keogram is hidden with it
    with pytest.raises(AuroraSWError, match="no scored frames"):
        open_keogram(copy, night)

    old = tmp_path / "old.zarr"  # a store scored before keograms were stored
    shutil.copytree(root / "clean.zarr", old)
    shutil.rmtree(old / "keogram")
    assert open_keogram(old, night) is None
    from aurora_sw.index.schema import INDEX_NAMES

    write_night(old, night, frames.assign(p_aurora=0.5, **dict.fromkeys(INDEX_NAMES, 0.0)))  # re-writing a night of it still works
    assert night in done_nights(old) and open_keogram(old, night) is None


def test_the_nights_share_one_set_of_decoding_workers_and_score_as_each_alone(setup, small_archive, tmp_path, monkeypatch):
    """`score` decodes every night through one DataLoader (its worker processes start once, not once a
    night: on a GPU that start-up was most of a night's time), in batches that never span two nights,
    so each night's values are bit for bit what scoring that night alone gives."""
    import aurora_sw.index.score as score_module
    from aurora_sw.index.score import score_frames
    from aurora_sw.ingest import read_manifest

    root, ckpt_path, _ = setup
    made = []
    real = score_module.DataLoader
    monkeypatch.setattr(score_module, "DataLoader", lambda *a, **k: made.append(k.get("num_workers")) or real(*a, **k))
    score_archive(root / "arch", ckpt_path, tmp_path / "index.zarr", num_workers=2, batch_size=7, progress=False)
    assert made == [2]  # one DataLoader, two workers, for both nights
    stored = open_index(tmp_path / "index.zarr").load()
    manifest = read_manifest(root / "arch")
    ckpt = load_checkpoint(ckpt_path)
    for night in small_archive.nights:
        frames = manifest[manifest["night"] == night].sort_values("time_utc")
        alone = score_frames(list(frames["path"]), ckpt, batch_size=7, progress=False)
        minutes = frames["time_utc"].dt.tz_convert(None).dt.floor("1min").to_numpy()
        assert np.array_equal(stored["p_aurora"].sel(time=minutes).values, alone["p_aurora"].to_numpy(), equal_nan=True), night
        assert np.array_equal(stored["aurora_area_night"].sel(time=minutes).values, alone["aurora_area_night"].to_numpy(), equal_nan=True), night


def test_with_the_graph_cached_score_skips_timm_and_still_refuses_reshaped_weights(setup, tmp_path):
    """A graph cached for these weights (architecture, hash, shapes) stands for the weight check:
    `score` then never imports timm (~2 s of every start). Weights with the same bytes and names
    but another shape (same sha256) find no cached graph and are refused as before."""
    root, ckpt_path, _ = setup
    probe = (
        "import sys\nfrom aurora_sw.index.pipeline import score_archive\n"
        f"score_archive({str(root / 'arch')!r}, {str(ckpt_path)!r}, sys.argv[1], progress=False)\n"
        "print('timm' in sys.modules)"
    )
    env = {**os.environ, "AURORA_SW_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", probe, str(tmp_path / f"i{k}.zarr")], capture_output=True, text=True, env=env) for k in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert [r.stdout.split()[-1] for r in runs] == ["True", "False"]  # the first run exports (timm builds the model), the second does not
    xr.testing.assert_equal(open_index(tmp_path / "i1.zarr")[VARS].load(), open_index(root / "clean.zarr")[VARS].load())
    reshaped = load_checkpoint(ckpt_path)
    key = next(k for k, v in reshaped.state_dict.items() if v.dim() == 4 and v.shape[0] > 1)
    reshaped.state_dict[key] = reshaped.state_dict[key].reshape(1, -1, *reshaped.state_dict[key].shape[2:]).contiguous()
    assert reshaped.sha256 == load_checkpoint(ckpt_path).sha256  # the weights' hash alone cannot tell them apart
    save_checkpoint(reshaped, tmp_path / "reshaped.pt")
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(tmp_path / "reshaped.pt"),
                          "--out", str(tmp_path / "r.zarr")], capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "its weights do not fit efficientnet_b1" in res.stderr and not (tmp_path / "r.zarr").exists()
    relabelled = load_checkpoint(ckpt_path)  # the same weights (a 2-class head) named a morphology model's 6 classes
    relabelled.classes = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
    save_checkpoint(relabelled, tmp_path / "relabelled.pt")
    res = subprocess.run([sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(tmp_path / "relabelled.pt"),
                          "--out", str(tmp_path / "c.zarr")], capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "its weights do not fit efficientnet_b1" in res.stderr and not (tmp_path / "c.zarr").exists()
