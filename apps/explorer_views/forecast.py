"""Forecast: skill against lead with each baseline and its CI, the reliability diagram, and one held-out
night's forecast against what the camera saw (all from what `aurora-sw forecast train` wrote)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer_views.data import DataRoot


def render(data: DataRoot) -> None:
    st.header("Forecast")
    found = data.forecast()
    if found is None:
        st.info(f"No trained forecast under the data root ({data.layout.outputs.forecast}/): run `aurora-sw demo`, or "
                f"`aurora-sw forecast train --index {data.layout.index} --out {data.layout.forecast}`.")
        return
    verification, held = found
    leads = sorted(verification["leads"], key=int)
    names = sorted({n for v in verification["leads"].values() for n in v["bss"]})
    skill = go.Figure()
    for name in names:
        x = [int(k) for k in leads if name in verification["leads"][k]["bss"]]
        y = [verification["leads"][str(k)]["bss"][name] for k in x]
        ci = [verification["leads"][str(k)]["ci"].get(f"bss_{name}", [np.nan, np.nan]) for k in x]
        skill.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"vs {name}",
                                   error_y=dict(type="data", symmetric=False, array=[hi - v for v, (_, hi) in zip(y, ci)], arrayminus=[v - lo for v, (lo, _) in zip(y, ci)])))
    skill.add_hline(y=0, line=dict(color="#888", width=1))
    skill.update_layout(title="Brier skill score on held-out nights (95 % CIs)", xaxis=dict(title="lead (min)", tickmode="array", tickvals=[int(k) for k in leads]),
                        yaxis_title="skill (> 0: better than the baseline)", height=380)
    left, right = st.columns(2)
    left.plotly_chart(skill, width="stretch")
    rel = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#999", dash="dash"), name="perfect"))
    for k in leads:
        r = verification["leads"][k]["reliability"]
        rel.add_trace(go.Scatter(x=r["forecast"], y=r["observed"], mode="lines+markers", name=f"t+{k} min", text=[f"{n} min" for n in r["count"]]))
    rel.update_layout(title="reliability", xaxis_title="forecast probability", yaxis_title="observed frequency", height=380)
    right.plotly_chart(rel, width="stretch")
    rows = [{"lead (min)": int(k), "model": v.get("model", ""), "ROC-AUC": v["roc_auc"], "Brier": v["brier"], "TSS": v["tss"], "minutes": v["n_minutes"],
             "nights": v["n_nights"], **{f"BSS vs {n}": v["bss"].get(n, np.nan) for n in names}} for k, v in ((k, verification["leads"][k]) for k in leads)]
    st.dataframe(rows, hide_index=True)

    c1, c2 = st.columns(2)
    lead = c1.selectbox("lead (min)", [int(k) for k in leads], index=len(leads) - 1 if "60" not in leads else leads.index("60"), key="forecast_lead")
    one = held.xs(lead, level="lead_min") if "lead_min" in held.index.names else held
    night = c2.selectbox("held-out night", sorted(one["night"].unique()), key="forecast_night")
    sel = one[one["night"] == night].sort_index()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=sel.index, y=sel["y"], mode="markers", marker=dict(size=4, color="#2ecc71"), name=f"aurora at t+{lead} (camera)"))
    fig.add_trace(go.Scatter(x=sel.index, y=sel["forecast"], mode="lines", line=dict(color="#f5a623"), name="forecast"))
    for name in ("persistence", "climatology", "kp_rule"):
        if name in sel:
            fig.add_trace(go.Scatter(x=sel.index, y=sel[name], mode="lines", line=dict(width=1, dash="dot"), name=name, visible="legendonly"))
    fig.update_layout(title=f"night {night}: forecast issued at t for t+{lead} min, against what the camera saw", xaxis_title="issue time t (UTC)",
                      yaxis_title="P(aurora)", height=360)
    st.plotly_chart(fig, width="stretch")
