"""Night: P(aurora) with sky-condition shading, solar wind on the same time axis, keogram, frames
with a Grad-CAM toggle and play, the frame drawn on a map (its skymap at 110 km), and the night's
data as CSV."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from aurora_sw.camera import EMISSION_HEIGHT_KM, read_square_frame, skymap
from aurora_sw.catalog import load_catalog
from aurora_sw.model.checkpoint import load_checkpoint
from aurora_sw.model.data import read_frame
from aurora_sw.model.gradcam import gradcam_maps, overlay_image
from aurora_sw.times import utc_time
from explorer_views.data import DataRoot, as_rgb, night_frames, refusals_shown

SKY_COLOURS = {"Night": "rgba(20,20,60,0.00)", "Astro": "rgba(70,90,160,0.12)", "Nautical": "rgba(90,130,200,0.20)", "Civil": "rgba(150,180,230,0.28)", "Day": "rgba(240,220,150,0.35)"}
SOLAR_WIND_PANELS = (("bz_gsm", "Bz GSM (nT)", "#4a90e2"), ("vsw", "V (km/s)", "#9b59b6"), ("kp", "Kp", "#e74c3c"), ("newell", "Newell coupling", "#f5a623"))
FRAME_SIZE = 360
PLAY_INTERVAL_S = 0.4  # seconds a frame while playing
MAP_FRAME_PX = 120  # frame pixels drawn on the map (~9,000 points)
MAP_MIN_ELEVATION_DEG = 10.0  # lower pixels are stretched over hundreds of km of map


@st.cache_resource(show_spinner=False, max_entries=2)
def _checkpoint(path: str):
    return load_checkpoint(path)


@st.cache_data(show_spinner="Grad-CAM…", max_entries=64)
def _cam_overlay(ckpt_path: str, frame_path: str) -> np.ndarray:
    maps, _, _ = gradcam_maps(_checkpoint(ckpt_path), [frame_path], size=FRAME_SIZE)
    return overlay_image(read_frame(frame_path, FRAME_SIZE), maps[0])


@st.cache_data(show_spinner=False, max_entries=4)
def _map_geometry(site_key: str, epoch_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels kept, their latitudes, their longitudes) of the camera epoch's skymap at 110 km."""
    site = load_catalog().site(site_key)
    epoch = next(e for e in site.camera_epochs if e.name == epoch_name)
    sm = skymap(site, epoch, size=MAP_FRAME_PX, emission_height_km=EMISSION_HEIGHT_KM)
    keep = sm["elevation"].values >= MAP_MIN_ELEVATION_DEG
    return keep, sm["lat"].values[keep], sm["lon"].values[keep]


def frame_map_figure(rgb: np.ndarray, keep: np.ndarray, lat: np.ndarray, lon: np.ndarray, site, title: str) -> go.Figure:
    """The frame's pixels (``MAP_FRAME_PX`` square RGB) at their skymap latitude and longitude, with
    kilometres equal along both axes (no map tiles: the Explorer works offline)."""
    colours = [f"rgb({r},{g},{b})" for r, g, b in rgb[keep]]
    fig = go.Figure(go.Scattergl(x=lon, y=lat, mode="markers", hoverinfo="skip", showlegend=False,
                                 marker=dict(color=colours, size=5, symbol="square", line=dict(width=0))))
    fig.add_trace(go.Scatter(x=[site.lon_deg], y=[site.lat_deg], mode="markers+text", text=["camera"], textposition="top center",
                             marker=dict(color="white", size=8, symbol="x"), showlegend=False))
    fig.update_xaxes(title="longitude (°E)")
    fig.update_yaxes(title="latitude (°N)", scaleanchor="x", scaleratio=1.0 / np.cos(np.radians(site.lat_deg)))
    fig.update_layout(title=title, height=460, plot_bgcolor="black", margin=dict(t=40, b=30))
    return fig


def sky_runs(classes: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Contiguous runs of one Sun class: (start, end, class)."""
    change = classes.ne(classes.shift()).cumsum()
    return [(g.index[0], g.index[-1], g.iloc[0]) for _, g in classes.groupby(change)]


def timeline_figure(df: pd.DataFrame, sw, night: str) -> go.Figure:
    panels = [p for p in SOLAR_WIND_PANELS if sw is not None and p[0] in sw]
    fig = make_subplots(rows=1 + len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[2] + [1] * len(panels))
    fig.add_trace(go.Scatter(x=df.index, y=df["p_aurora"], name="P(aurora)", line=dict(color="#2ecc71")), 1, 1)
    for start, end, cls in sky_runs(df["sun_class"]):
        fig.add_vrect(x0=start, x1=end, fillcolor=SKY_COLOURS.get(cls, "rgba(0,0,0,0)"), line_width=0, row=1, col=1,
                      annotation_text="" if cls == "Night" else cls, annotation_position="top left")
    if panels:
        s = sw.sel(time=slice(df.index.min() - pd.Timedelta(hours=2), df.index.max()))
        for row, (name, label, colour) in enumerate(panels, start=2):
            fig.add_trace(go.Scatter(x=s["time"].values, y=s[name].values, name=label, line=dict(color=colour)), row, 1)
            fig.update_yaxes(title_text=label, row=row, col=1)
    fig.update_yaxes(title_text="P(aurora)", range=[0, 1.02], row=1, col=1)
    fig.update_layout(height=260 + 110 * len(panels), title=f"Night {night} (UTC; shading: twilight classes)", margin=dict(t=50, b=30))
    return fig


def render(data: DataRoot) -> None:
    st.header("Night")
    nightly = data.nightly()
    night = st.selectbox("night (local date at dusk)", list(nightly.index), key="night")
    df = data.night(night)
    st.plotly_chart(timeline_figure(df, data.solarwind(), night), width="stretch")
    st.download_button("download this night (CSV)", df.to_csv().encode(), f"aurora_index_{night}.csv", "text/csv")

    frames = night_frames(data, night)
    if frames.empty:
        st.info("No frames for this night in archive/manifest.parquet.")
        return
    if st.toggle("keogram", value=True, key="show_keogram"):
        times, img = data.keogram(night)
        fig = go.Figure(go.Image(z=as_rgb(img), x0=0, dx=1))
        ticks = np.linspace(0, len(times) - 1, 7).astype(int)
        fig.update_xaxes(tickvals=ticks, ticktext=[f"{pd.Timestamp(times[i]):%H:%M}" for i in ticks], title="UTC")
        fig.update_yaxes(tickvals=[0, img.shape[0] / 2, img.shape[0] - 1], ticktext=["N", "zenith", "S"])
        fig.update_layout(title="keogram (north-south meridian of each frame)", height=260, margin=dict(t=40, b=30))
        st.plotly_chart(fig, width="stretch")
    _frame_viewer(data, df, frames)


@st.fragment
def _frame_viewer(data: DataRoot, df: pd.DataFrame, frames: pd.DataFrame) -> None:
    with refusals_shown():  # a fragment rerun (slider, play) does not pass through the app's own guard
        _draw_frame(data, df, frames)


def _draw_frame(data: DataRoot, df: pd.DataFrame, frames: pd.DataFrame) -> None:
    n = len(frames)
    c0, c1, c2 = st.columns([1, 1, 4])
    playing = c0.toggle("play", key="play")
    show_cam = c1.toggle("Grad-CAM overlay", key="cam", disabled=data.checkpoint_path() is None,
                         help="class 'yes' evidence from model/best.pt")
    show_map = c1.toggle("on a map", key="frame_map", help=f"each pixel where its line of sight is {EMISSION_HEIGHT_KM:g} km up (the camera's skymap)")
    if st.session_state.get("frame", n) >= n:  # a new session or a shorter night: start at midnight
        st.session_state["frame"] = n // 2
    if playing:  # advance before the slider is drawn, then rerun this fragment shortly
        st.session_state["frame"] = (st.session_state.get("frame", 0) + 1) % n
    i = c2.slider("frame", 0, n - 1, key="frame")
    row = frames.iloc[i]
    path = data.frame(row["path"])
    left, right = st.columns([2, 1])
    if show_cam and data.checkpoint_path() is not None:
        left.image(_cam_overlay(str(data.checkpoint_path()), str(path)), caption=f"{row['minute']:%Y-%m-%d %H:%M} UTC, Grad-CAM", width="stretch")
    else:
        left.image(str(path), caption=f"{row['minute']:%Y-%m-%d %H:%M} UTC", width="stretch")
    if row["minute"] in df.index:
        v = df.loc[row["minute"]]
        right.metric("P(aurora)", f"{v['p_aurora']:.2f}")
        right.metric("green excess (DN)", f"{v['green_excess']:.1f}")
        if "aurora_area_night" in v and np.isfinite(v["aurora_area_night"]):
            right.metric("aurora area (night model)", f"{v['aurora_area_night']:.1%}")
        right.write(f"sky: {v['sun_class']} / {v['moon_class']}")
    if show_map:
        _draw_frame_map(path, row["minute"])
    if playing:
        time.sleep(PLAY_INTERVAL_S)
        st.rerun(scope="fragment")


def _draw_frame_map(path, minute: pd.Timestamp) -> None:
    cat = load_catalog()
    site_key = next(iter(cat.sites)) if len(cat.sites) == 1 else st.selectbox("camera site", list(cat.sites), key="map_site")
    site = cat.site(site_key)
    epoch = site.camera_epoch(utc_time(minute).tz_localize("UTC").to_pydatetime())
    keep, lat, lon = _map_geometry(site_key, epoch.name)
    title = f"{minute:%Y-%m-%d %H:%M} UTC at {EMISSION_HEIGHT_KM:g} km, above {MAP_MIN_ELEVATION_DEG:g}° elevation ({epoch.name})"
    st.plotly_chart(frame_map_figure(read_square_frame(path, MAP_FRAME_PX), keep, lat, lon, site, title), width="stretch")
