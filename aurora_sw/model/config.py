"""Training settings, checked when they are made: no torch here, so a bad option is refused at once.

``aurora-sw train`` builds a :class:`TrainConfig` before it imports torch or reads a frame, so a
refused setting costs the user a fraction of a second, not the seconds torch takes to import.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_sw.errors import AuroraSWError

#: The timm architecture of the seed study.
DEFAULT_MODEL = "efficientnet_b1"
#: The tasks a classifier can be trained for (:data:`aurora_sw.model.tasks.TASKS`).
TASK_NAMES = ("binary", "morphology")
#: How frames are normalised before the network (see :func:`aurora_sw.model.data.normalize`).
NORMALIZATIONS = ("sky_background", "imagenet")


@dataclass
class TrainConfig:
    """Training settings; the defaults are the seed study's schedule at 240 px."""

    model_name: str = DEFAULT_MODEL
    input_size: int = 240
    epochs_head: int = 6
    epochs_full: int = 6
    lr_head: float = 3e-4
    lr_full: float = 3e-5
    batch_size: int = 32
    weight_decay: float = 1e-4
    jitter: float = 0.3
    normalization: str = "sky_background"  # or "imagenet" (see aurora_sw.model.data.normalize)
    seed: int = 0
    num_workers: int = 0
    pretrained: bool = False
    weights: str | None = None
    max_train_seconds: float | None = None  # stop after this wall time (demo budget), then keep the best
    restarts: int = 1  # fresh runs (new init, half the learning rate) when no epoch passes validation_check
    task: str = "binary"  # or "morphology" (aurora_sw.model.tasks)

    def __post_init__(self) -> None:
        """Refuse settings that would crash deep inside torch or train nothing, naming the setting."""
        epochs = self.epochs_full + (self.epochs_head if self.pretrained or self.weights else 0)
        problems = [
            f"input_size={self.input_size} (pixels; at least 1)" if self.input_size < 1 else "",
            f"batch_size={self.batch_size} (at least 2: BatchNorm needs 2 frames a batch)" if self.batch_size < 2 else "",
            f"epochs_head={self.epochs_head}, epochs_full={self.epochs_full} (not negative, and at least one epoch to train; "
            "head epochs run only from ImageNet weights)"
            if min(self.epochs_head, self.epochs_full) < 0 or epochs < 1 else "",
            f"lr_head={self.lr_head}, lr_full={self.lr_full} (positive)" if not (self.lr_head > 0 and self.lr_full > 0) else "",
            f"weight_decay={self.weight_decay}, jitter={self.jitter} (not negative)" if not (self.weight_decay >= 0 and self.jitter >= 0) else "",
            f"normalization={self.normalization!r} (one of {', '.join(NORMALIZATIONS)})" if self.normalization not in NORMALIZATIONS else "",
            f"num_workers={self.num_workers} (0 or more)" if self.num_workers < 0 else "",
            f"restarts={self.restarts} (0 or more)" if self.restarts < 0 else "",
            f"task={self.task!r} (one of {', '.join(TASK_NAMES)})" if self.task not in TASK_NAMES else "",
            f"max_train_seconds={self.max_train_seconds} (positive)" if self.max_train_seconds is not None and not self.max_train_seconds > 0 else "",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise AuroraSWError("training settings refused: " + "; ".join(problems))
