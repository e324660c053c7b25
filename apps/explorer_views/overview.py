"""Overview: archive coverage as a calendar heat map, totals by sky condition, filters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from aurora_sw.analysis.recurrence import recurrence_panels
from aurora_sw.errors import AuroraSWError
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
from explorer_views.data import DataRoot

SEASONS = {"all year": tuple(range(1, 13)), "winter (DJF)": (12, 1, 2), "spring (MAM)": (3, 4, 5), "summer (JJA)": (6, 7, 8), "autumn (SON)": (9, 10, 11)}


def calendar_figure(nightly: pd.DataFrame) -> go.Figure:
    """Nightly aurora fraction as a calendar: one column per week, one row per weekday."""
    nights = pd.to_datetime(nightly.index)
    days = pd.date_range(nights.min() - pd.Timedelta(days=int(nights.min().weekday())), nights.max(), freq="D")
    frac = pd.Series(nightly["aurora_fraction"].to_numpy(float), index=nights).reindex(days)
    week = (days - days[0]).days // 7
    grid = np.full((7, int(week.max()) + 1), np.nan)
    text = np.full(grid.shape, "", dtype=object)
    for d, w, v in zip(days, week, frac.to_numpy()):
        grid[d.weekday(), w] = v
        text[d.weekday(), w] = f"{d:%Y-%m-%d}: " + ("not imaged" if np.isnan(v) else f"{v:.0%} aurora")
    mondays = [days[0] + pd.Timedelta(weeks=int(w)) for w in range(grid.shape[1])]
    fig = go.Figure(
        go.Heatmap(
            z=grid, x=[f"{m:%Y-%m-%d}" for m in mondays], y=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            text=text, hoverinfo="text", colorscale="Greens", zmin=0, zmax=1, xgap=2, ygap=2,
            colorbar=dict(title="aurora<br>fraction"),
        )
    )
    fig.update_layout(title="Nightly aurora fraction (night = local date at dusk; blank = not imaged)", height=300, yaxis_autorange="reversed", xaxis_title="week of", xaxis_type="category")
    return fig


def render(data: DataRoot) -> None:
    st.header("Overview")
    summary_path = data.layout.summary
    if summary_path.exists():
        try:
            s = json.loads(summary_path.read_text())
        except (OSError, ValueError) as exc:
            raise AuroraSWError(f"{summary_path}: cannot read the run summary ({exc}); run `aurora-sw demo` again to write it") from None
        c = st.columns(4)
        c[0].metric("frames scored", f"{s['n_frames_scored']:,}")
        c[1].metric("classifier accuracy (held-out nights)", f"{s['classifier_accuracy']:.3f}")
        c[2].metric("recovered lag", f"{s['recovered_lag_min']:.0f} min", help=f"95% CI {s['lag_ci_min']}")
        c[3].metric("planted lag", f"{s['planted_lag_min']:.0f} min")

    f1, f2, f3 = st.columns([1, 2, 2])
    season = f1.selectbox("season", list(SEASONS), key="season")
    suns = f2.multiselect("Sun classes", list(SUN_CLASSES), default=list(SUN_CLASSES), key="sun_filter")
    moons = f3.multiselect("Moon classes", list(MOON_CLASSES), default=list(MOON_CLASSES), key="moon_filter")

    nightly = data.nightly()
    months = SEASONS[season]
    shown = nightly[pd.to_datetime(nightly.index).month.isin(months)]
    if shown.empty:
        st.info(f"No imaged nights in {season}.")
    else:
        st.plotly_chart(calendar_figure(shown), width="stretch")

    table = data.condition_table(months)
    table = table[table.index.get_level_values("sun_class").isin(suns) & table.index.get_level_values("moon_class").isin(moons)]
    st.subheader("Totals by sky condition")
    st.caption("Scored minutes and aurora minutes for each Sun class x Moon class (the thesis' sun x moon tables).")
    if table.empty:
        st.info("No scored minutes under these filters.")
    else:
        c1, c2 = st.columns(2)
        c1.dataframe(table.style.format({"aurora_fraction": "{:.1%}"}), width="stretch")
        pivot = table["aurora_fraction"].unstack("moon_class")
        c2.plotly_chart(
            go.Figure(go.Heatmap(z=pivot.to_numpy(), x=list(pivot.columns), y=list(pivot.index), colorscale="Greens", zmin=0, zmax=1,
                                 text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.0%}")(pivot.to_numpy()), texttemplate="%{text}"))
            .update_layout(title="aurora fraction by sky condition", height=300),
            width="stretch",
        )
    st.subheader("Nights")
    st.dataframe(shown, width="stretch")
    _recurrence(data)


@st.cache_data(show_spinner="recurrence chart…", max_entries=8)
def _recurrence_tables(root: str, rotation: str, variable: str):
    data = DataRoot(root)
    sw = data.solarwind()
    return recurrence_panels(data.index()["p_aurora"].load(), sw[variable] if sw is not None and variable in sw else None, rotation)


def _recurrence(data: DataRoot) -> None:
    st.subheader("Solar-rotation recurrence")
    st.caption("One solar rotation per row, one day per column: streams from coronal holes come back every ~27 days as vertical stripes. Blank: no data.")
    sw = data.solarwind()
    c1, c2 = st.columns([1, 1])
    rotation = c1.selectbox("rotation", ["bartels", "carrington"], key="rotation")
    choices = [v for v in ("newell", "kp", "vsw", "bz_gsm") if sw is not None and v in sw]
    variable = c2.selectbox("solar-wind variable", choices or ["(none)"], key="recurrence_var")
    tables, acf = _recurrence_tables(str(data.root), rotation, variable)
    cols = st.columns(len(tables) + (acf is not None))
    scales = ["Viridis", "Magma"]
    for k, (col, (title, table)) in enumerate(zip(cols, tables.items())):
        fig = go.Figure(go.Heatmap(z=table.to_numpy(float), x=list(table.columns), y=[str(r) for r in table.index], colorscale=scales[k % 2],
                                   hovertemplate="rotation %{y}, day %{x}: %{z:.2f}<extra></extra>"))
        fig.update_layout(title=title, xaxis_title=f"day of the {rotation} rotation", yaxis_title=f"{rotation} rotation", yaxis_autorange="reversed", yaxis_type="category", height=340)
        col.plotly_chart(fig, width="stretch")
    if acf is not None:
        d = acf["lag_days"].values
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=d, y=acf["r"], name="r", line=dict(color="#2ecc71")))
        fig.add_trace(go.Scatter(x=d, y=acf["r_crit"], name="95% band", line=dict(color="#999", dash="dash")))
        fig.add_vline(x=27, line_dash="dot", line_color="#e67e22")
        fig.update_layout(title=f"{variable}: r(27 d) = {acf.attrs['r_27d']:.2f}, p = {acf.attrs['p_value_27d']:.1g}", xaxis_title="lag (days)", height=340)
        cols[-1].plotly_chart(fig, width="stretch")
