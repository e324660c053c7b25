"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors plus plain metadata.

A checkpoint stores the model name, classes, input size, normalisation, training config,
label-set hash and metrics next to the weights. Anything that would need unpickling arbitrary
objects is refused on load.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.factory import CLASSES, IMAGENET_MEAN, IMAGENET_STD, create_model

FORMAT = "aurora-sw-classifier/1"


@dataclass
class Checkpoint:
    """A trained classifier and what is needed to use and audit it."""

    model_name: str
    state_dict: dict[str, torch.Tensor]
    input_size: int
    classes: tuple[str, ...] = CLASSES
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    normalization: str = "sky_background"
    threshold: float = 0.5
    train_config: dict[str, Any] = field(default_factory=dict)
    label_hash: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    optimizer_state: dict | None = None
    #: The embedding basis (:func:`aurora_sw.model.embedding.fit_basis`: ``mean``, ``scale``,
    #: ``components`` tensors), fitted on the labelled frames when training ends; ``None`` in
    #: checkpoints saved before (their stores hold no embeddings).
    embedding_basis: dict[str, torch.Tensor] | None = None

    def build_model(self):
        """The timm model with these weights, in eval mode."""
        model = create_model(self.model_name, num_classes=len(self.classes))
        model.load_state_dict(self.state_dict)
        return model.eval()

    @property
    def sha256(self) -> str:
        """Hash of the weights (for provenance in the index)."""
        h = hashlib.sha256()
        for k in sorted(self.state_dict):
            h.update(k.encode())
            h.update(self.state_dict[k].detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]


    @property
    def embedding_sha256(self) -> str:
        """Hash of the embedding basis ("" without one): a store records it, so a resumed run
        never mixes two bases in one store."""
        if self.embedding_basis is None:
            return ""
        h = hashlib.sha256()
        for k in sorted(self.embedding_basis):
            h.update(k.encode())
            h.update(self.embedding_basis[k].detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]


def label_set_hash(paths: list[str], labels: list[str]) -> str:
    """A short hash of the (path, label) pairs a model was trained on."""
    h = hashlib.sha256()
    for p, lab in sorted(zip(paths, labels)):
        h.update(f"{p}\t{lab}\n".encode())
    return h.hexdigest()[:16]


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike) -> Path:
    """Write ``ckpt`` atomically (temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "model_name": ckpt.model_name,
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.state_dict.items()},
        "input_size": int(ckpt.input_size),
        "classes": list(ckpt.classes),
        "mean": list(ckpt.mean),
        "std": list(ckpt.std),
        "normalization": ckpt.normalization,
        "threshold": float(ckpt.threshold),
        "train_config": ckpt.train_config,
        "label_hash": ckpt.label_hash,
        "metrics": ckpt.metrics,
        "epoch": int(ckpt.epoch),
        "optimizer_state": ckpt.optimizer_state,
        "embedding_basis": ckpt.embedding_basis,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint with ``weights_only=True``; refuse anything else.

    Raises
    ------
    AuroraSWError
        The file is missing, not an aurora-sw checkpoint, or holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise AuroraSWError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AuroraSWError(
            f"{path}: refused to load: not a weights-only checkpoint ({type(exc).__name__}); "
            "it may hold pickled code, so it is not loaded"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise AuroraSWError(f"{path}: not an aurora-sw classifier checkpoint")
    return Checkpoint(
        model_name=payload["model_name"],
        state_dict=payload["state_dict"],
        input_size=payload["input_size"],
        classes=tuple(payload["classes"]),
        mean=tuple(payload["mean"]),
        std=tuple(payload["std"]),
        normalization=payload["normalization"],
        threshold=payload["threshold"],
        train_config=payload["train_config"],
        label_hash=payload["label_hash"],
        metrics=payload["metrics"],
        epoch=payload["epoch"],
        optimizer_state=payload.get("optimizer_state"),
        embedding_basis=_basis(payload.get("embedding_basis"), path),
    )


def _basis(stored, path: Path) -> dict[str, torch.Tensor] | None:
    """A stored embedding basis, checked for shape (a damaged one is refused, not used)."""
    from aurora_sw.model.embedding import BASIS_KEYS

    if stored is None:
        return None
    ok = isinstance(stored, dict) and all(isinstance(stored.get(k), torch.Tensor) for k in BASIS_KEYS)
    if ok:
        d = stored["mean"].shape
        ok = len(d) == 1 and stored["scale"].shape == d and stored["components"].ndim == 2 and stored["components"].shape[1] == d[0]
    if not ok:
        raise AuroraSWError(f"{path}: its embedding basis is damaged (not mean/scale/components of one width); train the model again")
    return {k: stored[k] for k in BASIS_KEYS}
