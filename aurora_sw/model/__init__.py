"""The aurora yes/no classifier: timm model factory, data, training, checkpoints, evaluation."""

from aurora_sw.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from aurora_sw.model.factory import CLASSES, create_model

__all__ = ["CLASSES", "Checkpoint", "create_model", "load_checkpoint", "save_checkpoint"]
