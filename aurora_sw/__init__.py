"""aurora-sw: all-sky auroral camera archives -> per-minute aurora index -> solar-wind analyses.

Data flow (one way): frames -> manifest (``ingest``) -> labels and classifier (``labels``,
``model``) -> scores and physical indices (``index``) -> merged with solar wind (``solarwind``)
-> lag statistics (``analysis``) -> the Streamlit explorer (``apps/``).

Heavy libraries (torch, astropy, pyspedas) are imported where they are used, so that
``import aurora_sw`` and ``aurora-sw --help`` stay fast.
"""

__version__ = "0.1.0"

from aurora_sw.errors import AuroraSWError, CatalogError, NetworkUnavailableError  # noqa: E402


def open_index(path):  # noqa: ANN001, ANN201 - thin re-export, documented at the target
    """Open an aurora-index Zarr store; see :func:`aurora_sw.index.store.open_index`."""
    from aurora_sw.index.store import open_index as _open

    return _open(path)


def open_keogram(path, night):  # noqa: ANN001, ANN201 - thin re-export, documented at the target
    """A night's keogram stored with an index; see :func:`aurora_sw.index.store.open_keogram`."""
    from aurora_sw.index.store import open_keogram as _open

    return _open(path, night)


def open_embedding(path, nights=None):  # noqa: ANN001, ANN201 - thin re-export, documented at the target
    """Each scored minute's embedding stored with an index; see :func:`aurora_sw.index.store.open_embedding`."""
    from aurora_sw.index.store import open_embedding as _open

    return _open(path, nights)


__all__ = ["AuroraSWError", "CatalogError", "NetworkUnavailableError", "__version__", "open_embedding", "open_index", "open_keogram"]
