"""The questions a user asks, each one function with one set of defaults and a typed result.

``aurora-sw``, the Explorer, ``pipelines/`` and the demo call these, so one question has one
answer everywhere. Importing this package is light: the names below load on first use, and each
workflow imports its heavy parts (plots, Granger, scoring) when it runs, so ``import
aurora_sw.workflows.score`` does not pay for the lag analysis' statistics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurora_sw.workflows.correlate import CorrelationResult, correlate
    from aurora_sw.workflows.epochs import EpochResult, epochs
    from aurora_sw.workflows.recurrence import RecurrenceResult, recurrence
    from aurora_sw.workflows.score import ScoreResult, score

_HOMES = {
    "CorrelationResult": "correlate", "correlate": "correlate",
    "EpochResult": "epochs", "epochs": "epochs",
    "RecurrenceResult": "recurrence", "recurrence": "recurrence",
    "ScoreResult": "score", "score": "score",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    """Import the workflow that defines ``name`` when it is first asked for."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"aurora_sw.workflows.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'aurora_sw.workflows' has no attribute {name!r}")
