"""The learned forecast: one calibrated classifier per lead, saved without pickle.

Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``, which takes missing
features as they come: no camera, no Kp) with Platt calibration fitted on nights the trees did not
see (two halves of the nights, each calibrating the trees of the other; the two averaged), once
there are :data:`TREES_MIN_NIGHTS` nights; before that, logistic regression (median-imputed,
standardised features), which does not learn single nights by heart. Saved with
``skops`` (only scikit-learn's own types load), beside a JSON of what the model was trained on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError

__all__ = ["FORMAT", "ForecastModel", "MODEL_KINDS", "fit_classifier", "load_forecast_model"]

#: Written into model.json; a model of another format is refused when loaded.
FORMAT = "aurora-sw-forecast/1"
#: The learned models: ``hgb`` (gradient-boosted trees) and ``logistic`` (logistic regression).
MODEL_KINDS = ("hgb", "logistic")
#: Trees forecast from this many nights on; below it, logistic regression does. Measured on the
#: quick demo (4 nights, seeds 0-4, t+60): trees fitted on 3 nights learn each night's slow
#: solar-wind state (speed, density) and rank held-out minutes at ROC-AUC 0.50-0.86 (three seeds
#: below 0.6), logistic regression at 0.65-0.84.
TREES_MIN_NIGHTS = 20


def model_kind(n_nights: int) -> str:
    """The forecast model for a training set of ``n_nights`` nights (:data:`TREES_MIN_NIGHTS`)."""
    return "hgb" if n_nights >= TREES_MIN_NIGHTS else "logistic"
#: Features the nowcast (lead 0) does not get: the camera's present state is the target itself.
INDEX_FEATURES = ("p_now", "p_mean30")


def feature_columns(columns: Sequence[str], lead_min: int) -> list[str]:
    """The columns a model for ``lead_min`` uses (the nowcast leaves out the camera's present state)."""
    return [c for c in columns if lead_min > 0 or c not in INDEX_FEATURES]


def _estimator(kind: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "hgb":
        return HistGradientBoostingClassifier(learning_rate=0.1, max_iter=100, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, random_state=seed)
    if kind == "logistic":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    raise AuroraSWError(f"unknown forecast model {kind!r}; one of {', '.join(MODEL_KINDS)}")


def fit_classifier(X: pd.DataFrame, y: np.ndarray, nights: np.ndarray, *, kind: str = "hgb", seed: int = 0) -> Any:
    """Fit one lead's classifier; ``hgb`` is calibrated (Platt, 2 folds of whole nights) when there are 2 or more nights.

    Parameters
    ----------
    X
        Features (NaN allowed).
    y
        Outcomes, 1 = aurora at t + lead.
    nights
        The night of each row: calibration folds never split a night.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold

    y = np.asarray(y, int)
    if y.min() == y.max():
        raise AuroraSWError(f"every training minute is {'aurora' if y[0] else 'no aurora'}: nothing to forecast; add nights with both")
    base = _estimator(kind, seed)
    n_nights = len(np.unique(nights))
    if kind != "hgb" or n_nights < 2:
        return base.fit(X, y)
    folds = list(GroupKFold(n_splits=2).split(X, y, nights))
    if any(np.unique(y[train]).size < 2 for train, _ in folds):
        return base.fit(X, y)
    return CalibratedClassifierCV(base, method="sigmoid", cv=folds).fit(X, y)


@dataclass
class ForecastModel:
    """Per-lead classifiers and what they were trained on.

    Attributes
    ----------
    kind
        ``hgb`` or ``logistic`` (:func:`model_kind`).
    leads_min
        Forecast leads (minutes after the issue time).
    variables
        Solar-wind catalog variables the features use.
    features
        Feature columns, in order (:func:`aurora_sw.forecast.features.features`).
    site
        Catalog key of the camera site.
    nights
        Training nights.
    threshold
        The index's ``p_aurora`` threshold that defined "aurora" in training.
    classifiers
        ``{lead: fitted classifier}``.
    """

    kind: str
    leads_min: list[int]
    variables: list[str]
    features: list[str]
    site: str
    nights: list[str]
    threshold: float
    classifiers: dict[int, Any] = field(default_factory=dict, repr=False)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """P(aurora at t + lead) for each row of ``X``: one column ``p_{lead}`` per lead."""
        return pd.DataFrame({f"p_{lead}": self.classifiers[lead].predict_proba(X[feature_columns(self.features, lead)])[:, 1] for lead in self.leads_min}, index=X.index)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.json`` and one ``lead_{Δ}.skops`` per lead into ``folder``."""
        import skops.io as sio

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for lead, clf in self.classifiers.items():
            sio.dump(clf, folder / f"lead_{lead}.skops")
        meta = {k: v for k, v in asdict(self).items() if k != "classifiers"}
        (folder / "model.json").write_text(json.dumps({"format": FORMAT, **meta}, indent=2))
        return folder


def load_forecast_model(folder: str | os.PathLike) -> ForecastModel:
    """Read a model written by :meth:`ForecastModel.save`; only scikit-learn's and numpy's types load.

    Raises
    ------
    AuroraSWError
        One line naming the file: no model there, another format, or a file holding types other
        than scikit-learn's (refused, never unpickled).
    """
    import skops.io as sio

    folder = Path(folder)
    meta_path = folder / "model.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise AuroraSWError(f"{folder}: no forecast model here (no model.json); write one with `aurora-sw forecast train --out {folder}`") from None
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{meta_path}: not a forecast model's model.json ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
        raise AuroraSWError(f"{meta_path}: not an aurora-sw forecast model of format {FORMAT}")
    try:
        model = ForecastModel(**meta)
    except TypeError:
        raise AuroraSWError(f"{meta_path}: not the fields of a forecast model ({', '.join(meta)}); train it again") from None
    for lead in model.leads_min:
        path = folder / f"lead_{lead}.skops"
        try:
            untrusted = sio.get_untrusted_types(file=path)
            unsafe = [t for t in untrusted if not t.startswith(("sklearn.", "numpy.", "scipy."))]
            if unsafe:
                raise AuroraSWError(f"{path}: holds types that are not scikit-learn's ({', '.join(unsafe[:3])}); refused, not loaded")
            model.classifiers[lead] = sio.load(path, trusted=untrusted)
        except AuroraSWError:
            raise
        except Exception as exc:  # skops raises many kinds on a damaged file
            raise AuroraSWError(f"{path}: not a readable forecast model ({type(exc).__name__}); train it again") from None
    return model
