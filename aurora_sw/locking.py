"""One writer at a time: an exclusive lock for files that aurora-sw rewrites (read, merge, replace).

Two ``ingest`` runs into one archive each read the manifest, added their rows and replaced the
file: both said "20 added" and only 20 of the 40 rows remained. A writer therefore holds
:func:`writer_lock` on the file for the whole read-modify-write. The lock is an OS lock
(``filelock``), released by the kernel if the process dies, so a killed run never leaves the file
locked. Beside it the holder writes who it is (pid, host, start time, command), so a writer that
gives up waiting can say who holds the lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from aurora_sw.errors import AuroraSWError

log = logging.getLogger(__name__)


class LockedError(AuroraSWError):
    """Another process is writing the file and did not finish within the time we were willing to wait."""


def lock_paths(target: str | os.PathLike) -> tuple[Path, Path]:
    """The lock file and the holder file of ``target``: ``TARGET.lock`` and ``TARGET.lock.holder``."""
    target = Path(target)
    return target.with_name(target.name + ".lock"), target.with_name(target.name + ".lock.holder")


def lock_holder(target: str | os.PathLike) -> str:
    """Who holds the lock of ``target``, in words; "an unknown process" if nobody said.

    The holder writes its file just after taking the lock, so a reader that finds none waits a
    moment (up to 1 s) before giving up."""
    for _ in range(10):
        try:
            info = json.loads(lock_paths(target)[1].read_text())
            return f"pid {info['pid']} on {info['host']} since {info['started_utc']} ({info['command']})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.1)
    return "an unknown process"


@contextmanager
def writer_lock(target: str | os.PathLike, *, timeout_s: float = 60.0, advice: str = "let it finish and run again") -> Iterator[None]:
    """Hold the exclusive writer lock of ``target`` (a file, which need not exist yet).

    Parameters
    ----------
    target
        The file to be rewritten; the lock is ``TARGET.lock`` in the same folder.
    timeout_s
        Seconds to wait for another writer to finish (0: do not wait).
    advice
        What the user can do, for the message when the wait is over.

    Raises
    ------
    LockedError
        Naming ``target`` and the holder (pid, host, start time in UTC, command) when the lock
        is still held after ``timeout_s``.

    Examples
    --------
    >>> with writer_lock(archive / "manifest.parquet"):
    ...     df = pd.read_parquet(archive / "manifest.parquet")  # read, merge and replace here
    """
    if not 0 <= timeout_s <= 1e6:  # NaN and inf too
        raise AuroraSWError(f"lock timeout (--lock-timeout) {timeout_s:g} s: give 0 (do not wait) up to 1e6 seconds")
    lock_file, holder_file = lock_paths(target)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_file)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if timeout_s == 0:
                raise
            log.warning("%s: being written by %s; waiting up to %g s", target, lock_holder(target), timeout_s)
            lock.acquire(timeout=timeout_s)
    except Timeout:
        waited = f"gave up after waiting {timeout_s:g} s" if timeout_s else "not waiting"
        raise LockedError(f"{target}: being written by {lock_holder(target)}; {waited}: {advice}") from None
    try:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:300],
        }
        tmp = holder_file.with_name(f"{holder_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(holder))
        os.replace(tmp, holder_file)  # a reader never sees half a holder file
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()
