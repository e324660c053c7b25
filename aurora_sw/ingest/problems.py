"""Files an ingest could not use, as typed records: the path, a reason code and the explanation.

Modelled on pyUCalgarySRS' ``ProblematicFile`` (``filename``, ``error_message``, ``error_type``):
a read returns what it could read plus every file it could not, each with its reason, instead of
stopping at the first. The fields are the columns of ``ARCHIVE/ingest_problems.csv``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Literal, get_args

ProblemReason = Literal[
    # a frame file read strictly (aurora_sw.camera.FRAME_PROBLEMS; also the manifest's flag names)
    "unreadable", "truncated", "too_small", "greyscale",
    # a file that names no time, or a source that is neither frames nor a movie
    "no_time", "not_a_source",
    # a movie that cannot be decoded, or whose burned-in time cannot be read on any frame
    "unreadable_video", "no_overlay_time",
    # a second frame of a minute already kept
    "duplicate_minute",
    # a movie that could not be downloaded (HTTP status, or no connection)
    "http_error", "download_failed",
]
PROBLEM_REASONS: tuple[str, ...] = get_args(ProblemReason)
PROBLEM_COLUMNS = ["path", "reason", "problem"]


@dataclass(frozen=True)
class ProblematicFile:
    """A file (or URL) that could not be used, and why.

    Attributes
    ----------
    path
        The file's path (absolute where it was found on disk) or the URL.
    reason
        The reason code, one of :data:`PROBLEM_REASONS` (``truncated``, ``duplicate_minute``, ...).
    problem
        The explanation, for a person.

    Examples
    --------
    >>> ProblematicFile.of("a.jpg", "no_time", "no UTC time in the file name").as_row()
    {'path': 'a.jpg', 'reason': 'no_time', 'problem': 'no UTC time in the file name'}
    """

    path: str
    reason: ProblemReason
    problem: str

    def __post_init__(self) -> None:
        if self.reason not in PROBLEM_REASONS:
            raise ValueError(f"unknown problem reason {self.reason!r}; one of {', '.join(PROBLEM_REASONS)}")

    @classmethod
    def of(cls, path: str | os.PathLike, reason: ProblemReason, problem: str) -> "ProblematicFile":
        """A record for ``path`` (any path-like, stored as ``str``)."""
        return cls(str(path), reason, problem)

    def as_row(self) -> dict[str, str]:
        """The record as a row of ``ingest_problems.csv`` (:data:`PROBLEM_COLUMNS`)."""
        return asdict(self)
