"""Forecast and nowcast: P(aurora over the camera at t + Δ) from the solar wind, verified by night.

``features`` (what a forecast issued at t knows) -> ``model`` (calibrated per-lead classifiers,
saved with skops) -> ``crossval`` (night-blocked verification against ``baselines``: persistence,
climatology, the Kp rule) with the scores of ``verify``. Faces call :mod:`aurora_sw.workflows.forecast`.
"""

from aurora_sw.forecast.model import ForecastModel, load_forecast_model

__all__ = ["ForecastModel", "load_forecast_model"]
