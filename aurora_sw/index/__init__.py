"""The aurora index: scoring frames, physical indices, the Zarr store and queries."""

from aurora_sw.index.store import build_index, nightly_summary, open_index

__all__ = ["build_index", "nightly_summary", "open_index"]
