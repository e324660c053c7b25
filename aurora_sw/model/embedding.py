"""A frame's embedding: the classifier's pooled features, reduced to a few principal components.

The network's global-pooled features before its classifier (1,280 numbers for EfficientNet-B1) say
what the frame looks like to the model; :data:`EMBEDDING_DIM` principal components of them keep
most of that in 64 bytes a minute (float16), small enough to store beside the index for every
scored minute (the Explorer's map of the archive, the diversity strategy of ``label suggest``).

The basis (feature mean and scale, components) is fitted once, when the classifier is trained, on
its labelled frames (:func:`fit_basis`), and travels in the checkpoint: every minute scored with one
checkpoint, in any store, on any machine, is embedded in the same coordinates. A checkpoint saved
before bases were fitted has none (:attr:`~aurora_sw.model.checkpoint.Checkpoint.embedding_basis`
is ``None``) and its stores hold no embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: this module is read by light imports too
    import torch

__all__ = ["EMBEDDING_DIM", "fit_basis", "frame_features", "pooled_features", "project", "standardised_components"]

#: Principal components kept of the pooled features (stored as float16: 64 bytes a minute).
EMBEDDING_DIM = 32
#: The basis's tensors, as stored in a checkpoint.
BASIS_KEYS = ("mean", "scale", "components")


def pooled_features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The timm model's pooled features before its classifier, (N, d), for a normalised batch."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


def standardised_components(features: np.ndarray, dim: int = EMBEDDING_DIM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of the standardised features: (mean (d,), scale (d,), components (k, d)), k = min(dim, n, d).

    Each feature is centred and divided by its standard deviation first (pooled features differ by
    orders of magnitude in scale; unscaled, a few would make the whole embedding).
    """
    from sklearn.decomposition import PCA

    features = np.asarray(features, np.float64)
    mean = features.mean(0)
    scale = features.std(0) + 1e-6
    z = (features - mean) / scale
    k = min(dim, *z.shape)
    if k < 1:
        return mean, scale, np.zeros((0, features.shape[1]))
    return mean, scale, PCA(n_components=k, random_state=0).fit(z).components_


def fit_basis(features: np.ndarray, dim: int = EMBEDDING_DIM) -> dict[str, torch.Tensor]:
    """The embedding basis of a checkpoint, fitted on pooled features (n, d) of its frames.

    Returns
    -------
    dict
        ``mean`` and ``scale`` (d,) and ``components`` (k, d), float32 tensors (what
        :func:`aurora_sw.model.checkpoint.save_checkpoint` stores; weights-only loadable).
    """
    import torch

    mean, scale, comps = standardised_components(features, dim)
    return {"mean": torch.as_tensor(mean, dtype=torch.float32), "scale": torch.as_tensor(scale, dtype=torch.float32),
            "components": torch.as_tensor(comps, dtype=torch.float32)}


def project(features: np.ndarray, basis: dict[str, torch.Tensor]) -> np.ndarray:
    """Pooled features (n, d) in the basis's coordinates: (n, k) float16 (NaN rows stay NaN)."""
    mean, scale, comps = (basis[k].numpy().astype(np.float64) for k in BASIS_KEYS)
    z = (np.asarray(features, np.float64) - mean) / scale
    return (z @ comps.T).astype(np.float16)


def frame_features(ckpt, paths: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities and pooled features of each frame under a checkpoint (PyTorch, CPU or GPU).

    Returns
    -------
    probabilities, features, readable
        Class probabilities (n, K) in the checkpoint's class order, pooled features (n, d), and
        which of ``paths`` could be read (frames :func:`aurora_sw.model.data.read_frame` refuses
        are left out of the first two).
    """
    import torch
    from tqdm.auto import tqdm

    from aurora_sw.camera import FrameError
    from aurora_sw.model.data import normalize, read_frame
    from aurora_sw.model.runtime import default_device

    device = default_device()
    model = ckpt.build_model().to(device).to(memory_format=torch.channels_last).eval()
    readable = np.zeros(len(paths), bool)
    probs, feats = [], []
    for start in tqdm(range(0, len(paths), batch_size), desc="embedding frames", unit="batch", disable=not progress):
        batch = []
        for i, path in enumerate(paths[start : start + batch_size], start):
            try:
                batch.append(normalize(torch.from_numpy(read_frame(path, ckpt.input_size)).permute(2, 0, 1), ckpt.normalization))
            except FrameError:
                continue
            readable[i] = True
        if not batch:
            continue
        with torch.inference_mode():
            x = torch.stack(batch).to(device).to(memory_format=torch.channels_last)
            pooled = pooled_features(model, x)
            probs.append(torch.softmax(model.get_classifier()(pooled).float(), 1).cpu().numpy())
            feats.append(pooled.float().cpu().numpy())
    if not probs:
        return np.empty((0, len(ckpt.classes))), np.empty((0, 0)), readable
    return np.concatenate(probs), np.concatenate(feats), readable
