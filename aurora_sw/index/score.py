"""Score frames: P(aurora) from the classifier and physical indices, in one decode per frame."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, TypeVar

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, default_collate
from tqdm.auto import tqdm

from aurora_sw.camera import FrameError, frame_problem, read_frame_bytes, read_square_frame
from aurora_sw.errors import AuroraSWError
from aurora_sw.index.background import MAP_SIZE, area_above_night_background, green_excess_map
from aurora_sw.index.keogram import meridian_strip
from aurora_sw.index.physical import ANALYSIS_SIZE, frame_indices
from aurora_sw.index.schema import INDEX_NAMES, KEOGRAM_ROWS
from aurora_sw.model.checkpoint import Checkpoint
from aurora_sw.model.data import normalize
from aurora_sw.model.embedding import project
from aurora_sw.model.runtime import Backend, default_device, make_runner, resolve_backend
from aurora_sw.model.tasks import aurora_probability

Decode = Literal["cpu", "gpu"]
T = TypeVar("T")
#: Where frames are decoded and measured: ``cpu`` in the DataLoader (OpenCV, DCT-scaled decode; the
#: default everywhere), ``gpu`` on the CUDA device in batches (nvJPEG:
#: :mod:`aurora_sw.index.device_frames`). Not the default on a GPU: its pixels differ from the CPU
#: path's by ~0.1 DN on average, and a trained classifier's P(aurora) by up to 0.19 (p99 0.07),
#: outside the 0.01 budget; nor was it faster end to end on 16 cores (benchmarks/RESULTS.md).
DECODES: tuple[str, ...] = ("cpu", "gpu")


def default_batch_size(input_size: int, device: str = "cpu") -> int:
    """Frames per batch: on CPU ~10.5 x (128 / size)^2 (3 at 240 px, 10 at 128 px), 128 on GPU.

    Small batches keep a core's activations in its caches, and each core scores its own
    (:func:`score_nights`). 2,000 frames at 240 px on 2 cores, interleaved runs: 27.5-28.9 s at 3,
    28.3-28.9 s at 2, 28.0-29.9 s at 4, 27.9-31.9 s at 6 (the default before), 30.6-31.1 s at 18;
    the network alone, two one-thread sessions side by side, is ~3 % faster at 3-4 than at 6. At
    128 px, 8 and 21 were equal and 64 10-20 % slower; at 64 px, 21, 42 and 64 equal (7.4-7.8 s).
    """
    if device == "cuda":
        return 128
    return int(max(2, min(64, round(10.5 * (128 / input_size) ** 2))))


class _ScoreDataset(Dataset):
    def __init__(self, paths: list[str], input_size: int, normalization: str) -> None:
        self.paths = paths
        self.input_size = input_size
        self.normalization = normalization

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return self.measured(i)

    def measured(self, i: int, data: bytes | None = None) -> tuple:
        """Frame ``i`` decoded (from ``data``, its bytes, when read already) and measured."""
        try:
            img = read_square_frame(self.paths[i], max(ANALYSIS_SIZE, self.input_size), data=data)
        except FrameError as exc:
            nan = float("nan")
            return (torch.zeros(3, self.input_size, self.input_size), torch.full((len(INDEX_NAMES),), nan),
                    torch.full((MAP_SIZE, MAP_SIZE), nan, dtype=torch.float16), torch.zeros(KEOGRAM_ROWS, 3, dtype=torch.uint8), exc.reason)
        small = img if img.shape[0] == ANALYSIS_SIZE else cv2.resize(img, (ANALYSIS_SIZE, ANALYSIS_SIZE), interpolation=cv2.INTER_AREA)
        phys = torch.from_numpy(frame_indices(small))
        model_in = img if img.shape[0] == self.input_size else cv2.resize(img, (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)
        x = normalize(torch.from_numpy(model_in).permute(2, 0, 1), self.normalization)
        strip = torch.from_numpy(meridian_strip(small, KEOGRAM_ROWS).round().astype(np.uint8))
        return x, phys, torch.from_numpy(green_excess_map(small)), strip, ""


class _EncodedDataset(Dataset):
    """Each frame's bytes (a 1-D uint8 tensor) and what its header and end say is wrong ("" for
    nothing): the workers' whole job when the frames are decoded on the GPU."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        data = _bytes_or_none(self.paths[i])
        if data is None:
            return torch.zeros(0, dtype=torch.uint8), "unreadable"
        problem = frame_problem(data)
        encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)  # frombuffer refuses 0 bytes
        return encoded, problem[0] if problem else ""


def _joined(items: list[tuple]) -> tuple[torch.Tensor, list[int], list[str]]:
    """Collate encoded frames into one tensor and their lengths: one shared-memory transfer a batch,
    not one a frame (that was ~1 s of 14 for 6,458 frames)."""
    data, problems = zip(*items)
    return torch.cat(data), [len(d) for d in data], list(problems)


def _split(joined: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
    """The frames of :func:`_joined`'s tensor, as views."""
    return list(torch.split(joined, lengths))


def resolve_decode(decode: Decode, device: torch.device) -> str:
    """``decode`` checked: one of :data:`DECODES`, and ``gpu`` only when scoring on a CUDA device."""
    if decode not in DECODES:
        raise AuroraSWError(f"unknown decode {decode!r}; choose one of {', '.join(DECODES)}")
    if decode == "gpu" and device.type != "cuda":
        raise AuroraSWError("--decode gpu needs a CUDA GPU (scoring runs on the CPU here); use --decode cpu")
    return decode


def score_frames(
    paths: list[str],
    ckpt: Checkpoint,
    batch_size: int | None = None,
    num_workers: int = 0,
    device: str | None = None,
    progress: bool = True,
    backend: Backend = "auto",
    decode: Decode = "cpu",
) -> pd.DataFrame:
    """P(aurora) and physical indices for each frame.

    ``batch_size`` defaults to :func:`default_batch_size`. ``backend`` picks the inference runtime
    (:func:`aurora_sw.model.runtime.resolve_backend`: ONNX Runtime on the CPU, PyTorch on CUDA);
    ``decode`` where frames are decoded and measured (:data:`DECODES`).
    ``aurora_area_night`` fits the per-night background model (:mod:`aurora_sw.index.background`)
    to all of ``paths``, so they should be one night (:func:`score_nights` scores many nights,
    each on its own, through one set of decoding workers).
    A frame that must not be scored (:func:`aurora_sw.camera.read_frame`: unreadable, truncated,
    too small, greyscale) gets NaN values, ``readable=False`` and its reason in ``frame_problem``;
    it never stops the run.

    Returns
    -------
    pandas.DataFrame
        One row per path (same order): ``p_aurora`` (the sum over the checkpoint's aurora classes),
        for a morphology checkpoint ``p_<class>`` of each class and ``morphology`` (the likeliest
        class, "" for an unreadable frame), :data:`INDEX_NAMES`, ``aurora_area_night``,
        ``meridian`` (the frame's north-south strip for the keogram, uint8 ``KEOGRAM_ROWS x 3``,
        :func:`~aurora_sw.index.keogram.meridian_strip`), ``readable``, ``frame_problem`` (a
        :data:`~aurora_sw.camera.FRAME_PROBLEMS` key, "" for a good frame); ``attrs["backend"]`` names
        the runtime used. A checkpoint with an embedding basis adds ``embedding``: each frame's
        :func:`aurora_sw.model.embedding.project` of its pooled features (float16).
    """
    return next(score_nights([list(paths)], ckpt, batch_size, num_workers, device, progress=progress, backend=backend, decode=decode))


def _night_batches(sizes: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of consecutive batches of at most ``batch_size``, none spanning two nights."""
    batches, start = [], 0
    for n in sizes:
        batches += [list(range(b, min(b + batch_size, start + n))) for b in range(start, start + n, batch_size)]
        start += n
    return batches


def score_nights(
    nights: Sequence[Sequence[str]],
    ckpt: Checkpoint,
    batch_size: int | None = None,
    num_workers: int = 0,
    device: str | None = None,
    *,
    progress: bool = False,
    backend: Backend = "auto",
    decode: Decode = "cpu",
    _decode_device: torch.device | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`score_frames` of each night's paths in turn, yielded night by night.

    How the frames are decoded:

    - ``num_workers=0`` (the default), ONNX Runtime: one thread a core (:func:`in_lanes`, torch's
      thread count), each decoding a batch and running it through the network in one session of
      one thread, then the next batch. On 2 cores that beats a session of two threads with the
      decoding beside it (benchmarks/RESULTS.md): each core runs whole batches, with no waiting
      between the network's operators.
    - ``num_workers=0``, PyTorch (``backend="torch"``, on a GPU, or where ONNX Runtime is missing): one thread decodes
      up to :data:`READ_AHEAD` batches ahead of the network, which runs here.
    - ``num_workers=N``: one DataLoader for the whole run, whose N processes start once, not once a
      night, and keep decoding the next night while a night is written.
    - ``decode="gpu"``: the workers read the files; nvJPEG decodes them on the GPU.

    Each batch holds frames of one night only, so every night is scored in exactly the batches
    :func:`score_frames` would use on it alone (the same probabilities, bit for bit, whichever way).
    ``_decode_device`` (tests): run the GPU decode path's code on this device instead (e.g. the CPU).
    """
    dev = default_device(device)
    batch_size = batch_size or default_batch_size(ckpt.input_size, dev.type)
    on_device = _decode_device is not None or resolve_decode(decode, dev) == "gpu"
    here = not on_device and not num_workers  # decoded in threads of this process
    lanes = torch.get_num_threads() if here and resolve_backend(backend, dev) == "onnx" else 0
    run, backend_used = make_runner(ckpt, backend, dev, threads=1 if lanes else None)
    sizes = [len(p) for p in nights]
    paths = [p for night in nights for p in night]
    sampler = _night_batches(sizes, batch_size)
    gate = _NativeGate()
    if on_device:
        dl = DataLoader(_EncodedDataset(paths), batch_sampler=sampler, num_workers=num_workers, collate_fn=_joined)
        scored = _scored_here(_decoded(dl, sampler, paths, ckpt, _decode_device or dev), run, ckpt)
    elif here:
        dataset = _ScoreDataset(paths, ckpt.input_size, ckpt.normalization)

        def lane_work(i: int) -> tuple | None:
            """Batch ``i`` decoded and measured as the DataLoader collates it (pinned, for a GPU), and
            with ONNX Runtime scored too; None once the run stops. Its files are read first: a read
            that hangs (a dead network mount) is outside the gate."""
            data = [_bytes_or_none(paths[j]) for j in sampler[i]]
            if not gate.enter():
                return None  # the run is stopping: no decoding (nor network) now; nobody takes this batch
            try:
                x, *rest = default_collate([dataset.measured(j, d) for j, d in zip(sampler[i], data)])
                x = x.pin_memory() if dev.type == "cuda" else x
                return (x, *rest) if not lanes else _score_batch(run, (x, *rest), ckpt)
            finally:
                gate.leave()

        if lanes:
            scored = in_lanes(lane_work, len(sampler), lanes=lanes, ahead=LANE_AHEAD * lanes)
        else:
            scored = _scored_here(in_lanes(lane_work, len(sampler), lanes=1, ahead=READ_AHEAD), run, ckpt)
    else:
        dl = DataLoader(_ScoreDataset(paths, ckpt.input_size, ckpt.normalization), batch_sampler=sampler,
                        num_workers=num_workers, pin_memory=dev.type == "cuda")
        scored = _scored_here(iter(dl), run, ckpt)
    bar = tqdm(total=len(paths), desc="scoring", unit="frame", disable=not progress)
    try:
        for n in sizes:
            parts, got = [], 0
            while got < n:
                part = next(scored)
                parts.append(part)
                got += len(part[-1])
                bar.update(len(part[-1]))
            part = None
            yield _assemble(parts, ckpt, backend_used)
    finally:
        bar.close()
        gate.close()  # no lane is left inside native code (see _NativeGate)
        scored.close()  # the lanes (or GPU decoding) stop now, even while an error of the network is kept with its traceback


def _scored_here(batches: Iterator[tuple], run, ckpt: Checkpoint) -> Iterator[tuple]:
    """``batches`` through the network in this thread; closing this closes ``batches`` (the lane
    decoding them, or the GPU decoding) at once."""
    try:
        for batch in batches:
            yield _score_batch(run, batch, ckpt)
    finally:
        close = getattr(batches, "close", None)  # a DataLoader's iterator has none: its workers stop when it goes
        if close is not None:
            close()


#: Batches a lane may make ahead of the one the caller takes, per lane, when the lanes decode and
#: score (ONNX Runtime, ``--workers 0``): each lane one batch ahead keeps both cores busy.
LANE_AHEAD = 2
#: Batches decoded ahead of the network when one thread decodes for a network run here (PyTorch,
#: ``--workers 0``).
READ_AHEAD = 3
#: Seconds stopped lanes are waited for, all together, to finish the item each is making.
JOIN_TIMEOUT_S = 0.5


#: Seconds a stopping run waits for the lanes decoding or in the network to finish their batch (one
#: batch takes ~0.07 s at the default size on one core, ~1 s at --batch-size 48).
NATIVE_EXIT_S = 60.0


def _bytes_or_none(path: str) -> bytes | None:
    """A frame's bytes, or None when it cannot be read (the decoding step then says why)."""
    try:
        return read_frame_bytes(path)
    except FrameError:
        return None


class _NativeGate:
    """Lets the lanes into native work (decoding, the network) until the run stops; then waits for
    those inside to leave.

    A lane still inside native code when the interpreter exits (after Ctrl-C or an error, the lanes
    are daemons, waited for only :data:`JOIN_TIMEOUT_S`) is ended by unwinding it through C++
    frames, and the process aborts instead of ending with the one-line error or code 130: inside
    ONNX Runtime "terminate called without an active exception" (exit code 134), inside OpenCV or
    torch "FATAL: exception not rethrown" (SIGABRT), with a core dump. Only a lane reading a file
    is left behind (a read that hangs never returns, so it is never unwound), and it never enters
    once the gate is closed.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._inside = 0
        self._closed = False

    def enter(self) -> bool:
        """Whether the caller may start native work (then it must :meth:`leave`)."""
        with self._changed:
            if self._closed:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._inside -= 1
            self._changed.notify_all()

    def close(self) -> None:
        """Let nobody in, and wait (up to :data:`NATIVE_EXIT_S`) for those inside to leave."""
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._inside == 0, NATIVE_EXIT_S)


class _Raised:
    """What a lane of :func:`in_lanes` hands over when its work raised."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _attempt(work: Callable[[int], T], i: int) -> T | _Raised:
    """``work(i)``, or what it raised. An error's traceback then starts here, not in the lane's loop,
    whose later items it would otherwise keep alive for as long as the error is kept."""
    try:
        return work(i)
    except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
        return _Raised(exc)


def in_lanes(work: Callable[[int], T], count: int, *, lanes: int = 1, ahead: int = READ_AHEAD) -> Iterator[T]:
    """``work(i)`` for ``i`` in ``range(count)``, computed by ``lanes`` daemon threads and yielded in
    order of ``i``.

    Scoring's decoding (OpenCV, numpy) and network (ONNX Runtime, PyTorch) release the GIL, so the
    lanes run side by side. A lane starts item ``i`` only while ``i`` is fewer than ``ahead`` items
    past the last one handed to the caller, so at most ``ahead`` items wait, made, to be taken.
    An exception raised by ``work(i)`` is raised here, at item ``i``, after the items before it.
    Closing this generator (or an error in the caller) stops the lanes: each ends after the item it
    is making, which is waited for up to :data:`JOIN_TIMEOUT_S` in all (a read that never returns
    is left to its daemon thread). Work in native code that must not be cut off by the
    interpreter's exit (OpenCV, ONNX Runtime) needs a gate of its own: :class:`_NativeGate`.
    """
    if lanes < 1 or ahead < 1:
        raise ValueError(f"in_lanes: lanes {lanes}, ahead {ahead}: give 1 or more of each")
    made: dict[int, object] = {}
    state = {"next": 0, "taken": 0, "stop": False}
    changed = threading.Condition()

    def lane() -> None:
        while True:
            with changed:
                while not state["stop"] and state["next"] < count and state["next"] >= state["taken"] + ahead:
                    changed.wait()
                if state["stop"] or state["next"] >= count:
                    return
                i = state["next"]
                state["next"] += 1
            result = _attempt(work, i)
            with changed:
                if state["stop"]:
                    return
                made[i] = result
                if isinstance(result, _Raised):
                    state["next"] = count  # nothing after an error is wanted
                changed.notify_all()
            result = None

    threads = [threading.Thread(target=lane, name=f"aurora-sw-lane-{k}", daemon=True) for k in range(min(lanes, count))]
    for t in threads:
        t.start()
    item = None
    try:
        for i in range(count):
            with changed:
                while i not in made:
                    changed.wait()
                item = made.pop(i)
                state["taken"] = i + 1
                changed.notify_all()
            if isinstance(item, _Raised):
                raise item.exc
            yield item
            item = None
    finally:
        item = None  # no cycle exception -> traceback -> this frame -> item -> exception
        with changed:
            state["stop"] = True
            made.clear()  # the items made ahead are not kept alive by a traceback through this frame
            changed.notify_all()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for t in threads:
            if t is not threading.current_thread():  # the collector may close this generator in a lane itself
                # A lane ends after the item it is making: wait a moment for it, but never hang a Ctrl-C on a
                # read that does not return (a hung network mount); it is a daemon.
                t.join(timeout=max(0.0, deadline - time.monotonic()))


def _decoded(dl: DataLoader, sampler: list[list[int]], paths: list[str], ckpt: Checkpoint, device: torch.device) -> Iterator[tuple]:
    """The encoded batches of ``dl`` decoded and measured on ``device``, as the CPU path's batches."""
    from aurora_sw.index.device_frames import prepare_batch

    for idx, (joined, lengths, problems) in zip(sampler, dl):
        yield prepare_batch([paths[i] for i in idx], _split(joined, lengths), problems, input_size=ckpt.input_size, normalization=ckpt.normalization, device=device)


def _score_batch(run, batch, ckpt: Checkpoint) -> tuple:
    """One decoded batch through the network: (class probabilities, embeddings or None, physical
    indices, green-excess maps, meridian strips, problems: a reason or "" for each frame)."""
    x, p, ge_map, strip, problem = batch
    prob, pooled = run(x)
    prob = prob.astype(np.float32)
    bad = np.array([bool(r) for r in problem])
    prob[bad] = np.nan
    emb = None
    if ckpt.embedding_basis is not None:
        emb = project(pooled, ckpt.embedding_basis)
        emb[bad] = np.nan
    return prob, emb, p.numpy(), ge_map.numpy(), strip.numpy(), list(problem)


def _assemble(parts: list[tuple], ckpt: Checkpoint, backend_used: str) -> pd.DataFrame:
    """One night's scored batches as :func:`score_frames`'s table."""
    probs, embeddings, phys, maps, strips, problems = (list(x) for x in zip(*parts)) if parts else ([], [], [], [], [], [])
    out = pd.DataFrame(np.concatenate(phys) if phys else np.zeros((0, len(INDEX_NAMES))), columns=list(INDEX_NAMES))
    class_probs = np.concatenate(probs) if probs else np.zeros((0, len(ckpt.classes)), np.float32)
    out.insert(0, "p_aurora", aurora_probability(class_probs, ckpt.classes))
    if len(ckpt.classes) > 2:  # a morphology checkpoint: each class's probability, and the likeliest class
        for i, c in enumerate(ckpt.classes):
            out[f"p_{c}"] = class_probs[:, i]
        likeliest = np.asarray(ckpt.classes, dtype=object)[np.nan_to_num(class_probs, nan=-1.0).argmax(1)]
        out["morphology"] = np.where(np.isnan(class_probs).any(1), "", likeliest)
    if ckpt.embedding_basis is not None:  # one row of EMBEDDING_DIM float16 per frame (NaN for an unreadable one)
        out["embedding"] = list(np.concatenate(embeddings)) if embeddings else []
    out["aurora_area_night"] = area_above_night_background(np.concatenate(maps)) if maps else []
    out["meridian"] = list(np.concatenate(strips)) if strips else []
    out["frame_problem"] = [r for batch in problems for r in batch]
    out["readable"] = out["frame_problem"] == ""
    out.attrs["backend"] = backend_used
    return out
