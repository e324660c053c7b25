"""Correlations: pick a solar-wind driver and an index response, lag range, smoothing and sky
condition; the lagged correlation with its significance band and peak-lag CI, the scatter at the
best lag, and a superposed epoch of the response around solar-wind events."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aurora_sw.analysis.epochs import SOUTHWARD_TURNING
from aurora_sw.errors import AuroraSWError
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
from aurora_sw.workflows.correlate import DEFAULT_LAGS, CorrelationResult, correlate
from aurora_sw.workflows.epochs import EpochResult, epochs
from explorer_views.data import DataRoot

RESPONSES = ("p_aurora", "green_excess", "aurora_area_night", "aurora_area", "red_excess")
SMOOTHING = {"none": 0, "10 min": 10, "30 min": 30, "60 min": 60}


@st.cache_data(show_spinner="lagged correlation…", max_entries=32)
def _ccf(root: str, driver: str, response: str, lags: tuple[int, int], conditions: tuple[str, ...], smooth: int, method: str) -> CorrelationResult:
    # The same workflow, with the same defaults, as `aurora-sw correlate` and the demo: one answer.
    data = DataRoot(root)
    return correlate(data.index(), data.solarwind(), drivers=[driver], response=response, lags=range(lags[0], lags[1] + 1),
                     conditions=conditions, smooth_min=smooth, method=method)


@st.cache_data(show_spinner="superposed epochs…", max_entries=16)
def _sea(root: str, response: str, conditions: tuple[str, ...], threshold: float) -> EpochResult | str:
    """The epochs around southward turnings at ``threshold`` nT, or why there are none."""
    from dataclasses import replace

    from aurora_sw.analysis.merge import condition_mask

    data = DataRoot(root)
    index = data.index()
    turning = replace(SOUTHWARD_TURNING, threshold=threshold)
    series = {response: index[response].where(condition_mask(index, list(conditions))).load(), "bz_gsm": data.solarwind()["bz_gsm"]}
    try:
        return epochs(series, turning, variable=response)
    except AuroraSWError as exc:
        return str(exc)


def render(data: DataRoot) -> None:
    st.header("Correlations")
    sw = data.solarwind()
    if sw is None:
        st.info(f"No solar wind under the data root ({data.layout.outputs.solarwind}): run `aurora-sw demo`, "
                f"or `aurora-sw solarwind fetch --out {data.layout.solarwind}`.")
        return
    index_vars = [v for v in RESPONSES if v in data.index()]
    c1, c2, c3, c4 = st.columns(4)
    driver = c1.selectbox("solar-wind driver", list(sw.data_vars), index=list(sw.data_vars).index("newell") if "newell" in sw else 0, key="driver")
    response = c2.selectbox("aurora response", index_vars, key="response")
    smooth = c3.selectbox("running mean of the driver", list(SMOOTHING), key="smooth")
    method = c4.selectbox("method", ["pearson", "spearman"], key="method")
    c5, c6 = st.columns([2, 3])
    lags = c5.slider("lags (min; positive: solar wind leads)", -360, 360, (DEFAULT_LAGS.start, DEFAULT_LAGS.stop - 1), step=5, key="lags")
    conditions = c6.multiselect("sky conditions (minutes kept; none: all)", list(SUN_CLASSES + MOON_CLASSES), default=[], key="conditions")

    found = _ccf(str(data.root), driver, response, tuple(lags), tuple(conditions), SMOOTHING[smooth], method)
    res = found.lags[driver]
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
    st.caption(f"{found.summary(driver)}. {a['lag_mask']}.")

    lag = int(a["peak_lag_min"])
    x, y = found.pairs_at_peak(driver)
    left, right = st.columns(2)
    left.plotly_chart(
        go.Figure(go.Scattergl(x=x, y=y, mode="markers", marker=dict(size=3, opacity=0.4, color="#2ecc71")))
        .update_layout(title=f"{response} against {driver} {lag} min earlier ({len(x):,} minutes)", xaxis_title=driver, yaxis_title=response, height=360),
        width="stretch",
    )
    if "bz_gsm" in sw:
        threshold = right.number_input("event: Bz turns below (nT), after 60 min above", value=-3.0, step=1.0, key="bz_threshold")
        found_sea = _sea(str(data.root), response, tuple(conditions), float(threshold))
        if isinstance(found_sea, str):
            right.info(f"No epochs to show: {found_sea}")
        else:
            sea = found_sea.epochs
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
