"""The GPU decode path (aurora_sw.index.device_frames) against the CPU path it replaces on a GPU.

The same code runs on the CPU (torchvision's libjpeg instead of nvJPEG), so it is checked here
against the OpenCV path frame by frame: the batched indices against the per-frame numpy functions
on identical pixels, and whole scoring (decode, reduce, indices, network) on rendered 720 px frames.
"""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from aurora_sw.index.background import green_excess_map
from aurora_sw.index.device_frames import frame_indices_batch, green_excess_maps, meridian_strips
from aurora_sw.index.keogram import meridian_strip
from aurora_sw.index.physical import frame_indices
from aurora_sw.index.schema import INDEX_NAMES, KEOGRAM_ROWS
from aurora_sw.index.score import score_frames, score_nights
from aurora_sw.model import Checkpoint, create_model

CPU = torch.device("cpu")


def _analysis_frames() -> np.ndarray:
    """180 px frames: drawn arcs (straight, bent both ways, north-south), noise, an empty sky."""
    rng = np.random.default_rng(0)
    frames = []
    draws = [
        lambda im: cv2.line(im, (20, 90), (160, 90), (30, 120, 30), 6),
        lambda im: cv2.line(im, (90, 20), (90, 160), (30, 120, 30), 6),
        lambda im: cv2.ellipse(im, (90, 160), (80, 80), 0, 180, 360, (30, 120, 30), 6),
        lambda im: cv2.ellipse(im, (90, 20), (80, 80), 0, 0, 180, (30, 120, 30), 6),
        lambda im: cv2.ellipse(im, (70, 110), (60, 25), 35, 0, 360, (40, 140, 60), 9),
        lambda im: None,
    ]
    for draw in draws:
        img = np.clip(rng.normal(30, 1.5, (180, 180, 3)), 0, 255).astype(np.uint8)
        draw(img)
        frames.append(img)
    return np.stack(frames)


@pytest.mark.parametrize("shape_in, shape_out", [((360, 360), (240, 240)), ((720, 720), (180, 180)), ((128, 128), (180, 180)),
                                                ((180, 640), (240, 240)), ((721, 719), (360, 360)), ((240, 240), (90, 90))])
def test_area_resize_has_opencvs_weights(shape_in, shape_out):
    """Shrinking, enlarging, and one axis each way (where OpenCV switches rule for both axes)."""
    from aurora_sw.index.device_frames import area_resize

    img = np.random.default_rng(0).uniform(0, 255, (*shape_in, 3)).astype(np.float32)
    want = cv2.resize(img, shape_out[::-1], interpolation=cv2.INTER_AREA)
    got = area_resize(torch.from_numpy(img).permute(2, 0, 1)[None], *shape_out)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_frames_the_device_would_read_otherwise_go_to_the_cpu_reader(rendered, tmp_path):
    """EXIF-rotated (nvJPEG ignores the tag, OpenCV applies it), progressive and CMYK JPEGs are
    read by the CPU path, so their pixels are the CPU path's exactly; an empty file is unreadable."""
    from PIL import Image

    paths, _, _ = rendered
    upright = Image.open(paths[3])
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the stored pixels are the upright frame turned the other way
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    upright.save(tmp_path / "progressive.jpg", progressive=True, quality=95)
    upright.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    (tmp_path / "empty.jpg").write_bytes(b"")
    odd = [str(tmp_path / n) for n in ("rotated.jpg", "progressive.jpg", "cmyk.jpg", "empty.jpg")]
    ckpt = Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 64)
    cpu = score_frames(odd, ckpt, progress=False, decode="cpu")
    dev = next(score_nights([odd], ckpt, _decode_device=CPU))
    assert list(cpu["frame_problem"]) == list(dev["frame_problem"]) == ["", "", "", "unreadable"]
    for name in INDEX_NAMES:
        np.testing.assert_array_equal(dev[name].to_numpy(), cpu[name].to_numpy())
    x_cpu, x_dev = _network_inputs(odd[:3], 64)
    torch.testing.assert_close(x_dev, x_cpu, atol=1e-6, rtol=0)


def test_batched_indices_equal_the_per_frame_functions():
    frames = _analysis_frames()
    batch = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    got = frame_indices_batch(batch).numpy()
    want = np.stack([frame_indices(f) for f in frames])
    assert np.isnan(want[-1, -3:]).all() and np.isnan(got[-1, -3:]).all()  # no aurora, no shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3, equal_nan=True)  # curvature's sign included
    assert want[2, -1] < -0.5 < 0.5 < want[3, -1]  # bulging north, bulging south
    maps = green_excess_maps(batch).numpy()
    np.testing.assert_array_equal(maps, np.stack([green_excess_map(f) for f in frames]))
    strips = meridian_strips(batch).numpy()
    np.testing.assert_array_equal(strips, np.stack([meridian_strip(f, KEOGRAM_ROWS).round().astype(np.uint8) for f in frames]))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """24 rendered 720 px frames (the camera's size; clear, cloudy, moonlit, quiet to active) and
    the truth of each, plus a frame of every kind the CPU path refuses."""
    from aurora_sw.synthetic.render import FrameState, NightSky

    root = tmp_path_factory.mktemp("rendered")
    sky = NightSky(720, 62.43, 3)
    rng = np.random.default_rng(0)
    paths, visible = [], []
    for i in range(24):
        st = FrameState(minute=i * 7.0, lst_deg=30.0 + i * 5, sun_alt=-30.0, sun_az=0.0, moon_alt=20.0 if i % 4 == 0 else -10.0, moon_az=100.0,
                        moon_illum=0.8, activity=float(rng.uniform(0, 1)), cloudiness=float(rng.uniform(0, 1)) if i % 3 == 0 else 0.05)
        frame, truth = sky.render(st, frame_seed=i)
        path = root / f"f{i:02d}.jpg"
        cv2.imwrite(str(path), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
        visible.append(bool(truth["aurora_visible"]))
    good = paths[0]
    data = open(good, "rb").read()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    cv2.imwrite(str(root / "grey.jpg"), np.full((720, 720, 3), 60, np.uint8))
    cv2.imwrite(str(root / "frame.png"), cv2.imread(good))
    cv2.imwrite(str(root / "small.jpg"), cv2.resize(cv2.imread(good), (48, 48)))
    (root / "notanimage.jpg").write_bytes(b"\xff\xd8 not a jpeg at all" * 10)
    odd = [str(root / n) for n in ("truncated.jpg", "grey.jpg", "frame.png", "small.jpg", "notanimage.jpg", "missing.jpg")]
    return paths, np.array(visible), odd


def _network_inputs(paths: list[str], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input for each frame from the CPU path's dataset and from the device path."""
    from aurora_sw.index.device_frames import prepare_batch
    from aurora_sw.index.score import _EncodedDataset, _ScoreDataset

    cpu = torch.stack([_ScoreDataset(paths, size, "sky_background")[i][0] for i in range(len(paths))])
    enc = [_EncodedDataset(paths)[i] for i in range(len(paths))]
    dev = prepare_batch(paths, [e[0] for e in enc], [e[1] for e in enc], input_size=size, normalization="sky_background", device=CPU)[0]
    return cpu, dev


@pytest.mark.parametrize("size", [64, 240])
def test_scoring_through_the_device_path_agrees_with_the_cpu_path(rendered, size):
    paths, _, odd = rendered
    torch.manual_seed(0)
    ckpt = Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), size)
    cpu = score_frames(paths + odd, ckpt, progress=False, decode="cpu")
    dev = next(score_nights([paths + odd], ckpt, _decode_device=CPU))
    assert list(dev["frame_problem"]) == list(cpu["frame_problem"])  # every refusal named as the CPU path names it
    assert list(cpu["frame_problem"][-6:]) == ["truncated", "greyscale", "", "too_small", "unreadable", "unreadable"]
    assert (np.isnan(dev["p_aurora"]) == np.isnan(cpu["p_aurora"])).all()
    tolerance = {"sky_r": 0.05, "sky_g": 0.05, "sky_b": 0.05, "green_excess": 1.0, "red_excess": 1.0, "aurora_area": 0.005,
                 "arc_orientation": 3.0, "arc_curvature": 0.2}  # the arc mask is a threshold at 6 DN: a DN moves its edge pixels
    for name in INDEX_NAMES:
        a, b = cpu[name].to_numpy(), dev[name].to_numpy()
        assert (np.isnan(a) == np.isnan(b)).all(), name
        if name == "arc_elongation":
            np.testing.assert_allclose(b, a, rtol=0.05, equal_nan=True)
        else:
            assert np.nanmax(np.abs(a - b)) <= tolerance[name], name
    assert np.nanmax(np.abs(cpu["aurora_area_night"] - dev["aurora_area_night"])) <= 0.01
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(cpu["meridian"], dev["meridian"])) <= 4
    # The network's input: the decodes differ (libjpeg's DCT-scaled decode there, block means of a full
    # decode here) by a DN or two at a few pixels, and a flat sky's median by a DN at most.
    x_cpu, x_dev = _network_inputs(paths, size)
    dn = (x_dev - x_cpu).abs() * 0.224 * 255 / 2  # back to DN (sky_background: 2 (x - median) / std)
    assert dn.amax() <= 3.01 and dn.mean() <= 0.5


def test_decode_option_is_refused_in_one_line_where_it_cannot_run(tiny_archive, tmp_path):
    model = tmp_path / "m.pt"
    from aurora_sw.model import save_checkpoint

    save_checkpoint(Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 32), model)
    for decode, says in (("gpu", "--decode gpu needs a CUDA GPU"), ("nvjpeg", "unknown decode 'nvjpeg'")):
        out = tmp_path / f"{decode}.zarr"
        r = subprocess.run([sys.executable, "-m", "aurora_sw", "score", "--archive", str(tiny_archive), "--model", str(model), "--out", str(out),
                            "--decode", decode], capture_output=True, text=True, env={"CUDA_VISIBLE_DEVICES": "", **__import__("os").environ})
        assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not out.exists()


def test_resume_with_the_other_decode_is_refused(tiny_archive, tmp_path):
    """A store scored with --decode gpu (its P(aurora) differs by up to ~0.2) is never continued
    with the CPU path's frames, nor the other way round; stores from before the option count as cpu."""
    import zarr

    from aurora_sw.errors import AuroraSWError
    from aurora_sw.index import open_index
    from aurora_sw.index.pipeline import score_archive

    ckpt = Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 32)
    store = tmp_path / "index.zarr"
    score_archive(tiny_archive, ckpt, store, progress=False)
    before = open_index(store)["p_aurora"].values.copy()
    group = zarr.open_group(str(store), mode="r+")
    group.attrs["frame_decode"] = "gpu"  # as a GPU run with --decode gpu records it
    with pytest.raises(AuroraSWError, match="decoded with --decode gpu, this run asks for --decode cpu"):
        score_archive(tiny_archive, ckpt, store, resume=True, progress=False)
    np.testing.assert_array_equal(open_index(store)["p_aurora"].values, before)  # nothing touched
    del group.attrs["frame_decode"]  # a store from before the option: decoded on the CPU
    assert score_archive(tiny_archive, ckpt, store, resume=True, progress=False)["scored"] == []
    del group.attrs["index_conventions"]  # scored before arc_curvature's sign was fixed (and bf16 on a GPU)
    with pytest.raises(AuroraSWError, match="conventions of before 2026-12-04"):
        score_archive(tiny_archive, ckpt, store, resume=True, progress=False)
    np.testing.assert_array_equal(open_index(store)["p_aurora"].values, before)


def test_a_failed_night_write_stops_the_run_and_leaves_out_untouched(tiny_archive, tmp_path, monkeypatch):
    """Nights are written in a writer thread while the next is scored: a write that fails still
    stops the run, with one line naming the night and its cause, and the index being replaced stays
    as it was."""
    import aurora_sw.index.pipeline as pipeline
    from aurora_sw.errors import AuroraSWError
    from aurora_sw.index import open_index

    ckpt = Checkpoint("efficientnet_b1", create_model("efficientnet_b1").state_dict(), 32)
    store = tmp_path / "index.zarr"
    pipeline.score_archive(tiny_archive, ckpt, store, progress=False)
    before = open_index(store)["p_aurora"].values.copy()
    real = pipeline.write_night
    nights = []

    def failing(path, night, frames):
        nights.append(night)
        if len(nights) == 1:
            raise OSError(28, "No space left on device")
        real(path, night, frames)

    monkeypatch.setattr(pipeline, "write_night", failing)
    with pytest.raises(AuroraSWError, match="writing night .* failed .*No space left on device.*--resume") as failed:
        pipeline.score_archive(tiny_archive, ckpt, store, progress=False)
    assert isinstance(failed.value.__cause__, OSError)  # one line naming the night, the disk's error behind it
    np.testing.assert_array_equal(open_index(store)["p_aurora"].values, before)
