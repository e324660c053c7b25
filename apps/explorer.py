"""aurora-sw Explorer: browse nights, frames, classifier results and lag analyses.

    streamlit run apps/explorer.py -- --data demo_out

Reads what the library wrote under the data root (index.zarr, summary.json, model/,
lag_*.nc, solarwind.nc, archive/manifest.parquet); it never recomputes the archive.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import xarray as xr
from plotly.subplots import make_subplots

from aurora_sw.errors import AuroraSWError
from aurora_sw.index.store import class_names, nightly_summary, open_index
from aurora_sw.ingest import read_manifest


def data_root() -> Path:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default="demo_out")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.data).resolve()


def inside(root: Path, path: str | Path) -> Path:
    """Resolve ``path`` and refuse anything outside the data root."""
    p = (root / path).resolve()
    if root != p and root not in p.parents:
        raise AuroraSWError(f"{path}: outside the data root {root}")
    return p


@st.cache_resource
def load_index(root: str) -> xr.Dataset:
    return open_index(Path(root) / "index.zarr")


@st.cache_data
def load_nightly(root: str) -> pd.DataFrame:
    return nightly_summary(load_index(root)[["night", "p_aurora", "aurora", "sun_alt"]].load())


@st.cache_data
def load_night(root: str, night: str) -> pd.DataFrame:
    ds = load_index(root)
    sel = ds.where(ds["night"] == np.datetime64(night), drop=True).load()
    df = sel[["p_aurora", "green_excess", "aurora_area", "sun_alt", "moon_alt"]].to_dataframe()
    df["sun_class"] = class_names(sel["sun_class"])
    df["moon_class"] = class_names(sel["moon_class"])
    return df


@st.cache_data
def load_solarwind(root: str) -> pd.DataFrame | None:
    path = Path(root) / "solarwind.nc"
    return xr.open_dataset(path).to_dataframe() if path.exists() else None


@st.cache_data
def load_frames(root: str) -> pd.DataFrame:
    m = read_manifest(Path(root) / "archive")
    m["time"] = pd.to_datetime(m["time_utc"], utc=True).dt.tz_localize(None).dt.floor("1min")
    return m.set_index("time")


def page_overview(root: Path) -> None:
    st.header("Overview")
    summary_path = root / "summary.json"
    if summary_path.exists():
        s = json.loads(summary_path.read_text())
        c = st.columns(4)
        c[0].metric("frames scored", f"{s['n_frames_scored']:,}")
        c[1].metric("classifier accuracy (held-out nights)", f"{s['classifier_accuracy']:.3f}")
        c[2].metric("recovered lag", f"{s['recovered_lag_min']:.0f} min", help=f"95% CI {s['lag_ci_min']}")
        c[3].metric("planted lag", f"{s['planted_lag_min']:.0f} min")
    nightly = load_nightly(str(root))
    fig = go.Figure(go.Bar(x=nightly.index, y=nightly["aurora_fraction"], marker_color="#3ddc84"))
    fig.update_layout(title="Aurora fraction per night", yaxis_title="fraction of scored minutes", height=320)
    st.plotly_chart(fig, width="stretch")
    st.dataframe(nightly, width="stretch")


def page_night(root: Path) -> None:
    st.header("Night")
    nightly = load_nightly(str(root))
    night = st.selectbox("night (local date at dusk)", list(nightly.index), key="night")
    df = load_night(str(root), night)
    sw = load_solarwind(str(root))
    rows = 3 if sw is not None else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=df.index, y=df["p_aurora"], name="P(aurora)", line=dict(color="#3ddc84")), 1, 1)
    dark = df["sun_class"] == "Night"
    fig.add_trace(go.Scatter(x=df.index, y=np.where(dark, 1.05, np.nan), name="Night (Sun <= -18 deg)", mode="lines", line=dict(color="#555", width=6)), 1, 1)
    if sw is not None:
        s = sw.loc[df.index.min() - pd.Timedelta(hours=2) : df.index.max()]
        fig.add_trace(go.Scatter(x=s.index, y=s["newell"], name="Newell coupling", line=dict(color="#f5a623")), 2, 1)
        fig.add_trace(go.Scatter(x=s.index, y=s["bz_gsm"], name="Bz GSM (nT)", line=dict(color="#4a90e2")), 3, 1)
    fig.update_layout(height=520, title=f"Night {night} (UTC)")
    st.plotly_chart(fig, width="stretch")

    frames = load_frames(str(root))
    times = [t for t in df.index if t in frames.index]
    if times:
        i = st.slider("frame", 0, len(times) - 1, len(times) // 2, key="frame")
        t = times[i]
        path = inside(root, frames.loc[t, "path"] if isinstance(frames.loc[t, "path"], str) else frames.loc[t, "path"].iloc[0])
        c1, c2 = st.columns([2, 1])
        c1.image(str(path), caption=f"{t:%Y-%m-%d %H:%M} UTC", width="stretch")
        c2.metric("P(aurora)", f"{df.loc[t, 'p_aurora']:.2f}")
        c2.metric("green excess (DN)", f"{df.loc[t, 'green_excess']:.1f}")
        c2.write(f"sky: {df.loc[t, 'sun_class']} / {df.loc[t, 'moon_class']}")
    st.download_button("download this night (CSV)", df.to_csv().encode(), f"aurora_index_{night}.csv", "text/csv")


def page_classifier(root: Path) -> None:
    st.header("Classifier")
    mpath = root / "model" / "heldout_metrics.json"
    if not mpath.exists():
        st.info("No classifier report yet: run `aurora-sw demo`.")
        return
    m = json.loads(mpath.read_text())
    c = st.columns(5)
    for col, key in zip(c, ["accuracy", "precision", "recall", "f1", "roc_auc"]):
        col.metric(key, f"{m[key]:.3f}")
    cm = m["confusion"]
    st.write("confusion matrix (held-out nights, every frame)")
    st.table(pd.DataFrame([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]], index=["true no", "true yes"], columns=["pred no", "pred yes"]))
    table = root / "model" / "heldout_per_condition.csv"
    if table.exists():
        st.write("per sky condition")
        st.dataframe(pd.read_csv(table), width="stretch")


def page_correlations(root: Path) -> None:
    st.header("Correlations")
    files = sorted(root.glob("lag_*.nc"))
    if not files:
        st.info("No lag analysis yet: run `aurora-sw demo` or `aurora-sw correlate --out`.")
        return
    choice = st.selectbox("analysis", [f.name for f in files], key="analysis")
    ds = xr.open_dataset(root / choice)
    a = ds.attrs
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ds["lag"], y=ds["r"], name="r", line=dict(color="#3ddc84")))
    fig.add_trace(go.Scatter(x=ds["lag"], y=ds["r_crit"], name="95% band (effective N)", line=dict(color="#999", dash="dash")))
    fig.add_trace(go.Scatter(x=ds["lag"], y=-ds["r_crit"], showlegend=False, line=dict(color="#999", dash="dash")))
    fig.add_vrect(x0=a["peak_lag_ci_low"], x1=a["peak_lag_ci_high"], fillcolor="#f5a623", opacity=0.2, line_width=0)
    fig.update_layout(title=f"{a['driver']} leads {a['response']} by {a['peak_lag_min']:.0f} min (CI {a['peak_lag_ci_low']:.0f}..{a['peak_lag_ci_high']:.0f})",
                      xaxis_title="lag (min, positive: solar wind leads)", yaxis_title="correlation", height=420)
    st.plotly_chart(fig, width="stretch")
    st.write(f"peak r = {a['peak_r']:.3f}, p = {a['peak_p_value']:.2g} (autocorrelation-aware), naive p = {float(ds['p_value_naive'].sel(lag=a['peak_lag_min'])):.2g}")


def main() -> None:
    st.set_page_config(page_title="aurora-sw Explorer", layout="wide")
    root = data_root()
    if not (root / "index.zarr").exists():
        st.title("aurora-sw Explorer")
        st.warning(f"No aurora index under {root}.")
        st.markdown("Make one offline with the synthetic sky, then reopen:\n\n```\naurora-sw demo --quick --out demo_out\nstreamlit run apps/explorer.py -- --data demo_out\n```")
        return
    pages = {"Overview": page_overview, "Night": page_night, "Classifier": page_classifier, "Correlations": page_correlations}
    page = st.sidebar.radio("page", list(pages), key="page")
    st.sidebar.caption(f"data: {root}")
    pages[page](root)


main()
