"""Strict frame reading: truncated, tiny and greyscale frames are refused with their reason."""

import cv2
import numpy as np
import pytest

from aurora_sw.camera import FrameError, read_frame
from aurora_sw.errors import AuroraSWError


@pytest.fixture
def sky(tmp_path):
    """A 240 px colour frame: dark sky, noise, a green arc, written as JPEG and PNG."""
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(30, 6, (240, 240, 3)), 0, 255).astype(np.uint8)
    cv2.line(img, (20, 80), (220, 90), (40, 180, 60), 9)  # RGB
    cv2.imwrite(str(tmp_path / "sky.jpg"), img[..., ::-1])
    cv2.imwrite(str(tmp_path / "sky.png"), img[..., ::-1])
    return img


def reason(path, **kw):
    with pytest.raises(FrameError) as info:
        read_frame(path, **kw)
    return info.value.reason


def test_a_whole_frame_reads_as_opencv_does_in_rgb(sky, tmp_path):
    for name in ("sky.jpg", "sky.png"):
        img = read_frame(tmp_path / name)
        np.testing.assert_array_equal(img, cv2.imread(str(tmp_path / name))[..., ::-1])
    assert read_frame(tmp_path / "sky.jpg", reduce=4).shape == (60, 60, 3)
    (tmp_path / "padded.jpg").write_bytes((tmp_path / "sky.jpg").read_bytes() + b"\0" * 16)  # bytes after the end marker
    assert read_frame(tmp_path / "padded.jpg").shape == (240, 240, 3)
    cv2.imwrite(str(tmp_path / "prog.jpg"), sky[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])  # ten scans
    assert read_frame(tmp_path / "prog.jpg").shape == (240, 240, 3)


@pytest.mark.parametrize("fraction", [0.4, 0.9, 0.999])
def test_a_jpeg_cut_short_is_truncated_not_a_grey_filled_frame(sky, tmp_path, fraction):
    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * fraction)])
    assert cv2.imread(str(tmp_path / "cut.jpg")) is not None  # what fooled the old reader
    assert reason(tmp_path / "cut.jpg") == "truncated"
    assert reason(tmp_path / "cut.jpg", reduce=8) == "truncated"


def test_a_progressive_jpeg_or_png_cut_short_is_truncated(sky, tmp_path):
    cv2.imwrite(str(tmp_path / "prog.jpg"), sky[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = (tmp_path / "prog.jpg").read_bytes()
    (tmp_path / "prog.jpg").write_bytes(data[: int(len(data) * 0.9)])  # the last scans missing
    assert reason(tmp_path / "prog.jpg") == "truncated"
    data = (tmp_path / "sky.png").read_bytes()
    (tmp_path / "sky.png").write_bytes(data[: len(data) // 2])
    assert reason(tmp_path / "sky.png") == "truncated"


def test_tiny_greyscale_and_broken_files_are_refused(sky, tmp_path):
    cv2.imwrite(str(tmp_path / "one.jpg"), sky[:1, :1])
    cv2.imwrite(str(tmp_path / "one.png"), sky[:1, :1])
    grey = cv2.cvtColor(sky, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "grey1.jpg"), grey)  # one component
    cv2.imwrite(str(tmp_path / "grey3.jpg"), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))  # three equal ones
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "header.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut in the header")
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    got = {p: reason(tmp_path / p) for p in ("one.jpg", "one.png", "grey1.jpg", "grey3.jpg", "grey.png", "empty.jpg", "header.jpg", "text.jpg", "missing.jpg")}
    assert got == {
        "one.jpg": "too_small", "one.png": "too_small",
        "grey1.jpg": "greyscale", "grey3.jpg": "greyscale", "grey.png": "greyscale",
        "empty.jpg": "unreadable", "header.jpg": "unreadable", "text.jpg": "unreadable", "missing.jpg": "unreadable",
    }


def test_an_all_black_frame_is_not_called_greyscale(tmp_path):
    cv2.imwrite(str(tmp_path / "black.jpg"), np.zeros((128, 128, 3), np.uint8))  # the dark flag's business
    assert read_frame(tmp_path / "black.jpg").max() == 0


def test_the_error_names_the_file_and_is_a_user_error_and_an_oserror(sky, tmp_path):
    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(FrameError) as info:
        read_frame(tmp_path / "cut.jpg")
    assert str(tmp_path / "cut.jpg") in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, AuroraSWError) and isinstance(info.value, OSError)


def test_the_model_reader_is_the_strict_one(sky, tmp_path):
    from aurora_sw.model.data import FrameDataset, read_frame as model_read_frame

    data = (tmp_path / "sky.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: int(len(data) * 0.4)])
    assert model_read_frame(str(tmp_path / "sky.jpg"), 64).shape == (64, 64, 3)
    with pytest.raises(FrameError, match="truncated"):
        model_read_frame(str(tmp_path / "cut.jpg"), 64)
    with pytest.raises(FrameError, match="truncated"):  # training never sees the grey-filled frame
        FrameDataset([str(tmp_path / "cut.jpg")], [0], 64)[0]
