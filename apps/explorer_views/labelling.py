"""Labelling: yes / no / unsure, or the sky classes (OATH: arc, diffuse, discrete, cloudy, moon,
clear; they train `aurora-sw train --task morphology`, and count as yes/no for the binary task),
over a date-aware sample or over the list `aurora-sw label suggest` wrote (the frames the model is
least sure of, or that cover what is not labelled yet, in the order chosen, each with its p and
why), saved to the label store at every key press, with progress and undo. Keys: Y yes, N no,
U unsure; A arc, D diffuse, S discrete, L cloudy, M moon, E clear; Z undo (R and C are Streamlit's).

Everything that can be refused (the store path, the next frame) is checked before any button that
writes is drawn: a refusal stops the page with one error line, so no frame is labelled unseen.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from aurora_sw.errors import AuroraSWError
from aurora_sw.labels import MORPHOLOGY_CLASSES, LabelStore, sample_for_labelling
from aurora_sw.workflows.suggest import SUGGESTED_COLUMNS
from aurora_sw.sky import MOON_CLASSES, SUN_CLASSES
from explorer_views.data import DataRoot

KEYS = {"yes": "Y", "no": "N", "unsure": "U"}
CLASS_KEYS = {**dict(zip(MORPHOLOGY_CLASSES, ("A", "D", "S", "L", "M", "E"))), "unsure": "U"}
SCHEMES = {"yes / no": KEYS, "sky classes": CLASS_KEYS}
# What LabelStore.add writes and split_by_night reads; a manifest has the first three, not label.
STORE_COLUMNS = ("path", "time_utc", "night", "label")


@st.cache_data(show_spinner=False)
def _sample(root: str, per_night: int, suns: tuple[str, ...], moons: tuple[str, ...], seed: int) -> pd.DataFrame:
    return sample_for_labelling(DataRoot(root).manifest(), per_night=per_night, sun_classes=suns, moon_classes=moons, seed=seed)


def label_store_path(data: DataRoot, name: str) -> Path:
    """The label store ``name`` typed by the user, resolved under the data root.

    Refused when it leaves the root, is not a ``.parquet`` file, or is an existing file that is not
    a label store (the archive manifest, say): labelling would otherwise rewrite it as one.
    """
    import pyarrow.parquet as pq

    path = data.inside(name)
    if path.suffix != ".parquet":
        raise AuroraSWError(f"{name}: the label store is a .parquet file, e.g. labels.parquet")
    if not path.exists():
        return path
    try:
        columns = set(pq.read_schema(path).names)
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{name}: not a readable Parquet file ({exc}); choose another label store") from None
    missing = [c for c in STORE_COLUMNS if c not in columns]
    if missing:
        raise AuroraSWError(f"{name}: not a label store (no column {', '.join(missing)}); choose another file, e.g. labels.parquet")
    return path


def suggested_frames(data: DataRoot, name: str) -> pd.DataFrame:
    """The frames of a ``suggested.csv`` under the data root, in its order, with their sky conditions
    from the manifest. Refused in one line: outside the root, missing, not a CSV of
    :data:`~aurora_sw.workflows.suggest.SUGGESTED_COLUMNS`."""
    path = data.inside(name)
    if path.suffix != ".csv":
        raise AuroraSWError(f"{name}: a suggested list is a .csv file from `aurora-sw label suggest`, e.g. suggested.csv")
    if not path.is_file():
        raise AuroraSWError(f"{name}: no such file under the data root; make one with `aurora-sw label suggest --archive ARCHIVE --model MODEL --out {name}`")
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise AuroraSWError(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in SUGGESTED_COLUMNS if c not in df and c != "label"]
    if missing:
        raise AuroraSWError(f"{name}: not a suggested list (no column {', '.join(missing)}); write one with `aurora-sw label suggest`")
    conditions = data.manifest()[["path", "sun_class", "moon_class"]].astype({"path": str})
    df = df.astype({"path": str}).merge(conditions, on="path", how="left").fillna({"sun_class": "?", "moon_class": "?"})
    return df.assign(time_utc=pd.to_datetime(df["time_utc"], utc=True), night=df["night"].astype(str))


def render(data: DataRoot) -> None:
    st.header("Labelling")
    if data.manifest() is None:
        st.info(f"No {data.layout.manifest.relative_to(data.root)} under the data root: run `aurora-sw ingest ... --out {data.layout.archive}` first.")
        return
    suggested = st.radio("frames to label", ["date-aware sample", "suggested list"], horizontal=True, key="label_source") == "suggested list"
    keys = SCHEMES[st.radio("labels", list(SCHEMES), horizontal=True, key="label_scheme",
                            help="sky classes: what kind of sky (OATH's six classes), for `aurora-sw train --task morphology`")]
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2])
    store_name = c1.text_input("label store (under the data root)", data.layout.outputs.labels, key="store")
    if suggested:
        list_name = c2.text_input("suggested list (CSV under the data root)", "suggested.csv", key="suggested_list")
    else:
        per_night = c2.number_input("frames per night", 1, 200, 20, key="per_night")
        suns = c3.multiselect("Sun classes", list(SUN_CLASSES), default=["Night"], key="label_suns")
        moons = c4.multiselect("Moon classes", list(MOON_CLASSES), default=list(MOON_CLASSES), key="label_moons")
    store_path = label_store_path(data, store_name)
    store = LabelStore(store_path)
    sample = suggested_frames(data, list_name) if suggested else _sample(str(data.root), int(per_night), tuple(suns), tuple(moons), 0)
    if sample.empty:
        st.info("No frames in this list." if suggested else "No frames under these sky conditions.")
        return
    # Done: labelled in this scheme (a yes/no label still needs its sky class, and a class is a yes/no already).
    counted = store.df[store.df["label"].isin(list(keys))] if keys is CLASS_KEYS else store.df
    done = sample["path"].astype(str).isin(set(counted["path"].astype(str)))
    todo = sample[~done]
    frame = data.frame(todo.iloc[0]["path"]) if len(todo) else None  # refused here, before the buttons

    st.progress(float(done.mean()), text=f"{int(done.sum())} of {len(sample)} {'suggested' if suggested else 'sampled'} frames labelled ({len(store)} in {store_name})")
    undo: list[tuple[str, str | None]] = st.session_state.setdefault(f"undo:{store_path}", [])  # undo acts on its own store only
    b = st.columns(len(keys) + 1)
    if b[-1].button("undo (Z)", shortcut="Z", disabled=not undo, key="undo_button"):
        path, previous = undo.pop()
        if previous is None:
            store.remove([path])
        else:
            store.add(sample[sample["path"].astype(str) == path].assign(label=previous))
        st.rerun()
    if frame is None:
        task = " --task morphology" if keys is CLASS_KEYS else ""
        st.success(f"Every {'suggested' if suggested else 'sampled'} frame is labelled. Train with: aurora-sw train --labels {store_path}{task}"
                   + (" (then `aurora-sw label suggest` again with the new model)" if suggested else ""))
        return
    row = todo.iloc[0]
    for col, (label, key) in zip(b, keys.items()):
        if col.button(f"{label} ({key})", shortcut=key, key=f"label_{label}", type="primary" if label == "yes" else "secondary"):
            undo.append((str(row["path"]), store.label_of(str(row["path"]))))
            store.add(todo.iloc[[0]].assign(label=label), labeller="explorer")
            st.rerun()
    why = f"; suggested: {row['reason']}" if suggested else ""
    st.image(str(frame), caption=f"{pd.Timestamp(row['time_utc']):%Y-%m-%d %H:%M} UTC, night {row['night']}, {row['sun_class']} / {row['moon_class']}{why}", width=520)
