"""Frames decoded and measured on the scoring device, a batch at a time (the GPU decode path).

On a GPU the CPU side of scoring (decode, resize, physical indices: ~1,200 frames/s on 16 cores)
is what limits `aurora-sw score`, not the network (~12,000 frames/s). Here the worker processes
only read each file's bytes and check its header and end (:func:`aurora_sw.camera.frame_problem`);
the JPEGs are decoded in batches by nvJPEG (``torchvision.io.decode_jpeg`` on CUDA), area-averaged
to the analysis and network sizes, and measured with batched torch versions of
:func:`aurora_sw.index.physical.frame_indices`, :func:`aurora_sw.index.background.green_excess_map`
and :func:`aurora_sw.index.keogram.meridian_strip`, on the same device.

The same code runs on the CPU (libjpeg through torchvision), which is how the tests compare it with
the CPU path. The two paths differ in how a frame is reduced (here a full decode, then block
means; there libjpeg's DCT-scaled decode, then an area resize): by ~0.1 DN per pixel on average
and 2 DN at most on square 720 px frames, and up to ~15 DN at the edges of frames whose sides are
not a multiple of the DCT scale. The indices agree to about a DN (1.2 deg in arc orientation),
but a trained classifier's P(aurora) moved by up to 0.19 (p99 0.07) on an H200, which is why
this path is opt-in (tests/test_device_frames.py; benchmarks/RESULTS.md).

The device decodes baseline and extended-sequential three-channel JPEGs without an EXIF rotation
(:func:`device_decodable`); every other frame (PNG, progressive, CMYK, EXIF-rotated, or one
nvJPEG refuses) is read by the CPU path (:func:`aurora_sw.camera.read_square_frame`) in the main
process, so its pixels, and its problem if it has one, are exactly the CPU path's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from aurora_sw.camera import BLACK_DN, GREY_SPREAD_DN, JPEG_SOI, MIN_FRAME_PX, FrameError, JpegHeader, circle_mask, dct_reduction, jpeg_header, read_square_frame
from aurora_sw.index.background import MAP_SIZE
from aurora_sw.index.physical import ANALYSIS_SIZE, MIN_ARC_PIXELS
from aurora_sw.index.schema import AREA_THRESHOLD_DN, KEOGRAM_ROWS

log = logging.getLogger(__name__)

_MAX_PIXELS = 64 * 720 * 720  # full-size pixels reduced at once (~0.3 GB as float32 RGB)


def _axis_weights(n_in: int, n_out: int, device: torch.device, shrink: bool) -> torch.Tensor:
    """(n_out, n_in) weights of OpenCV's INTER_AREA along one axis. ``shrink`` (OpenCV: both axes
    shrink): each output pixel the mean of the input it covers, fractions of a pixel weighted by
    their overlap. Otherwise OpenCV's other rule for INTER_AREA, on both axes (each output pixel
    copies the input pixel it falls in, and blends linearly with the next one only where it
    straddles their border)."""
    w = torch.zeros(n_out, n_in, dtype=torch.float64)
    if not shrink:
        scale, inv = n_in / n_out, n_out / n_in
        for dx in range(n_out):
            sx = int(np.floor(dx * scale))
            fx = (dx + 1) - (sx + 1) * inv
            fx = 0.0 if fx <= 0 else fx - np.floor(fx)
            if sx >= n_in - 1:
                sx, fx = n_in - 1, 0.0
            w[dx, sx] += 1.0 - fx
            if fx:
                w[dx, sx + 1] += fx
        return w.float().to(device)
    scale = n_in / n_out
    start = torch.arange(n_out, dtype=torch.float64)[:, None] * scale
    j = torch.arange(n_in, dtype=torch.float64)[None]
    overlap = (torch.minimum(j + 1, start + scale) - torch.maximum(j, start)).clamp(min=0)
    return (overlap / scale).float().to(device)


_WEIGHTS: dict[tuple[int, int, bool, str], torch.Tensor] = {}


def area_resize(img: torch.Tensor, height: int, width: int | None = None) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, height, width) float32 with ``cv2.resize(..., INTER_AREA)``'s weights
    (to float32 rounding; block means when the size divides the sides; ``width`` defaults to
    ``height``). OpenCV's uint8 resizes round in fixed point where they enlarge: up to 1 DN apart."""
    width = width or height
    x = img.float()
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    if h % height == 0 and w % width == 0:
        return F.avg_pool2d(x, (h // height, w // width))
    shrink = height <= h and width <= w
    weights = []
    for n_in, n_out in ((h, height), (w, width)):
        key = (n_in, n_out, shrink, str(x.device))
        if key not in _WEIGHTS:
            _WEIGHTS[key] = _axis_weights(n_in, n_out, x.device, shrink)
        weights.append(_WEIGHTS[key])
    return torch.einsum("oh,bchw,pw->bcop", weights[0], x, weights[1])


def reduce_like_the_cpu_path(full: torch.Tensor, size: int) -> torch.Tensor:
    """Full-size decoded frames (B, 3, H, W) uint8 -> (B, 3, size, size) uint8 the way
    :func:`aurora_sw.camera.read_square_frame` makes them: the DCT-scaled decode it asks libjpeg for
    (here the block means of the full decode, which it approximates), then an area resize."""
    r = dct_reduction(size)
    h, w = full.shape[-2:]
    reduced = resize_uint8(full, -(-h // r), -(-w // r), like_opencv=False) if r > 1 else full
    return resize_uint8(reduced, size)


def resize_uint8(img: torch.Tensor, height: int, width: int | None = None, *, like_opencv: bool = True) -> torch.Tensor:
    """:func:`area_resize` of uint8 frames back to uint8, rounded as OpenCV rounds there (halves up
    where the size divides the sides, its integer fast path; to even elsewhere), or always to even
    (``like_opencv=False``: unbiased, as libjpeg's scaled decode)."""
    width = width or height
    h, w = img.shape[-2:]
    if (h, w) == (height, width):
        return img
    x = area_resize(img, height, width)
    x = (x + 0.5).floor_() if like_opencv and h % height == 0 and w % width == 0 else x.round_()
    return x.clamp_(0, 255).to(torch.uint8)


class _Circle:
    """The analysis circle's pixels (row-major, the order of numpy's boolean indexing) and their
    east/north offsets from the centre, per size and device."""

    _cache: dict[tuple[int, str], "_Circle"] = {}

    def __init__(self, size: int, device: torch.device) -> None:
        mask = circle_mask(size, radius_frac=0.9)
        yy, xx = np.nonzero(mask)
        c = (size - 1) / 2.0
        self.index = torch.from_numpy(np.flatnonzero(mask)).to(device)
        self.east = torch.from_numpy(-(xx - c)).to(device)  # north up, east left (float64)
        self.north = torch.from_numpy(-(yy - c)).to(device)

    @classmethod
    def of(cls, size: int, device: torch.device) -> "_Circle":
        key = (size, str(device))
        if key not in cls._cache:
            cls._cache[key] = cls(size, device)
        return cls._cache[key]


def frame_indices_batch(small: torch.Tensor) -> torch.Tensor:
    """:func:`aurora_sw.index.physical.frame_indices` of a batch: (B, 3, S, S) uint8 RGB ->
    (B, len(INDEX_NAMES)) float32, on the frames' device."""
    size = small.shape[-1]
    circle = _Circle.of(size, small.device)
    px = small.flatten(2)[:, :, circle.index].float()  # (B, 3, N)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    ge = g - 0.5 * (r + b)
    re = r - 0.5 * (g + b)
    ge_q, re_q = _median_and_p99(ge), _median_and_p99(re)
    aurora = (ge - ge_q[0][:, None] > AREA_THRESHOLD_DN) & (ge > AREA_THRESHOLD_DN)
    shape = arc_shape_batch(aurora, circle, size)
    out = torch.stack([r.mean(1), g.mean(1), b.mean(1), ge_q[1] - ge_q[0], re_q[1] - re_q[0], aurora.float().mean(1)], 1)
    return torch.cat([out, shape.float()], 1)


def _median_and_p99(values: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """(2, B): numpy's median and 99th percentile (linear) of each row, in chunks of rows
    (torch.quantile takes at most 2**24 values at once)."""
    q = torch.tensor([0.5, 0.99], device=values.device)
    return torch.cat([torch.quantile(values[i : i + chunk], q, dim=1) for i in range(0, max(len(values), 1), chunk)], 1)


def arc_shape_batch(aurora: torch.Tensor, circle: _Circle, size: int) -> torch.Tensor:
    """:func:`aurora_sw.index.physical.arc_shape` of a batch of masks (B, N) over the circle's
    pixels: (B, 3) orientation, elongation, curvature (float64; NaN under ``MIN_ARC_PIXELS``).

    The same moments and the same least-squares parabola, in closed form: sums over each frame's
    aurora pixels, a batched 2x2 eigendecomposition, and the normal equations of the fit.
    """
    w = aurora.double()
    n = w.sum(1)
    east, north = circle.east, circle.north
    me, mn = (w * east).sum(1) / n.clamp(min=1), (w * north).sum(1) / n.clamp(min=1)
    de, dn = east[None] - me[:, None], north[None] - mn[:, None]
    ddof = (n - 1).clamp(min=1)
    cov = torch.stack([torch.stack([(w * de * de).sum(1), (w * de * dn).sum(1)], -1),
                       torch.stack([(w * de * dn).sum(1), (w * dn * dn).sum(1)], -1)], -2) / ddof[:, None, None]
    evals, evecs = torch.linalg.eigh(cov)
    long_axis = evecs[:, :, 1]
    flip = (long_axis[:, 0] < 0) | ((long_axis[:, 0] == 0) & (long_axis[:, 1] < 0))  # physical.arc_shape's sign: eastward
    long_axis = torch.where(flip[:, None], -long_axis, long_axis)
    orientation = torch.rad2deg(torch.atan2(long_axis[:, 0], long_axis[:, 1])) % 180.0
    elongation = torch.sqrt(evals[:, 1] / evals[:, 0].clamp(min=1e-9))
    u = long_axis[:, 0:1] * de + long_axis[:, 1:2] * dn
    v = -long_axis[:, 1:2] * de + long_axis[:, 0:1] * dn
    # least squares v = a u^2 + b u + c over the aurora pixels: normal equations from power sums
    su = [(w * u**k).sum(1) for k in range(5)]
    sv = [(w * v * u**k).sum(1) for k in range(3)]
    A = torch.stack([torch.stack([su[4], su[3], su[2]], -1), torch.stack([su[3], su[2], su[1]], -1), torch.stack([su[2], su[1], su[0]], -1)], -2)
    rhs = torch.stack([sv[2], sv[1], sv[0]], -1)
    spread = torch.where(aurora, u, -torch.inf).amax(1) - torch.where(aurora, u, torch.inf).amin(1)
    ok = n >= MIN_ARC_PIXELS
    solvable = ok & (spread > 0) & (torch.linalg.det(A).abs() > 0)
    eye = torch.eye(3, dtype=A.dtype, device=A.device).expand_as(A)
    a = torch.linalg.solve(torch.where(solvable[:, None, None], A, eye), rhs)[:, 0]
    curvature = torch.where(solvable, 2 * a * size / 2.0, torch.zeros_like(a))
    out = torch.stack([orientation, elongation, curvature], 1)
    return torch.where(ok[:, None], out, torch.full_like(out, float("nan")))


def green_excess_maps(small: torch.Tensor) -> torch.Tensor:
    """:func:`aurora_sw.index.background.green_excess_map` of a batch: (B, 3, S, S) uint8 ->
    (B, MAP_SIZE, MAP_SIZE) float16."""
    f = small.float()
    ge = (f[:, 1] - 0.5 * (f[:, 0] + f[:, 2]))[:, None]
    return area_resize(ge, MAP_SIZE)[:, 0].half()


def meridian_strips(small: torch.Tensor, rows: int = KEOGRAM_ROWS, width: int = 3) -> torch.Tensor:
    """:func:`aurora_sw.index.keogram.meridian_strip` (north-south) of a batch: (B, 3, S, S) uint8
    -> (B, rows, 3) uint8 (rounded, as scoring stores it)."""
    c0 = small.shape[-1] // 2 - width // 2
    strip = small[:, :, :, c0 : c0 + width].float().mean(-1)  # (B, 3, S)
    if strip.shape[-1] != rows:
        strip = F.interpolate(strip, size=rows, mode="area")
    return strip.round().clamp_(0, 255).to(torch.uint8).transpose(1, 2)  # numpy's rounding, as scoring stores the CPU strip


def is_greyscale(img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B,) bool: :func:`aurora_sw.camera.read_frame`'s greyscale rule."""
    x = img.short()
    spread = torch.maximum(torch.maximum((x[:, 0] - x[:, 1]).abs(), (x[:, 1] - x[:, 2]).abs()), (x[:, 0] - x[:, 2]).abs())
    return (spread.flatten(1).amax(1) <= GREY_SPREAD_DN) & (img.flatten(1).amax(1) > BLACK_DN)


def device_decodable(data: bytes | torch.Tensor) -> bool:
    """Whether the device decodes this encoded frame as the CPU path would: a baseline or
    extended-sequential (SOF0/SOF1) JPEG with three components and no EXIF rotation. Progressive,
    CMYK, EXIF-rotated JPEGs and other formats go to the CPU reader (nvJPEG ignores EXIF, and
    OpenCV applies it)."""
    data = data[:65536].numpy().tobytes() if isinstance(data, torch.Tensor) else bytes(data[:65536])  # the headers (a list of 64 KiB cost ~1 ms a frame)
    if data[:2] != JPEG_SOI:
        return False
    header = jpeg_header(data)  # a header past 64 KiB reads as cut short: the CPU reader takes the frame
    return isinstance(header, JpegHeader) and header.frame_marker in (0xC0, 0xC1) and header.components == 3 and header.orientation == 1


def decode_jpegs(data: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor | None]:
    """Decode encoded JPEGs (1-D uint8 tensors) on ``device`` as (3, H, W) uint8 RGB, in one batch
    where they all decode; ``None`` for one that does not (left to the CPU path)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    if not data:
        return []
    try:
        return list(decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device))
    except RuntimeError:  # one bad frame fails the whole batch: decode them one by one
        out = []
        for d in data:
            try:
                out.append(decode_jpeg(d, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                out.append(None)
        return out


def _network_and_analysis(img: torch.Tensor, input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input and the analysis frame from a decode at max(analysis, input) px."""
    return resize_uint8(img, input_size), resize_uint8(img, ANALYSIS_SIZE)


def prepare_batch(
    paths: Sequence[str], data: Sequence[torch.Tensor], problems: Sequence[str], *, input_size: int, normalization: str, device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """A batch of encoded frames as scoring's tuple: (network input on ``device``, physical indices,
    green-excess maps, meridian strips, problems), the last four on the CPU.

    ``problems`` are the workers' verdicts from the bytes ("" for none); a frame with one gets NaN
    indices and a zero input, as in the CPU path.
    """
    from aurora_sw.model.data import normalize

    problems = list(problems)
    n = len(paths)
    decode_size = max(ANALYSIS_SIZE, input_size)  # as the CPU path: one decode, both sizes from it
    good = [i for i in range(n) if not problems[i]]
    jpeg = [i for i in good if device_decodable(data[i])]
    decoded = dict(zip(jpeg, decode_jpegs([data[i] for i in jpeg], device)))
    model_in = torch.zeros((n, 3, input_size, input_size), dtype=torch.uint8, device=device)
    small = torch.zeros((n, 3, ANALYSIS_SIZE, ANALYSIS_SIZE), dtype=torch.uint8, device=device)
    by_shape: dict[tuple[int, int], list[int]] = {}
    refused = [i for i in jpeg if decoded[i] is None]
    if refused:
        log.info("%d JPEG(s) the device's decoder refused, read by the CPU path instead (first: %s)", len(refused), paths[refused[0]])
    for i in good:
        img = decoded.get(i)
        if img is None:  # not a JPEG the device decodes like the CPU path, or nvJPEG refused it: the CPU path decides
            try:
                img = torch.from_numpy(read_square_frame(paths[i], decode_size)).permute(2, 0, 1)[None].to(device)
            except FrameError as exc:
                problems[i] = exc.reason
                continue
            model_in[i], small[i] = _network_and_analysis(img, input_size)
        elif min(img.shape[-2:]) < MIN_FRAME_PX:
            problems[i] = "too_small"
        else:
            by_shape.setdefault(tuple(img.shape[-2:]), []).append(i)
    for (h, w), same in by_shape.items():
        step = max(1, _MAX_PIXELS // (h * w))  # full-size frames are reduced a few at a time: 128 large stills would not fit
        for k in range(0, len(same), step):
            idx = same[k : k + step]
            img = reduce_like_the_cpu_path(torch.stack([decoded[i] for i in idx]), decode_size)
            model_in[idx], small[idx] = _network_and_analysis(img, input_size)
            for i, grey in zip(idx, is_greyscale(img).tolist()):
                if grey:
                    problems[i] = "greyscale"
    bad = torch.tensor([bool(p) for p in problems], device=device)
    x = normalize(model_in, normalization)
    x[bad] = 0.0
    phys = frame_indices_batch(small)
    phys[bad] = float("nan")
    maps = green_excess_maps(small)
    maps[bad] = float("nan")
    strips = meridian_strips(small)
    strips[bad] = 0
    return x, phys.cpu(), maps.cpu(), strips.cpu(), problems

