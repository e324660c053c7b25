"""The questions a user asks, each one function with one set of defaults and a typed result.

``aurora-sw``, the Explorer, ``pipelines/`` and the demo call these, so one question has one
answer everywhere. Importing this package is light: each workflow imports its heavy parts
(plots, Granger, scoring) when it runs.
"""

from aurora_sw.workflows.correlate import CorrelationResult, correlate
from aurora_sw.workflows.epochs import EpochResult, epochs
from aurora_sw.workflows.recurrence import RecurrenceResult, recurrence
from aurora_sw.workflows.score import ScoreResult, score

__all__ = ["CorrelationResult", "EpochResult", "RecurrenceResult", "ScoreResult", "correlate", "epochs", "recurrence", "score"]
