"""The aurora index: scoring frames, physical indices, the Zarr store and queries."""

from aurora_sw.index.accessor import AuroraAccessor  # importing it registers ds.aurora
from aurora_sw.index.store import build_index, open_index, open_keogram
from aurora_sw.index.summary import condition_table, nightly_summary

__all__ = ["AuroraAccessor", "build_index", "condition_table", "nightly_summary", "open_index", "open_keogram"]
