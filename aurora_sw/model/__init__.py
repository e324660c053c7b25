"""The aurora yes/no classifier: timm model factory, data, training, checkpoints, evaluation.

The names below load on first use, so ``aurora_sw.model.config`` (the training settings) is
importable without torch and the CLI refuses a bad option before torch is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurora_sw.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from aurora_sw.model.factory import CLASSES, create_model

_HOMES = {
    "Checkpoint": "aurora_sw.model.checkpoint",
    "load_checkpoint": "aurora_sw.model.checkpoint",
    "save_checkpoint": "aurora_sw.model.checkpoint",
    "CLASSES": "aurora_sw.model.factory",
    "create_model": "aurora_sw.model.factory",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` when it is first asked for."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'aurora_sw.model' has no attribute {name!r}")
