"""Grad-CAM for the aurora classifier (pytorch-grad-cam), with per-frame statistics in sky coordinates.

The target layer is the network's last convolution (``conv_head`` for EfficientNet at 240 px), as
in the seed study, unless that map is too coarse to locate anything (fewer than 8 cells across, as
at small CPU input sizes): then the deepest stage that resolves 8 cells. Any module name can be
given instead. Maps are returned at the frame size, 0..1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from aurora_sw.camera import circle_mask, pixel_altaz
from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import AURORA_CLASSES
from aurora_sw.model.checkpoint import Checkpoint
from aurora_sw.model.data import normalize, read_frame
from aurora_sw.model.tasks import aurora_probability

if TYPE_CHECKING:
    import pandas


MIN_CELLS = 8  # a map coarser than this cannot say where in the sky the network looked


def target_layer(model: torch.nn.Module, name: str | None = None, input_size: int = 240) -> torch.nn.Module:
    """The module called ``name``; by default the deepest stage whose map is >= 8 cells across.

    For EfficientNet at the seed's 240 px that is ``conv_head`` (the last convolution, 8x8); at
    the 64 px of a CPU demo it is an earlier stage, since ``conv_head`` is then 2x2.
    """
    if name:
        try:
            return model.get_submodule(name)
        except AttributeError:
            raise AuroraSWError(f"model has no layer {name!r}") from None
    candidates = ([model.conv_head] if hasattr(model, "conv_head") else []) + (list(model.blocks)[::-1] if hasattr(model, "blocks") else [])
    if not candidates:
        return [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    sizes: dict[int, int] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out: sizes.__setitem__(id(mod), out.shape[-1])) for m in candidates]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in hooks:
            h.remove()
    for m in candidates:
        if sizes.get(id(m), 0) >= MIN_CELLS:
            return m
    return candidates[-1]


def gradcam_maps(
    ckpt: Checkpoint,
    paths: list[str],
    target: str | None = None,
    layer: str | None = None,
    batch_size: int = 16,
    size: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grad-CAM maps of frames for the class ``target``.

    ``target`` ``None`` explains aurora: class ``yes`` of a binary model, and of a morphology model
    each frame's likeliest aurora class (arc, diffuse or discrete).

    Returns
    -------
    maps : numpy.ndarray
        ``N x size x size`` float32 in 0..1 (``size`` defaults to the model's input size).
    probs : numpy.ndarray
        P(aurora) of each frame.
    frames : numpy.ndarray
        The frames (``N x size x size x 3`` uint8 RGB) the maps belong to.

    Raises
    ------
    AuroraSWError
        Unknown ``target``, sizes below 1, or a frame that cannot be read.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if target is not None and target not in ckpt.classes:
        raise AuroraSWError(f"target must be one of the checkpoint's classes {ckpt.classes}, not {target!r}")
    if batch_size < 1 or (size is not None and size < 1):
        raise AuroraSWError(f"Grad-CAM: batch size {batch_size} and map size {size} must be at least 1")
    model = ckpt.build_model()
    size = size or ckpt.input_size
    cam = GradCAM(model=model, target_layers=[target_layer(model, layer, ckpt.input_size)])
    maps, probs, frames = [], [], []
    aurora = [i for i, c in enumerate(ckpt.classes) if c in AURORA_CLASSES]
    for i in range(0, len(paths), batch_size):
        try:
            imgs = [read_frame(p, ckpt.input_size) for p in paths[i : i + batch_size]]
        except OSError as exc:  # read_frame names the file
            raise AuroraSWError(f"{exc}; Grad-CAM needs every frame it is given") from None
        x = torch.stack([normalize(torch.from_numpy(im).permute(2, 0, 1), ckpt.normalization) for im in imgs])
        with torch.no_grad():
            soft = torch.softmax(model(x), 1).numpy()
        probs.append(aurora_probability(soft, ckpt.classes))
        which = [ckpt.classes.index(target)] * len(imgs) if target else [aurora[int(np.argmax(row[aurora]))] for row in soft]
        grey = cam(input_tensor=x, targets=[ClassifierOutputTarget(i) for i in which])
        for im, g in zip(imgs, grey):
            maps.append(cv2.resize(g.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR))
            frames.append(im if im.shape[0] == size else cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(maps), np.concatenate(probs), np.stack(frames)


def cam_statistics(cam: np.ndarray) -> dict:
    """Where the map points in the sky: fraction of the circle above 0.5, centroid elevation/azimuth.

    The centroid is the map-weighted mean direction (unit vectors, so azimuth wraps correctly).
    Keys are the index variables of :data:`aurora_sw.index.schema.GRADCAM` (units, meaning).
    """
    size = cam.shape[0]
    inside = circle_mask(size)
    alt, az = pixel_altaz(size)
    w = np.where(inside, cam, 0.0).astype(float)
    total = w.sum()
    if total <= 0:
        return {"cam_fraction_above_0_5": 0.0, "cam_centroid_elevation": float("nan"), "cam_centroid_azimuth": float("nan")}
    a, z = np.radians(alt), np.radians(az)
    v = np.array([(w * np.cos(a) * np.sin(z)).sum(), (w * np.cos(a) * np.cos(z)).sum(), (w * np.sin(a)).sum()]) / total
    return {
        "cam_fraction_above_0_5": float((cam[inside] > 0.5).mean()),
        "cam_centroid_elevation": float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))),
        "cam_centroid_azimuth": float(np.mod(np.degrees(np.arctan2(v[0], v[1])), 360.0)),
    }


def overlay_image(frame: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The frame (RGB uint8) with the map (0..1, same size) as a jet-coloured overlay, RGB uint8."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    return show_cam_on_image(frame.astype(np.float32) / 255.0, cam, use_rgb=True, image_weight=1 - alpha)


def save_overlay(frame: np.ndarray, cam: np.ndarray, path: str | os.PathLike, alpha: float = 0.45) -> Path:
    """Write the frame with the map as a jet-coloured overlay (PNG or JPEG by suffix)."""
    overlay = overlay_image(frame, cam, alpha)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), overlay[..., ::-1])
    return path


def write_gradcam(
    paths: list[str],
    ckpt: Checkpoint,
    out: str | os.PathLike,
    *,
    target: str | None = None,
    layer: str | None = None,
    size: int = 360,
    batch_size: int = 16,
) -> "pandas.DataFrame":
    """Grad-CAM of each frame into ``out``: ``STEM_cam.png`` overlays, ``STEM_cam.npy`` maps, ``cam_stats.csv``.

    Parameters
    ----------
    paths
        Frames (JPEG/PNG).
    ckpt
        The classifier checkpoint.
    target
        Class to explain (one of the checkpoint's classes); ``None``: aurora, as :func:`gradcam_maps`.
    layer
        Module name (default: the last convolution).
    size
        Overlay size in pixels.
    batch_size
        Frames per forward/backward pass.

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``path``, ``p_aurora`` and :func:`cam_statistics` (also written as ``cam_stats.csv``).
    """
    import pandas as pd

    maps, probs, imgs = gradcam_maps(ckpt, paths, target, layer, batch_size, size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path, cam, p, img in zip(paths, maps, probs, imgs):
        stem = Path(path).stem
        save_overlay(img, cam, out / f"{stem}_cam.png")
        np.save(out / f"{stem}_cam.npy", cam)
        rows.append({"path": path, "p_aurora": float(p), **cam_statistics(cam)})
    table = pd.DataFrame(rows)
    table.to_csv(out / "cam_stats.csv", index=False)
    return table
