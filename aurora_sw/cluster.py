"""A Dask client for the long jobs that spread over workers (scoring nights, ingesting movies).

One rule for every face: ``--dask`` starts a local cluster in this process (one thread a worker:
the work releases the GIL in OpenCV, PyAV, ONNX Runtime and tesseract's own process);
``--scheduler ADDR`` joins a running one, whose workers must see the same files (the archive,
the frames folder, the model) at the same paths. The client is closed however the job ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aurora_sw.errors import AuroraSWError

__all__ = ["dask_client"]


@contextmanager
def dask_client(*, dask: bool = False, scheduler: str | None = None) -> Iterator[object | None]:
    """A ``dask.distributed.Client`` (local cluster for ``dask``, the running ``scheduler``), or
    ``None`` when neither is asked for.

    Raises
    ------
    AuroraSWError
        Dask is not installed, or the scheduler cannot be reached (one line, naming it).
    """
    if scheduler is not None and not scheduler.strip():
        raise AuroraSWError("--scheduler '': give the scheduler's address, e.g. tcp://host:8786 (or --dask for a local cluster)")
    if not (dask or scheduler):
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise AuroraSWError("--dask/--scheduler need dask[distributed]: pip install 'dask[distributed]'") from None
    try:
        client = Client(scheduler, timeout="10s") if scheduler else Client(LocalCluster(processes=False, threads_per_worker=1))
    except (OSError, TimeoutError, ValueError) as exc:  # unreachable, or not an address (ValueError)
        raise AuroraSWError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]})") from None
    try:
        yield client
    finally:
        client.close()
