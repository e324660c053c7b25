"""What a classifier is trained to tell: its task, its classes, and which of them are aurora.

Two tasks, one factory of label tables (:func:`task_labels`) and one rule for P(aurora)
(:func:`aurora_probability`):

- ``binary`` (the default, for yes/no labels): classes ``no``, ``yes``.
- ``morphology``: the OATH classes (Clausen & Nickisch 2018) ``arc``, ``diffuse``, ``discrete``
  (aurora) and ``cloudy``, ``moon``, ``clear`` (no aurora). P(aurora) is the sum of the three
  aurora classes' probabilities, so a morphology checkpoint scores the index like a binary one.

A morphology label also says yes or no (:func:`binary_label`), so class labels train the binary
task too; yes/no labels cannot train the morphology task and are left out of it.
No torch here: the label store and the CLI use these names before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import AURORA_CLASSES, MORPHOLOGY_CLASSES
from aurora_sw.model.config import TASK_NAMES

__all__ = ["AURORA_CLASSES", "MORPHOLOGY_CLASSES", "TASKS", "Task", "aurora_probability", "binary_label", "get_task", "task_labels"]


@dataclass(frozen=True)
class Task:
    """A classification task: its name, its classes (output order) and those that are aurora."""

    name: str
    classes: tuple[str, ...]

    @property
    def aurora(self) -> tuple[str, ...]:
        """The classes that count as aurora."""
        return tuple(c for c in self.classes if c in AURORA_CLASSES)

    def is_aurora(self, labels) -> np.ndarray:
        """Boolean per label: is it one of this task's aurora classes?"""
        return np.isin(np.asarray(labels, dtype=object), self.aurora)


TASKS: dict[str, Task] = {"binary": Task("binary", ("no", "yes")), "morphology": Task("morphology", MORPHOLOGY_CLASSES)}
assert tuple(TASKS) == TASK_NAMES


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is one line naming the choices."""
    if name not in TASKS:
        raise AuroraSWError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def binary_label(label: str) -> str:
    """``yes``/``no`` of any label (a morphology class maps to whether it is aurora); ``unsure`` stays."""
    if label in ("yes", "no", "unsure"):
        return label
    if label in MORPHOLOGY_CLASSES:
        return "yes" if label in AURORA_CLASSES else "no"
    raise AuroraSWError(f"unknown label {label!r}")


def task_labels(labels: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The rows of a label table that train ``task``, their ``label`` in its classes.

    Binary: every yes/no label and every class label (as yes/no). Morphology: the class labels only.
    """
    if task.name == "binary":
        known = labels["label"].isin(("yes", "no", *MORPHOLOGY_CLASSES))
        return labels[known].assign(label=[binary_label(v) for v in labels.loc[known, "label"]])
    rows = labels[labels["label"].isin(task.classes)]
    if rows.empty:
        raise AuroraSWError(
            f"no frame is labelled with a {task.name} class ({', '.join(task.classes)}): label classes in the Explorer or import "
            "a CSV/folders with them; yes/no labels train the binary task"
        )
    return rows


def aurora_probability(probs: np.ndarray, classes: tuple[str, ...] | list[str]) -> np.ndarray:
    """P(aurora) from class probabilities (N, K) in ``classes`` order: the sum over the aurora classes."""
    cols = [i for i, c in enumerate(classes) if c in AURORA_CLASSES]
    if not cols:
        raise AuroraSWError(f"classes {tuple(classes)} include no aurora class")
    return np.asarray(probs, dtype=np.float64)[:, cols].sum(axis=1).astype(np.float32)
