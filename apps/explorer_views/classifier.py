"""Classifier: metrics, confusion matrix, per-condition table, softmax histograms and a gallery of
misclassified frames with their Grad-CAM maps, from a report written by `aurora-sw evaluate`
(or the demo's held-out report)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from aurora_sw.errors import AuroraSWError
from aurora_sw.model.checkpoint import load_checkpoint
from aurora_sw.model.evaluate import PREDICTIONS_NAME, read_predictions
from aurora_sw.model.gradcam import gradcam_maps, overlay_image
from explorer_views.data import DataRoot

GALLERY = 8


def reports(data: DataRoot) -> list[Path]:
    """Folders under the root (two levels deep) holding a ``metrics.json``."""
    found = [p.parent for pattern in ("*/metrics.json", "*/*/metrics.json") for p in data.root.glob(pattern)]
    return sorted(found)


@st.cache_data(show_spinner="Grad-CAM of the misclassified frames…", max_entries=8)
def _gallery(ckpt_path: str, paths: tuple[str, ...]) -> list[np.ndarray]:
    ckpt = load_checkpoint(ckpt_path)
    maps, _, frames = gradcam_maps(ckpt, list(paths), size=240)
    return [overlay_image(f, m) for f, m in zip(frames, maps)]


def render(data: DataRoot) -> None:
    st.header("Classifier")
    found = reports(data)
    if not found:
        st.info("No classifier report yet: run `aurora-sw demo`, or `aurora-sw evaluate --out DIR` with DIR under the data root.")
        return
    folder = data.inside(st.selectbox("report", [str(p.relative_to(data.root)) for p in found], key="report"))
    try:
        m = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{folder / 'metrics.json'}: cannot read the report ({exc}); write it again with `aurora-sw evaluate`") from None
    c = st.columns(6)
    for col, key in zip(c, ["accuracy", "precision", "recall", "f1", "roc_auc", "ece"]):
        col.metric(key, f"{m[key]:.3f}")
    cm = m["confusion"]
    left, right = st.columns(2)
    z = np.array([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]])
    left.plotly_chart(
        go.Figure(go.Heatmap(z=z, x=["pred no", "pred yes"], y=["true no", "true yes"], colorscale="Blues", text=z, texttemplate="%{text}", showscale=False))
        .update_layout(title=f"confusion matrix ({m['n']} frames)", height=300, yaxis_autorange="reversed"),
        width="stretch",
    )
    table = folder / "per_condition.csv"
    if table.exists():
        right.write("per sky condition")
        right.dataframe(pd.read_csv(table), width="stretch")

    if not (folder / PREDICTIONS_NAME).exists():
        st.caption("No predictions.csv in this report (written by aurora-sw 0.1 evaluate and later).")
        return
    pred = read_predictions(folder)  # frame paths relative to the report: a copied data root still finds them
    labelled = pred[pred["label"].isin(["yes", "no"])]
    conditions = ["all"] + sorted(labelled["sun_class"].dropna().unique()) if "sun_class" in labelled else ["all"]
    cond = st.selectbox("sky condition (histograms)", conditions, key="hist_condition")
    shown = labelled if cond == "all" else labelled[labelled["sun_class"] == cond]
    fig = go.Figure()
    for label, colour in (("no", "#7f8c8d"), ("yes", "#2ecc71")):
        fig.add_trace(go.Histogram(x=shown.loc[shown["label"] == label, "p_aurora"], name=f"true {label}", marker_color=colour, opacity=0.7, xbins=dict(start=0, end=1, size=0.05)))
    fig.update_layout(barmode="overlay", title="softmax P(aurora) by true class", xaxis_title="P(aurora)", yaxis_title="frames", height=320)
    st.plotly_chart(fig, width="stretch")

    wrong = labelled[labelled["label"] != labelled["predicted"]]
    st.subheader(f"Misclassified frames ({len(wrong)})")
    if wrong.empty:
        st.success("No misclassified frames in this report.")
        return
    wrong = wrong.assign(confidence=(wrong["p_aurora"] - 0.5).abs()).sort_values("confidence", ascending=False)
    reachable = [data.contains(p) for p in wrong["path"]]
    if not all(reachable):
        st.warning(f"{len(reachable) - sum(reachable)} frames of this report are not under the data root (moved or elsewhere); they are not shown.")
    wrong = wrong[reachable].head(GALLERY)
    if wrong.empty:
        return
    paths = [str(data.inside(p)) for p in wrong["path"]]
    ckpt = data.checkpoint_path()
    with_cam = ckpt is not None and st.toggle("with Grad-CAM", value=True, key="gallery_cam")
    images = _gallery(str(ckpt), tuple(paths)) if with_cam else paths
    cols = st.columns(4)
    for k, (img, (_, r)) in enumerate(zip(images, wrong.iterrows())):
        cols[k % 4].image(img, caption=f"{r.get('time_utc', '')} true {r['label']}, P={r['p_aurora']:.2f}", width="stretch")
