"""Classifier evaluation: metrics, calibration and the per-sky-condition table of the seed study."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from aurora_sw.errors import AuroraSWError

PREDICTIONS_NAME = "predictions.csv"
PREDICTION_COLUMNS = ("path", "label", "p_aurora", "predicted")


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks); NaN if one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    pos, neg = y.sum(), (~y).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise average precision)."""
    y = np.asarray(y, bool)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score), kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: |accuracy - confidence| averaged over equal-width probability bins, weighted by count."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def classification_metrics(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC, PR-AUC, ECE and the confusion matrix.

    ``y_true`` is boolean (aurora), ``p`` the probability of aurora; NaN probabilities
    (unreadable frames) are left out and counted in ``n_missing``.
    """
    y_true = np.asarray(y_true, bool)
    p = np.asarray(p, float)
    ok = np.isfinite(p)
    y, p = y_true[ok], p[ok]
    pred = p >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "n": int(len(y)),
        "n_missing": int((~ok).sum()),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(y, p),
        "pr_auc": average_precision(y, p),
        "ece": expected_calibration_error(y, p),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "threshold": threshold,
    }


def morphology_metrics(true: np.ndarray, pred: np.ndarray, classes: tuple[str, ...] | list[str]) -> dict:
    """Per-class precision, recall, F1 and support, top-1 accuracy and the confusion matrix.

    ``true`` and ``pred`` are class names; rows of the confusion matrix are the true classes and
    columns the predicted ones, both in ``classes`` order. A class never predicted has precision
    NaN; one never true, recall NaN (they are undefined, not 0).
    """
    true, pred = np.asarray(true, dtype=object), np.asarray(pred, dtype=object)
    confusion = np.array([[int(((true == t) & (pred == q)).sum()) for q in classes] for t in classes])
    per_class = {}
    for i, c in enumerate(classes):
        tp, predicted, support = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = tp / predicted if predicted else float("nan")
        recall = tp / support if support else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if predicted and support and tp else (0.0 if predicted and support else float("nan"))
        per_class[c] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)}
    return {"accuracy": float((true == pred).mean()) if len(true) else float("nan"), "n": int(len(true)), "classes": list(classes),
            "per_class": per_class, "confusion": confusion.tolist()}


def morphology_by_condition(frames: pd.DataFrame) -> pd.DataFrame:
    """Class accuracy per sun class x moon class: ``frames`` has ``label`` and ``morphology`` (the
    predicted class), ``sun_class`` and ``moon_class``."""
    rows = [{"sun_class": sun, "moon_class": moon, "frames": len(g), "class_accuracy": float((g["label"] == g["morphology"]).mean())}
            for (sun, moon), g in frames.groupby(["sun_class", "moon_class"])]
    return pd.DataFrame(rows).set_index(["sun_class", "moon_class"])


def per_condition_table(frames: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """The seed study's table per sun class x moon class.

    ``frames`` has ``sun_class``, ``moon_class``, ``p_aurora`` and optionally ``label``
    (yes/no). Columns: frames, predicted aurora ratio, softmax mean and std, and, where labels
    exist, accuracy, false-positive and false-negative rates.
    """
    rows = []
    for (sun, moon), g in frames.groupby(["sun_class", "moon_class"]):
        p = g["p_aurora"].to_numpy(float)
        row = {
            "sun_class": sun,
            "moon_class": moon,
            "frames": len(g),
            "predicted_aurora_ratio": float(np.nanmean(p >= threshold)),
            "softmax_mean": float(np.nanmean(p)),
            "softmax_std": float(np.nanstd(p)),
        }
        if "label" in g:
            y = g["label"].to_numpy() == "yes"
            pred = p >= threshold
            row["accuracy"] = float((pred == y).mean())
            row["false_positive_rate"] = float((pred & ~y).sum() / max((~y).sum(), 1))
            row["false_negative_rate"] = float((~pred & y).sum() / max(y.sum(), 1))
        rows.append(row)
    return pd.DataFrame(rows).set_index(["sun_class", "moon_class"])


def write_report(frames: pd.DataFrame, out_dir, threshold: float = 0.5, bins: int = 10) -> dict:
    """Metrics JSON, per-condition CSV, reliability diagram and softmax histograms per condition.

    ``frames`` has ``p_aurora``, ``label`` (yes/no), ``sun_class`` and ``moon_class``.
    Writes ``metrics.json``, ``per_condition.csv``, ``predictions.csv`` (one row per frame, with
    ``predicted``; frame paths relative to ``out_dir``, so a copied or moved data root still finds
    its frames: read it back with :func:`read_predictions`), ``reliability.png`` and
    ``softmax_by_condition.png`` into ``out_dir`` and returns the metrics.
    """
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labelled = frames[frames["label"].isin(["yes", "no"])]
    y = labelled["label"].to_numpy() == "yes"
    p = labelled["p_aurora"].to_numpy(float)
    metrics = classification_metrics(y, p, threshold)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    per_condition_table(frames, threshold).to_csv(out / "per_condition.csv")
    keep = [c for c in ("time_utc", "night", "path", "label", "p_aurora", "sun_class", "moon_class") if c in frames]
    predictions = frames[keep].assign(predicted=np.where(frames["p_aurora"] >= threshold, "yes", "no"))
    if "path" in predictions:
        predictions["path"] = [_relative_to(p, out) for p in predictions["path"].astype(str)]
    predictions.to_csv(out / PREDICTIONS_NAME, index=False)

    ok = np.isfinite(p)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip((p[ok] * bins).astype(int), 0, bins - 1)
    conf = [p[ok][idx == b].mean() if (idx == b).any() else np.nan for b in range(bins)]
    acc = [y[ok][idx == b].mean() if (idx == b).any() else np.nan for b in range(bins)]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), constrained_layout=True)
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", label="perfect calibration")
    ax.plot(conf, acc, "o-", color="#1b9e77", label=f"model (ECE {metrics['ece']:.3f})")
    ax.set_xlabel("predicted P(aurora)")
    ax.set_ylabel("observed aurora fraction")
    ax.legend(fontsize=8)
    fig.savefig(out / "reliability.png", dpi=110)
    plt.close(fig)

    groups = list(frames.groupby(["sun_class", "moon_class"]))
    fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(3 * max(len(groups), 1), 2.8), sharey=True, constrained_layout=True, squeeze=False)
    for ax, ((sun, moon), g) in zip(axes[0], groups):
        ax.hist(g["p_aurora"].dropna(), bins=edges, color="#7570b3")
        ax.set_title(f"{sun} / {moon}\n{len(g)} frames", fontsize=8)
        ax.set_xlabel("P(aurora)")
    axes[0][0].set_ylabel("frames")
    fig.savefig(out / "softmax_by_condition.png", dpi=110)
    plt.close(fig)
    return metrics


def _relative_to(path: str, folder) -> str:
    """``path`` relative to ``folder``; absolute where no relative path exists (another drive)."""
    try:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:
        return os.path.abspath(path)


def read_predictions(report_dir) -> pd.DataFrame:
    """The per-frame predictions of a report written by :func:`write_report`.

    Parameters
    ----------
    report_dir
        The report folder (holding ``predictions.csv``).

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``path`` (absolute: relative paths are resolved against the report
        folder, absolute ones from older reports kept as written), ``label``, ``p_aurora``,
        ``predicted`` and, where written, ``time_utc`` (UTC), ``night``, ``sun_class``, ``moon_class``.
    """
    from pathlib import Path

    path = Path(report_dir) / PREDICTIONS_NAME
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise AuroraSWError(f"{path}: no predictions here; write them with `aurora-sw evaluate --out {report_dir}`") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AuroraSWError(f"{path}: cannot read the predictions ({exc})") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in df]
    if missing:
        raise AuroraSWError(f"{path}: not an aurora-sw predictions file (missing columns {missing})")
    base = os.path.abspath(path.parent)
    df["path"] = [p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p)) for p in df["path"].astype(str)]
    return df
