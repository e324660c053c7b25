"""Correlations: pick a solar-wind driver and an index response, lag range, smoothing and sky
condition; the lagged correlation with its significance band and peak-lag CI, the scatter at the
best lag, and a superposed epoch of the response around solar-wind events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import xarray as xr

from aurora_sw.analysis.epochs import superposed_epoch, threshold_crossings
from aurora_sw.analysis.lag import lagged_correlation, peak_summary
from aurora_sw.analysis.merge import merge_index_solarwind
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
from explorer_views.data import DataRoot

RESPONSES = ("p_aurora", "green_excess", "aurora_area_night", "aurora_area", "red_excess")
SMOOTHING = {"none": None, "10 min": 10, "30 min": 30, "60 min": 60}


@st.cache_data(show_spinner="merging the index with the solar wind…", max_entries=16)
def _merged(root: str, conditions: tuple[str, ...], smooth: int | None) -> xr.Dataset:
    data = DataRoot(root)
    index = data.index()[[v for v in (*RESPONSES, "sun_class", "moon_class", "night", "aurora") if v in data.index()]].load()
    return merge_index_solarwind(index, data.solarwind(), list(conditions) or None, smooth)


@st.cache_data(show_spinner="lagged correlation…", max_entries=32)
def _ccf(root: str, driver: str, response: str, lags: tuple[int, int], conditions: tuple[str, ...], smooth: int | None, method: str) -> xr.Dataset:
    merged = _merged(root, conditions, smooth)
    return lagged_correlation(merged[driver], merged[response], lags=range(lags[0], lags[1] + 1), method=method, n_boot=200, peak="abs")


@st.cache_data(show_spinner="superposed epochs…", max_entries=16)
def _sea(root: str, response: str, conditions: tuple[str, ...], threshold: float) -> xr.Dataset | None:
    data = DataRoot(root)
    events = threshold_crossings(data.solarwind()["bz_gsm"], threshold, below=True, quiet_min=60)
    merged = _merged(root, conditions, None)
    events = events[(events >= pd.Timestamp(merged["time"].values[0])) & (events <= pd.Timestamp(merged["time"].values[-1]))]
    if len(events) == 0:
        return None
    return superposed_epoch(merged[response], events, window_min=(-120, 240), bin_min=5, n_random=100)


def render(data: DataRoot) -> None:
    st.header("Correlations")
    sw = data.solarwind()
    if sw is None:
        st.info("No solar wind under the data root (solarwind.nc): run `aurora-sw demo`, or `aurora-sw solarwind fetch --out DIR/solarwind.nc`.")
        return
    index_vars = [v for v in RESPONSES if v in data.index()]
    c1, c2, c3, c4 = st.columns(4)
    driver = c1.selectbox("solar-wind driver", list(sw.data_vars), index=list(sw.data_vars).index("newell") if "newell" in sw else 0, key="driver")
    response = c2.selectbox("aurora response", index_vars, key="response")
    smooth = c3.selectbox("running mean of the driver", list(SMOOTHING), key="smooth")
    method = c4.selectbox("method", ["pearson", "spearman"], key="method")
    c5, c6 = st.columns([2, 3])
    lags = c5.slider("lags (min; positive: solar wind leads)", -360, 360, (-60, 180), step=5, key="lags")
    conditions = c6.multiselect("sky conditions (minutes kept)", list(SUN_CLASSES + MOON_CLASSES), default=["Night"], key="conditions")

    res = _ccf(str(data.root), driver, response, tuple(lags), tuple(conditions), SMOOTHING[smooth], method)
    a = res.attrs
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=res["lag"], y=res["r"], name="r", line=dict(color="#2ecc71")))
    fig.add_trace(go.Scatter(x=res["lag"], y=res["r_crit"], name="95% band (effective N)", line=dict(color="#999", dash="dash")))
    fig.add_trace(go.Scatter(x=res["lag"], y=-res["r_crit"], showlegend=False, line=dict(color="#999", dash="dash")))
    if np.isfinite(a["peak_lag_ci_low"]):
        fig.add_vrect(x0=a["peak_lag_ci_low"], x1=a["peak_lag_ci_high"], fillcolor="#f5a623", opacity=0.2, line_width=0)
    fig.update_layout(title=f"{driver} → {response}: peak at {a['peak_lag_min']:.0f} min (95% CI {a['peak_lag_ci_low']:.0f}..{a['peak_lag_ci_high']:.0f}), r = {a['peak_r']:.3f}",
                      xaxis_title="lag (min, positive: solar wind leads)", yaxis_title=f"{method} correlation", height=380)
    st.plotly_chart(fig, width="stretch")
    st.caption(f"{peak_summary(res)}. {a['lag_mask']}.")

    merged = _merged(str(data.root), tuple(conditions), SMOOTHING[smooth])
    lag = int(a["peak_lag_min"])
    x = merged[driver].shift(time=lag).values  # driver at t - lag against response at t
    y = merged[response].values
    ok = np.isfinite(x) & np.isfinite(y)
    left, right = st.columns(2)
    left.plotly_chart(
        go.Figure(go.Scattergl(x=x[ok], y=y[ok], mode="markers", marker=dict(size=3, opacity=0.4, color="#2ecc71")))
        .update_layout(title=f"{response} against {driver} {lag} min earlier ({ok.sum():,} minutes)", xaxis_title=driver, yaxis_title=response, height=360),
        width="stretch",
    )
    if "bz_gsm" in sw:
        threshold = right.number_input("event: Bz turns below (nT), after 60 min above", value=-3.0, step=1.0, key="bz_threshold")
        sea = _sea(str(data.root), response, tuple(conditions), float(threshold))
        if sea is None:
            right.info("No southward turnings in the imaged interval.")
        else:
            fig = go.Figure()
            e = sea["epoch"].values
            fig.add_trace(go.Scatter(x=e, y=sea["random_high"], line=dict(color="#bbb", dash="dot"), name="random epochs 95%"))
            fig.add_trace(go.Scatter(x=e, y=sea["random_low"], line=dict(color="#bbb", dash="dot"), showlegend=False))
            fig.add_trace(go.Scatter(x=e, y=sea["q75"], line=dict(width=0), showlegend=False))
            fig.add_trace(go.Scatter(x=e, y=sea["q25"], fill="tonexty", line=dict(width=0), fillcolor="rgba(46,204,113,0.25)", name="quartiles"))
            fig.add_trace(go.Scatter(x=e, y=sea["median"], line=dict(color="#27ae60"), name="median"))
            fig.add_trace(go.Bar(x=e, y=sea["n"], name="events per bin", yaxis="y2", marker_color="rgba(0,0,0,0.10)"))
            fig.update_layout(title=f"{response} around {sea.attrs['n_events']} southward turnings", xaxis_title="minutes from the turning",
                              yaxis2=dict(overlaying="y", side="right", showgrid=False, title="events in bin", range=[0, 3 * max(1, int(sea["n"].max()))]), height=360)
            right.plotly_chart(fig, width="stretch")
