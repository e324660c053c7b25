"""Analyses of the aurora index against the solar wind: lagged correlation and its significance."""

from aurora_sw.analysis.lag import lagged_correlation

__all__ = ["lagged_correlation"]
