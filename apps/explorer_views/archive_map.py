"""Map: the archive's minutes laid out by what they look like to the classifier (UMAP of the
embeddings stored with the index), coloured by sky class, P(aurora), night or Kp. Select points
with the box or lasso: their frames are shown, and they can be labelled in bulk into the label
store (yes/no or the sky classes), with undo.

Everything that can be refused (the label store, the selected frames) is checked before a button
that writes is drawn.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from aurora_sw.analysis.archive_map import archive_map
from aurora_sw.index.store import frames_by_minute, store_attrs
from aurora_sw.labels import LabelStore
from explorer_views.data import DataRoot
from explorer_views.labelling import CLASS_KEYS, KEYS, label_store_path

COLOURS = {"sky class": "sky_class", "P(aurora)": "p_aurora", "night": "night", "Kp": "kp"}
SHOWN = 12  # frames shown of a selection
# Aurora in greens and blue-greens, no aurora in greys and muted tones, on every colouring by class.
CLASS_COLOURS = {"yes": "#2ca02c", "no": "#8c8c8c", "arc": "#2ca02c", "diffuse": "#98df8a", "discrete": "#17becf",
                 "cloudy": "#8c8c8c", "moon": "#bcbd22", "clear": "#1f3b73", "": "#d62728"}


@st.cache_data(show_spinner="laying out the archive (UMAP)…", max_entries=4)
def _map(root: str, max_points: int, seed: int) -> pd.DataFrame:
    data = DataRoot(root)
    out = archive_map(data.layout.index, max_points=max_points, seed=seed, solarwind=data.solarwind())
    manifest = data.manifest()
    if manifest is not None:  # the frame of each minute: the one the index scored
        first = frames_by_minute(manifest)[["path", "time_utc"]]
        out = out.merge(first, left_on="time", right_index=True, how="left")
    return out.reset_index(names="row")


def selected_rows(event, points: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``points`` selected on the chart (each point carries its row as custom data)."""
    chosen = []
    for p in (event or {}).get("selection", {}).get("points", []) if event else []:
        custom = p.get("customdata")
        if custom is not None:
            chosen.append(int(custom[0] if isinstance(custom, (list, tuple)) else custom))
    return points[points["row"].isin(chosen)]


def render(data: DataRoot) -> None:
    st.header("Map")
    if not int((store_attrs(data.layout.index) or {}).get("embedding_dim", 0)):
        st.info("This index holds no embeddings: it was scored with a checkpoint trained before embeddings were stored. "
                "Train again (`aurora-sw train`), then `aurora-sw score`, to get the map.")
        return
    c1, c2, c3 = st.columns([2, 2, 2])
    max_points = int(c1.number_input("minutes on the map (a draw)", 100, 50_000, 3000, step=500, key="map_points"))
    points = _map(str(data.root), max_points, 0)
    colours = [k for k, v in COLOURS.items() if v in points and points[v].notna().any()]
    colour = c2.selectbox("colour by", colours, key="map_colour")
    scheme = c3.radio("labels", ["yes / no", "sky classes"], horizontal=True, key="map_scheme")
    column = COLOURS[colour]
    fig = px.scatter(points, x="x", y="y", color=column, custom_data=["row"], render_mode="webgl",
                     hover_data={"time": True, "p_aurora": ":.2f", "sky_class": True, "x": False, "y": False},
                     color_continuous_scale="Viridis", color_discrete_map=CLASS_COLOURS if column == "sky_class" else None, labels={column: colour})
    fig.update_traces(marker={"size": 5})
    fig.update_layout(dragmode="select", height=560, margin=dict(t=30, b=10), xaxis_title="UMAP 1", yaxis_title="UMAP 2")
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("box", "lasso"), key="archive_map", width="stretch")
    st.caption(f"The archive mapped: {len(points)} minutes of {points['night'].nunique()} nights (UMAP of their stored embeddings); nearby points look alike to the classifier. "
               "Select with the box or the lasso to see the frames and label them together.")

    label_panel(data, selected_rows(event, points), CLASS_KEYS if scheme == "sky classes" else KEYS)


def label_panel(data: DataRoot, picked: pd.DataFrame, keys: dict[str, str]) -> None:
    """The label store, undo of the last bulk label, and (with points selected) their frames and
    one button per label."""
    store_name = st.text_input("label store (under the data root)", data.layout.outputs.labels, key="map_store")
    store_path = label_store_path(data, store_name)  # refused here, before any button that writes
    if st.session_state.get("map_flash"):
        st.success(st.session_state.pop("map_flash"))
    _undo(LabelStore(store_path), f"map_undo:{store_path}")
    if not picked.empty:
        _selection(data, picked, keys, store_path)


def _undo(store: LabelStore, undo_key: str) -> None:
    """Undo the last bulk label into ``store``: each frame's label and labeller as they were (drawn
    whether or not points are selected now)."""
    previous = st.session_state.get(undo_key)
    if st.button("undo the last bulk label", disabled=previous is None, key="map_undo"):
        store.remove(list(previous.loc[previous["label"].isna(), "path"]))
        for labeller, rows in previous.dropna(subset=["label"]).groupby("labeller"):
            store.add(rows.drop(columns="labeller"), labeller=labeller)
        st.session_state[undo_key] = None
        st.session_state["map_flash"] = f"undone: the {len(previous)} frames' labels (and who gave them) are as they were"
        st.rerun()


def _selection(data: DataRoot, picked: pd.DataFrame, keys: dict[str, str], store_path) -> None:
    counts = picked["sky_class"].value_counts()
    st.subheader(f"{len(picked)} minutes selected")
    st.write("the classifier calls them: " + ", ".join(f"{c} {n}" for c, n in counts.items()) + f"; P(aurora) median {picked['p_aurora'].median():.2f}")
    with_frame = picked.dropna(subset=["path"])
    frames = [data.frame(p) for p in with_frame["path"]]  # every frame to be labelled is checked before any button
    if with_frame.empty:
        st.info("No frame of the archive manifest for these minutes: nothing to label.")
        return
    store = LabelStore(store_path)
    undo_key = f"map_undo:{store_path}"
    b = st.columns(len(keys))
    for col, label in zip(b, keys):
        if col.button(f"label {len(with_frame)} as {label}", key=f"map_label_{label}"):
            rows = with_frame[["path", "time_utc", "night"]].assign(path=with_frame["path"].astype(str), time_utc=pd.to_datetime(with_frame["time_utc"], utc=True))
            # What they were, for undo: each frame's latest label and labeller (as LabelStore.label_of), in one join.
            current = store.df[["path", "label", "labeller"]].astype({"path": str}).drop_duplicates("path", keep="last")
            st.session_state[undo_key] = rows.merge(current, on="path", how="left")
            store.add(rows.assign(label=label), labeller="explorer-map")
            st.session_state["map_flash"] = f"{len(rows)} frames labelled {label} in {store_path.name} ({len(store)} labels there)"
            st.rerun()  # redraw the undo button, now active
    cols = st.columns(4)
    for i, (frame, (_, row)) in enumerate(zip(frames[:SHOWN], with_frame.iloc[:SHOWN].iterrows())):
        cols[i % 4].image(str(frame), caption=f"{pd.Timestamp(row['time']):%Y-%m-%d %H:%M} UTC, {row['sky_class']}, p {row['p_aurora']:.2f}", width="stretch")
    if len(with_frame) > SHOWN:
        st.caption(f"the first {SHOWN} of {len(with_frame)} frames shown")
