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
    """The lanes alive in this process (scoring's threads that decode, and score, batches)."""
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("aurora-sw-lane")]


@pytest.mark.parametrize("lanes", [1, 3])
def test_in_lanes_keeps_the_order_runs_ahead_only_so_far_and_raises_where_the_work_did(lanes):
    """With decoding in the scoring process, threads decode (and score) the next batches
    (`in_lanes`): the caller gets every item in order, the lanes make at most `ahead` items past
    the one the caller took, and an error of the work reaches the caller after the items before
    it, at its place, whichever lane met it."""
    import time

    from aurora_sw.index.score import in_lanes

    made = []

    def work(i, fail_at=None):
        if i == fail_at:
            raise OSError(f"frame {i}: disk gone")
        time.sleep(0.002 * (i % 3))  # lanes finish out of order
        made.append(i)
        return i

    assert list(in_lanes(work, 50, lanes=lanes, ahead=4)) == list(range(50))
    made.clear()
    it = in_lanes(work, 50, lanes=lanes, ahead=3)
    assert next(it) == 0
    time.sleep(0.5)  # the caller is busy (writing a night): the lanes work meanwhile, up to `ahead`
    assert sorted(made) == list(range(1 + 3)), made
    assert list(it) == list(range(1, 50))
    got = []
    with pytest.raises(OSError, match="frame 7: disk gone"):
        for i in in_lanes(lambda i: work(i, fail_at=7), 50, lanes=lanes, ahead=4):
            got.append(i)
    assert got == list(range(7))
    assert not decoder_threads()
    assert list(in_lanes(work, 0, lanes=lanes)) == []
    with pytest.raises(ValueError, match="ahead 0"):
        next(in_lanes(work, 3, lanes=lanes, ahead=0))


def test_in_lanes_stops_its_threads_when_the_caller_stops():
    """A caller that stops early (an error while writing a night, Ctrl-C) closes the generator: the
    lanes end then, and the work goes no further than they had started."""
    from aurora_sw.index.score import in_lanes

    started = []
    it = in_lanes(lambda i: started.append(i) or i, 10**6, lanes=2, ahead=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert not decoder_threads()
    assert len(started) <= 3 + 2

    def caller_fails():
        for i in in_lanes(lambda i: i, 10**6, lanes=2, ahead=2):
            if i == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        caller_fails()
    assert not decoder_threads()


def test_scoring_in_this_process_decodes_and_scores_in_the_lanes(spoiled, monkeypatch):
    """`score_frames` with no worker processes reads its frames in the lanes, and gives what it
    gives decoding them one batch after another in the caller's thread and what decoding worker
    processes give (a session of torch's thread count): the spoiled frames NaN with their reasons,
    the others the same bit for bit."""
    import threading

    import aurora_sw.index.score as score_module

    root, ckpt_path, spoilt = spoiled
    from aurora_sw.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    paths = list(read_manifest(root / "arch")["path"])
    readers = set()
    real = score_module.read_square_frame
    monkeypatch.setattr(score_module, "read_square_frame", lambda *a, **k: readers.add(threading.current_thread().name) or real(*a, **k))
    monkeypatch.setattr(score_module.torch, "get_num_threads", lambda: 3)  # three cores: three lanes (tests run one thread each)
    lanes = score_frames(paths, ckpt, batch_size=4, progress=False)
    assert readers and readers <= {"aurora-sw-lane-0", "aurora-sw-lane-1", "aurora-sw-lane-2"}
    monkeypatch.undo()
    workers = score_frames(paths, ckpt, batch_size=4, num_workers=1, progress=False)
    monkeypatch.setattr(score_module, "read_square_frame", lambda *a, **k: readers.add(threading.current_thread().name) or real(*a, **k))
    monkeypatch.setattr(score_module, "in_lanes", lambda work, count, **kw: (work(i) for i in range(count)))  # one after another, here
    readers.clear()
    inline = score_frames(paths, ckpt, batch_size=4, progress=False)
    assert readers == {threading.current_thread().name}
    for other in (inline, workers):
        assert np.array_equal(lanes["p_aurora"].to_numpy(), other["p_aurora"].to_numpy(), equal_nan=True)
        assert (lanes["frame_problem"] == other["frame_problem"]).all()
    assert set(lanes["frame_problem"]) == {"", *spoilt.values()}


def test_stopped_lanes_never_wait_long_for_a_read_that_hangs_and_keep_nothing_alive():
    """Ctrl-C while a frame's read hangs (a dead network mount) returns within the join timeout (the
    daemon thread is left to its read); an error of the work, kept with its traceback, keeps no
    batch alive, and once dropped, frees the caller's frame at once (no reference cycle through the
    generator, which only the collector would break)."""
    import gc
    import threading
    import time
    import weakref

    from aurora_sw.index.score import JOIN_TIMEOUT_S, in_lanes

    release = threading.Event()

    def hangs(i):
        if i:
            release.wait(30)  # the reads that do not return
        return i

    it = in_lanes(hangs, 4, lanes=2, ahead=2)
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

    def fails(i):  # holds no batch itself (its frame lives in the traceback)
        if i == 4:
            raise OSError("disk gone")
        return tracked(Batch())

    gc.disable()  # only reference counts free things here: a cycle would keep them
    try:
        try:
            for batch in in_lanes(fails, 10, lanes=2, ahead=2):
                del batch  # the caller keeps none of them
                time.sleep(0.05)
        except OSError as exc:
            kept = exc  # as a Dask worker or a notebook keeps a failed task's error
        assert kept.__traceback__ is not None
        assert [r() for r in made] == [None] * 4  # no lane's frame, in the traceback, holds one
        del kept

        def caller():
            local = tracked(Batch())  # what the caller's frame holds (scoring: its parts, the DataLoader)
            for batch in in_lanes(fails, 10, lanes=2, ahead=2):
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


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_an_error_of_the_network_stops_the_lanes_even_while_it_is_kept(spoiled, monkeypatch, backend):
    """`score_nights` closes its lanes when the network fails (in a lane with ONNX Runtime, in the
    caller's thread with PyTorch): no lane lives on (holding decoded batches) for as long as the
    error and its traceback are kept."""
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
        score_frames(paths, ckpt, batch_size=4, progress=False, backend=backend)
    except RuntimeError as exc:
        kept.append(exc)
    assert kept and not decoder_threads()


def test_scoring_in_lanes_asks_for_a_one_thread_session_and_pytorch_decodes_in_one_lane(spoiled, monkeypatch):
    """With ONNX Runtime and no worker processes, each lane runs the network itself through a session
    of one thread; with decoding worker processes (--workers N) the session has torch's thread
    count, as every other caller's. With PyTorch (the fallback, and the GPU), one lane decodes and
    the network runs in the caller's thread: the same frames, P(aurora) within PyTorch's 1e-5 of
    ONNX Runtime's."""
    import threading

    import aurora_sw.index.score as score_module
    from aurora_sw.model.checkpoint import load_checkpoint

    root, ckpt_path, _ = spoiled
    ckpt = load_checkpoint(ckpt_path)
    paths = list(read_manifest(root / "arch")["path"])[:8]
    asked = []
    real = score_module.make_runner
    monkeypatch.setattr(score_module, "make_runner", lambda *a, **k: asked.append(k["threads"]) or real(*a, **k))
    onnx = score_frames(paths, ckpt, progress=False)
    score_frames(paths, ckpt, num_workers=1, progress=False)
    assert asked == [1, None]
    readers, runners = set(), set()
    real_read, real_score = score_module.read_square_frame, score_module._score_batch
    monkeypatch.setattr(score_module, "read_square_frame", lambda *a, **k: readers.add(threading.current_thread().name) or real_read(*a, **k))
    monkeypatch.setattr(score_module, "_score_batch", lambda *a: runners.add(threading.current_thread().name) or real_score(*a))
    pytorch = score_frames(paths, ckpt, batch_size=3, progress=False, backend="torch")
    assert readers == {"aurora-sw-lane-0"} and runners == {threading.current_thread().name}
    assert np.allclose(pytorch["p_aurora"], onnx["p_aurora"], atol=1e-4, equal_nan=True)


def test_a_run_stopped_while_a_lane_is_in_the_network_exits_with_its_own_code(tmp_path):
    """Ctrl-C or a failed write while a lane decodes a batch or runs it through ONNX Runtime: the
    lanes are daemons waited for only briefly, and one still inside native code at the interpreter's
    exit aborted the process ("terminate called without an active exception", exit code 134, or
    "FATAL: exception not rethrown" in the decoding) instead of ending it with the run's own exit
    code. The run now waits for the batches being decoded or scored."""
    import subprocess
    import sys

    import cv2

    frame = tmp_path / "f.jpg"
    cv2.imwrite(str(frame), np.random.default_rng(0).integers(0, 255, (720, 720, 3), dtype=np.uint8))
    script = (
        "import sys\n"
        "from aurora_sw.index.score import score_nights\n"
        "from aurora_sw.model import Checkpoint, create_model\n"
        "ckpt = Checkpoint('efficientnet_b1', create_model('efficientnet_b1').state_dict(), 240)\n"
        "paths = [sys.argv[1]] * 48\n"
        "stream = score_nights([paths, paths, paths], ckpt, batch_size=48)\n"
        "next(stream)  # the first night: a lane is now running a later night's batch (~2 s on one core)\n"
        "stream.close()\n"
        "print('closed', flush=True)\n"
        "sys.exit(3)\n"
    )
    res = subprocess.run([sys.executable, "-c", script, str(frame)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 3 and "closed" in res.stdout, (res.returncode, res.stderr[-2000:])
    assert "terminate called" not in res.stderr
