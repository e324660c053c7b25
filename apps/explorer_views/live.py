"""Live: the camera's latest still, p now, and the forecast curve of the latest minute of `aurora-sw live`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer_views.data import DataRoot


def render(data: DataRoot) -> None:
    st.header("Live")
    table = data.live()
    if table is None or table.empty:
        st.info(f"Nothing has run live under the data root ({data.layout.outputs.live}/): "
                f"`aurora-sw live --model {data.layout.checkpoint} --forecast {data.layout.forecast} --store {data.layout.live} --every 60s`.")
        return
    latest = table.iloc[-1]
    t = latest["time_utc"]
    leads = sorted(int(c[2:]) for c in table.columns if c.startswith("p_") and c[2:].isdigit())
    left, right = st.columns([2, 3])
    still = data.layout.live / "frames" / f"{t:%Y%m%dT%H%M}00Z.jpg"
    if np.isfinite(latest["p_now"]) and still.exists():
        left.image(str(data.inside(still)), caption=f"{t:%Y-%m-%d %H:%M} UTC: p(aurora) now {latest['p_now']:.2f}")
    else:
        left.warning(f"{t:%Y-%m-%d %H:%M} UTC: no frame scored ({latest.get('frame_problem', '') or 'no still'})")
    fig = go.Figure(go.Scatter(x=[t + np.timedelta64(lead, "m") for lead in leads], y=[latest[f"p_{lead}"] for lead in leads], mode="lines+markers",
                               line=dict(color="#f5a623"), name="forecast"))
    past = table.tail(180)
    fig.add_trace(go.Scatter(x=past["time_utc"], y=past["p_now"], mode="lines", line=dict(color="#2ecc71"), name="p now (camera)"))
    fig.update_layout(title=f"forecast issued {t:%H:%M} UTC, and the camera's last {len(past)} minutes", xaxis_title="UTC", yaxis_title="P(aurora)",
                      yaxis_range=[0, 1], height=380)
    right.plotly_chart(fig, width="stretch")
    alerts = table[table.get("alerts", "").fillna("").astype(str) != ""] if "alerts" in table else table.iloc[:0]
    st.caption(f"{len(table)} live minutes in {Path(data.layout.live).name}/live.csv; {len(alerts)} with alerts.")
