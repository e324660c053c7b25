"""Scoring never gives a probability to a frame the strict reader refuses: NaN, a flag, a count."""

import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from aurora_sw.index.score import score_frames
from aurora_sw.index.store import open_index
from aurora_sw.ingest import ingest, read_manifest
from aurora_sw.index.schema import FLAG_BITS
from aurora_sw.model import Checkpoint, create_model, save_checkpoint


@pytest.fixture(scope="module")
def spoiled(small_archive, tmp_path_factory):
    """An archive of 30 frames of a night, three of them spoiled after the camera wrote them, and a
    small classifier that calls every frame aurora (p ~ 1): what a grey-filled frame once got."""
    root = tmp_path_factory.mktemp("score")
    frames = root / "frames"
    frames.mkdir()
    for f in sorted((small_archive.frames_dir / small_archive.nights[0]).iterdir())[:30]:
        shutil.copy(f, frames / f.name)
    paths = sorted(frames.iterdir())
    cut, tiny, grey = paths[10], paths[11], paths[12]
    cut.write_bytes(cut.read_bytes()[: int(0.4 * cut.stat().st_size)])
    cv2.imwrite(str(tiny), cv2.imread(str(tiny))[:1, :1])
    cv2.imwrite(str(grey), cv2.cvtColor(cv2.imread(str(grey)), cv2.COLOR_BGR2GRAY))
    ingest([frames], root / "arch", progress=False)
    torch.manual_seed(0)
    model = create_model("efficientnet_b0")
    with torch.no_grad():
        model.get_classifier().weight.zero_()
        model.get_classifier().bias.copy_(torch.tensor([-8.0, 8.0]))  # confident "aurora" for any input
    ckpt = save_checkpoint(Checkpoint("efficientnet_b0", model.state_dict(), 32), root / "model.pt")
    return root, ckpt, {cut.name: "truncated", tiny.name: "too_small", grey.name: "greyscale"}


def test_score_frames_gives_nan_and_the_reason(spoiled):
    root, ckpt, bad = spoiled
    m = read_manifest(root / "arch")
    from aurora_sw.model import load_checkpoint

    out = score_frames(list(m["path"]), load_checkpoint(ckpt), progress=False)
    names = [p.rsplit("/", 1)[-1] for p in m["path"]]
    problem = dict(zip(names, out["frame_problem"]))
    assert {n: r for n, r in problem.items() if r} == bad
    p = dict(zip(names, out["p_aurora"]))
    assert all(np.isnan(p[n]) for n in bad)
    assert all(p[n] > 0.99 for n in names if n not in bad)  # the model says aurora to whatever it is shown
    assert out["readable"].sum() == len(m) - 3


def test_score_command_stores_nan_with_the_flag_and_counts_them(spoiled):
    root, ckpt, bad = spoiled
    store = root / "index.zarr"
    res = subprocess.run(
        [sys.executable, "-m", "aurora_sw", "score", "--archive", str(root / "arch"), "--model", str(ckpt), "--out", str(store)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "(27 frames, 3 unreadable)" in res.stdout
    ds = open_index(store).load()
    m = read_manifest(root / "arch")
    for path, t in zip(m["path"], m["time_utc"]):
        at = np.datetime64(t.tz_localize(None).floor("1min"))
        p, flags = float(ds["p_aurora"].sel(time=at)), int(ds["flags"].sel(time=at))
        reason = bad.get(path.rsplit("/", 1)[-1])
        if reason:
            assert np.isnan(p) and flags & FLAG_BITS[reason], (reason, p, flags)
        else:
            assert p > 0.99 and not flags & (FLAG_BITS["truncated"] | FLAG_BITS["too_small"] | FLAG_BITS["greyscale"])


def decoder_threads() -> list:
    """The read-ahead threads alive in this process (scoring's decoding beside the network)."""
    import threading

    return [t for t in threading.enumerate() if t.name == "aurora-sw-decoder"]


def test_read_ahead_keeps_the_order_runs_ahead_by_its_depth_and_raises_where_the_source_did():
    """With decoding in the scoring process, a thread decodes the next batches while the network
    runs (`read_ahead`): the caller gets every item in order, the thread runs at most `depth` items
    ahead (one more being made), and an error of the source reaches the caller after the items
    before it, at its place."""
    import time

    from aurora_sw.index.score import read_ahead

    made = []

    def source(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise OSError(f"frame {i}: disk gone")
            made.append(i)
            yield i

    assert list(read_ahead(source(50), 2)) == list(range(50))
    made.clear()
    it = read_ahead(source(50), 3)
    assert next(it) == 0
    time.sleep(0.5)  # the caller is busy (the network): the thread fills the queue meanwhile
    assert 1 + 3 <= len(made) <= 1 + 3 + 1, made  # the one handed over, `depth` queued, one waiting to be
    assert list(it) == list(range(1, 50))
    got = []
    with pytest.raises(OSError, match="frame 7: disk gone"):
        for i in read_ahead(source(50, fail_at=7), 2):
            got.append(i)
    assert got == list(range(7))
    assert not decoder_threads()
    with pytest.raises(ValueError, match="depth 0"):
        next(read_ahead(source(3), 0))


def test_read_ahead_stops_its_thread_when_the_caller_stops():
    """A caller that stops early (an error while writing a night, Ctrl-C) closes the generator: the
    thread ends then, and the source is not read to its end."""
    import itertools

    from aurora_sw.index.score import read_ahead

    pulled = itertools.count()
    endless = (next(pulled) for _ in itertools.count())
    it = read_ahead(endless, 2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert not decoder_threads()
    assert next(pulled) <= 7  # 3 taken, 2 queued, at most one more made while stopping

    def caller_fails():
        for i in read_ahead(iter(range(10**6)), 2):
            if i == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        caller_fails()
    assert not decoder_threads()


def test_scoring_in_this_process_decodes_in_the_read_ahead_thread(spoiled, monkeypatch):
    """`score_frames` with no worker processes reads its frames in the read-ahead thread (beside the
    network), and gives what it gives without it (the spoiled frames NaN with their reasons)."""
    import threading

    import aurora_sw.index.score as score_module

    root, ckpt_path, spoilt = spoiled
    from aurora_sw.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    paths = list(read_manifest(root / "arch")["path"])
    readers = set()
    real = score_module.read_square_frame
    monkeypatch.setattr(score_module, "read_square_frame", lambda *a: readers.add(threading.current_thread().name) or real(*a))
    ahead = score_frames(paths, ckpt, batch_size=4, progress=False)
    assert readers == {"aurora-sw-decoder"}
    monkeypatch.setattr(score_module, "read_ahead", lambda items, depth: items)  # decode between the batches instead
    readers.clear()
    inline = score_frames(paths, ckpt, batch_size=4, progress=False)
    assert readers == {threading.current_thread().name}
    assert np.array_equal(ahead["p_aurora"].to_numpy(), inline["p_aurora"].to_numpy(), equal_nan=True)
    assert (ahead["frame_problem"] == inline["frame_problem"]).all() and set(ahead["frame_problem"]) == {"", *spoilt.values()}


def test_a_stopped_read_ahead_never_waits_long_for_a_read_that_hangs_and_keeps_nothing_alive():
    """Ctrl-C while a frame's read hangs (a dead network mount) returns within the join timeout (the
    daemon thread is left to its read); an error from the source, kept with its traceback, keeps
    no batch alive, and once dropped, frees the caller's frame at once (no reference cycle through the
    generator, which only the collector would break)."""
    import gc
    import threading
    import time
    import weakref

    from aurora_sw.index.score import JOIN_TIMEOUT_S, read_ahead

    release = threading.Event()

    def hangs():
        yield 0
        release.wait(30)  # the read that does not return
        yield 1

    it = read_ahead(hangs(), 2)
    assert next(it) == 0
    t0 = time.perf_counter()
    it.close()
    assert time.perf_counter() - t0 < JOIN_TIMEOUT_S + 0.5
    release.set()

    class Batch:
        pass

    made = []

    def tracked(batch):
        made.append(weakref.ref(batch))
        return batch

    def fails():  # holds no batch itself (its frame lives in the traceback)
        for _ in range(4):
            yield tracked(Batch())
        raise OSError("disk gone")

    gc.disable()  # only reference counts free things here: a cycle would keep them
    try:
        try:
            for batch in read_ahead(fails(), 2):
                del batch  # the caller keeps none of them
                time.sleep(0.05)
        except OSError as exc:
            kept = exc  # as a Dask worker or a notebook keeps a failed task's error
        assert kept.__traceback__ is not None
        assert [r() for r in made] == [None] * 4  # the producer's frame, in the traceback, dropped the last one
        del kept

        def caller():
            local = tracked(Batch())  # what the caller's frame holds (scoring: its parts, the DataLoader)
            for batch in read_ahead(fails(), 2):
                del batch
            return local

        made.clear()
        try:
            caller()
        except OSError:
            pass  # the error is dropped: the caller's frame must go with it, without waiting for the collector
        assert [r() for r in made] == [None] * 5
    finally:
        gc.enable()


def test_an_error_of_the_network_stops_the_read_ahead_thread_even_while_it_is_kept(spoiled, monkeypatch):
    """`score_nights` closes its read-ahead when the network fails: the decoder thread does not live on
    (holding decoded batches) for as long as the error and its traceback are kept."""
    import aurora_sw.index.score as score_module
    from aurora_sw.model.checkpoint import load_checkpoint

    root, ckpt_path, _ = spoiled
    ckpt = load_checkpoint(ckpt_path)
    paths = list(read_manifest(root / "arch")["path"])
    calls = []

    def fails_on_the_second(*a):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("network failed")
        return real(*a)

    real = score_module._score_batch
    monkeypatch.setattr(score_module, "_score_batch", fails_on_the_second)
    kept = []
    try:
        score_frames(paths, ckpt, batch_size=4, progress=False)
    except RuntimeError as exc:
        kept.append(exc)
    assert kept and not decoder_threads()


def test_scoring_spins_the_network_only_without_the_read_ahead(spoiled, monkeypatch):
    """The runner sleeps between operators only when a thread of this process decodes beside it;
    with decoding worker processes (--workers N) it spins, as every other caller's does."""
    import aurora_sw.index.score as score_module
    from aurora_sw.model.checkpoint import load_checkpoint

    root, ckpt_path, _ = spoiled
    ckpt = load_checkpoint(ckpt_path)
    paths = list(read_manifest(root / "arch")["path"])[:8]
    asked = []
    real = score_module.make_runner
    monkeypatch.setattr(score_module, "make_runner", lambda *a, **k: asked.append(k["spin"]) or real(*a, **k))
    score_frames(paths, ckpt, progress=False)
    score_frames(paths, ckpt, num_workers=1, progress=False)
    assert asked == [False, True]
