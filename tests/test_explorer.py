"""The Explorer app on demo output, through Streamlit's AppTest (no browser)."""

import base64
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

APP = str(Path(__file__).resolve().parent.parent / "apps" / "explorer.py")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def served_on():
    """Sets ``server.address`` as the server would have it (127.0.0.1 unless a test says otherwise);
    left alone it would come from the .streamlit/config.toml of wherever pytest was started."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", before)


def app_for(root, monkeypatch, page=None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr("sys.argv", ["explorer.py", "--data", str(root)])
    at = AppTest.from_file(APP, default_timeout=120).run()
    if page:
        at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def test_without_data_it_explains_how_to_make_some(tmp_path, monkeypatch):
    at = app_for(tmp_path, monkeypatch)
    assert "aurora-sw demo" in at.markdown[0].value


KEY_WIDGETS = {
    "Overview": [("selectbox", "season"), ("multiselect", "sun_filter"), ("multiselect", "moon_filter"), ("selectbox", "rotation"), ("selectbox", "recurrence_var")],
    "Night": [("selectbox", "night"), ("slider", "frame"), ("toggle", "cam"), ("toggle", "play"), ("toggle", "show_keogram"), ("toggle", "frame_map")],
    "Classifier": [("selectbox", "report"), ("selectbox", "hist_condition")],
    "Correlations": [("selectbox", "driver"), ("selectbox", "response"), ("slider", "lags"), ("selectbox", "smooth"), ("multiselect", "conditions")],
    "Forecast": [("selectbox", "forecast_lead"), ("selectbox", "forecast_night")],
    "Labelling": [("text_input", "store"), ("button", "label_yes"), ("button", "label_no"), ("button", "label_unsure"), ("button", "undo_button")],
    "Map": [("number_input", "map_points"), ("selectbox", "map_colour"), ("radio", "map_scheme")],
}


@pytest.mark.parametrize("page", list(KEY_WIDGETS))
def test_every_page_renders_with_its_widgets(demo_run, monkeypatch, page):
    out, _ = demo_run
    at = app_for(out, monkeypatch, page)
    assert at.header[0].value == page
    for kind, key in KEY_WIDGETS[page]:
        assert getattr(at, kind)(key=key) is not None, (page, key)
    assert len(at.get("plotly_chart")) >= (0 if page == "Labelling" else 1)


def test_live_page_shows_the_latest_minute_and_its_forecast(demo_live, monkeypatch):
    at = app_for(demo_live, monkeypatch, "Live")
    assert at.header[0].value == "Live" and not at.warning
    assert len(at.get("plotly_chart")) == 1 and any("2 live minutes" in c.value for c in at.caption)
    assert "p(aurora) now" in at.get("image")[0].captions[0]  # the camera's still of the latest minute, scored


def test_overview_filters_change_the_condition_table(demo_run, monkeypatch):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Overview")
    before = at.dataframe[0].value
    at.multiselect(key="sun_filter").set_value(["Night"]).run()
    after = at.dataframe[0].value
    assert not at.exception
    assert set(after.index.get_level_values("sun_class")) == {"Night"}
    assert len(after) < len(before)


def test_overview_shows_the_recurrence_chart(demo_run, monkeypatch):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Overview")
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("aurora fraction" in s and "bartels rotation" in s for s in specs)
    assert any("r(27 d)" in s for s in specs)  # the 27-day autocorrelation of the solar wind
    at.selectbox(key="rotation").set_value("carrington").run()
    assert not at.exception
    assert any("carrington rotation" in c.proto.spec for c in at.get("plotly_chart"))


def test_changing_the_night_changes_what_is_shown(demo_run, monkeypatch):
    out, s = demo_run
    at = app_for(out, monkeypatch, "Night")
    caption = at.get("image")[0].captions[0]
    at.selectbox(key="night").set_value(s["nights"][-1]).run()
    assert not at.exception
    assert at.get("image")[0].captions[0] != caption  # another night's frame
    at.toggle(key="cam").set_value(True).run()  # Grad-CAM overlay of the shown frame
    assert not at.exception
    assert "Grad-CAM" in at.get("image")[0].captions[0]


def test_the_frame_is_drawn_on_a_map_around_the_camera(demo_run, monkeypatch):
    import json

    from aurora_sw.catalog import load_catalog

    out, _ = demo_run
    at = app_for(out, monkeypatch, "Night")
    before = len(at.get("plotly_chart"))
    at.toggle(key="frame_map").set_value(True).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == before + 1
    spec = json.loads(charts[-1].proto.spec)
    lat = values(spec["data"][0]["y"])
    site = next(iter(load_catalog().sites.values()))
    assert len(lat) > 5000 and "110 km" in spec["layout"]["title"]["text"]
    # pixels above 10 deg elevation lie within ~550 km (5 deg of latitude) of the camera at 110 km
    assert abs(lat.min() + lat.max() - 2 * site.lat_deg) < 1.0
    assert 4 < lat.max() - site.lat_deg < 6


def values(array) -> np.ndarray:
    """A plotly figure's array: a list, or numpy's bytes in base64 (plotly >= 6)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array, dtype=float)


def test_changing_the_variable_changes_the_correlation(demo_run, monkeypatch):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Correlations")
    title = at.get("plotly_chart")[0].proto.spec
    assert "newell" in title and "p_aurora" in title
    at.selectbox(key="driver").set_value("bz_gsm").run()
    assert not at.exception
    assert "bz_gsm" in at.get("plotly_chart")[0].proto.spec


def test_labelling_saves_each_key_and_undoes(demo_run, monkeypatch, tmp_path):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Labelling")
    at.text_input(key="store").set_value("explorer_test_labels.parquet").run()
    store = Path(out) / "explorer_test_labels.parquet"
    store.unlink(missing_ok=True)
    at.button(key="label_yes").click().run()
    at.button(key="label_no").click().run()
    assert not at.exception
    saved = pd.read_parquet(store)
    assert list(saved["label"]) == ["yes", "no"] and set(saved["labeller"]) == {"explorer"}
    at.button(key="undo_button").click().run()
    assert list(pd.read_parquet(store)["label"]) == ["yes"]
    store.unlink()


def test_labelling_with_sky_classes(demo_run, monkeypatch):
    """The sky-class scheme: one button per OATH class (and unsure), each saving its class."""
    out, _ = demo_run
    store = Path(out) / "explorer_class_labels.parquet"
    store.unlink(missing_ok=True)
    try:
        at = app_for(out, monkeypatch, "Labelling")
        at.text_input(key="store").set_value(store.name).run()
        at.radio(key="label_scheme").set_value("sky classes").run()
        assert not at.exception
        assert {f"label_{c}" for c in ("arc", "diffuse", "discrete", "cloudy", "moon", "clear", "unsure")} <= buttons(at)
        assert "label_yes" not in buttons(at)
        at.radio(key="label_scheme").set_value("yes / no").run()
        at.button(key="label_yes").click().run()  # a frame labelled yes/no only ...
        at.radio(key="label_scheme").set_value("sky classes").run()
        assert "0 of" in at.get("progress")[0].proto.text  # ... still needs its sky class
        at.button(key="label_discrete").click().run()
        at.button(key="label_cloudy").click().run()
        assert list(pd.read_parquet(store)["label"]) == ["discrete", "cloudy"]  # the first frame's yes became discrete
    finally:
        store.unlink(missing_ok=True)


def test_labelling_a_suggested_list_in_its_order(demo_run, monkeypatch):
    """The Labelling page's suggested mode: the frames of `label suggest`'s CSV in the order chosen, with why;
    a file that is not such a list is one error line and no button."""
    from aurora_sw.ingest import read_manifest

    out, _ = demo_run
    rows = read_manifest(Path(out) / "archive").iloc[[40, 7, 300]]
    listed = Path(out) / "suggested_test.csv"
    rows.assign(p_aurora=[0.51, 0.47, 0.55], reason=["p_aurora 0.510: 0.010 from the threshold 0.50", "b", "c"], label="")[
        ["path", "time_utc", "night", "p_aurora", "reason", "label"]].to_csv(listed, index=False)
    store = Path(out) / "explorer_suggested_labels.parquet"
    store.unlink(missing_ok=True)
    try:
        at = app_for(out, monkeypatch, "Labelling")
        at.radio(key="label_source").set_value("suggested list").run()
        at.text_input(key="suggested_list").set_value(listed.name).run()
        at.text_input(key="store").set_value(store.name).run()
        assert not at.exception and not at.error
        assert "0 of 3 suggested frames labelled" in at.get("progress")[0].proto.text
        assert "suggested: p_aurora 0.510: 0.010 from the threshold 0.50" in at.get("image")[0].captions[0]
        at.button(key="label_yes").click().run()
        at.button(key="label_no").click().run()
        saved = pd.read_parquet(store)
        assert list(saved["path"]) == [str(p) for p in rows["path"][:2]] and list(saved["label"]) == ["yes", "no"]
        listed.write_text("path,label\na.jpg,yes\n")
        at.run()
        assert len(at.error) == 1 and "not a suggested list" in at.error[0].value
        assert not buttons(at) & LABEL_BUTTONS
    finally:
        listed.unlink(missing_ok=True)
        store.unlink(missing_ok=True)


LABEL_BUTTONS = {"label_yes", "label_no", "label_unsure", "undo_button"}


def buttons(at) -> set[str]:
    return {b.key for b in at.button}


def test_a_typed_path_cannot_leave_the_data_root(demo_run, monkeypatch):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Labelling")
    at.text_input(key="store").set_value("../../escaped.parquet").run()
    assert not at.exception
    assert "outside the data root" in at.error[0].value
    assert not buttons(at) & LABEL_BUTTONS
    assert not (Path(out).parent.parent / "escaped.parquet").exists()


@pytest.fixture
def frames_elsewhere(demo_run, tmp_path):
    """A data root whose manifest lists frames outside it (absolute paths into the demo output):
    the index is the demo's, the frames are not under this root."""
    from aurora_sw.ingest import read_manifest

    out, _ = demo_run
    root = tmp_path / "root"
    (root / "archive").mkdir(parents=True)
    (root / "index.zarr").symlink_to(Path(out) / "index.zarr")
    read_manifest(Path(out) / "archive").to_parquet(root / "archive" / "manifest.parquet", index=False)
    return root


@pytest.mark.parametrize("page", ["Night", "Labelling"])
def test_a_frame_outside_the_root_is_one_error_line_and_no_label_button(frames_elsewhere, monkeypatch, page):
    at = app_for(frames_elsewhere, monkeypatch, page)  # asserts no exception
    assert len(at.error) == 1 and "outside the data root" in at.error[0].value
    assert "\n" not in at.error[0].value
    assert not buttons(at) & LABEL_BUTTONS  # nothing can be labelled unseen
    assert not at.get("image")
    assert not (frames_elsewhere / "labels.parquet").exists()


def test_the_manifest_is_refused_as_a_label_store(demo_run, monkeypatch):
    out, _ = demo_run
    manifest = Path(out) / "archive" / "manifest.parquet"
    before = hashlib.sha256(manifest.read_bytes()).hexdigest()
    at = app_for(out, monkeypatch, "Labelling")
    assert {"label_yes", "label_no"} <= buttons(at)  # a real store (or none yet) is accepted
    at.text_input(key="store").set_value("archive/manifest.parquet").run()
    assert not at.exception
    assert "not a label store" in at.error[0].value and "label" in at.error[0].value
    assert not buttons(at) & LABEL_BUTTONS
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == before


def test_a_damaged_file_is_one_error_line(demo_run, tmp_path, monkeypatch):
    out, _ = demo_run
    (tmp_path / "index.zarr").symlink_to(Path(out) / "index.zarr")
    (tmp_path / "summary.json").write_text('{"n_frames_scored": 12')  # cut short
    at = app_for(tmp_path, monkeypatch, "Overview")
    assert len(at.error) == 1 and "summary.json: cannot read the run summary" in at.error[0].value


@pytest.fixture
def copied_report(demo_run, tmp_path):
    """A report written in one data root, then the root copied elsewhere and the original deleted:
    six demo frames, two of them misclassified."""
    from aurora_sw.ingest import read_manifest
    from aurora_sw.model.evaluate import write_report

    out, _ = demo_run
    first = tmp_path / "first"
    (first / "frames").mkdir(parents=True)
    (first / "index.zarr").symlink_to(Path(out) / "index.zarr")
    rows = read_manifest(Path(out) / "archive").iloc[:6].copy()
    rows["path"] = [str(shutil.copy(p, first / "frames")) for p in rows["path"]]
    rows["label"] = ["yes", "yes", "yes", "no", "no", "no"]
    rows["p_aurora"] = [0.9, 0.8, 0.3, 0.1, 0.2, 0.7]  # the third and the last are wrong
    write_report(rows, first / "model" / "heldout", threshold=0.5)
    moved = tmp_path / "moved"
    shutil.copytree(first, moved, symlinks=True)
    shutil.rmtree(first)
    return moved


def test_predictions_are_found_after_the_data_root_is_copied(copied_report, monkeypatch):
    from aurora_sw.model.evaluate import read_predictions

    written = pd.read_csv(copied_report / "model" / "heldout" / "predictions.csv")
    assert not any(Path(p).is_absolute() for p in written["path"])
    assert all(Path(p).is_file() for p in read_predictions(copied_report / "model" / "heldout")["path"])
    at = app_for(copied_report, monkeypatch, "Classifier")
    assert not at.warning  # before: "2 frames of this report are not under the data root"
    assert "Misclassified frames (2)" in at.subheader[0].value
    shown = at.get("image")
    assert len(shown) == 2
    assert sorted(c[-6:] for img in shown for c in img.captions) == ["P=0.30", "P=0.70"]


def test_old_predictions_with_absolute_paths_still_work(copied_report, monkeypatch):
    from aurora_sw.model.evaluate import read_predictions

    report = copied_report / "model" / "heldout"
    old = read_predictions(report)  # absolute, as aurora-sw 0.1 wrote them
    old.to_csv(report / "predictions.csv", index=False)
    assert all(Path(p).is_absolute() for p in pd.read_csv(report / "predictions.csv")["path"])
    at = app_for(copied_report, monkeypatch, "Classifier")
    assert not at.warning and len(at.get("image")) == 2


@pytest.mark.parametrize("address, warned", [("0.0.0.0", True), ("", True), ("192.168.1.20", True), ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_a_banner_warns_when_served_beyond_this_machine(tmp_path, monkeypatch, served_on, address, warned):
    served_on(address)  # "" (unset) is `streamlit run` started outside the repository
    at = app_for(tmp_path, monkeypatch)
    banners = [w.value for w in at.warning if "anyone who can reach this machine" in w.value]
    assert len(banners) == int(warned)
    if warned:
        assert "aurora-sw explore" in banners[0]


def _bulk_labelling_script(root: str, apps: str, rows: int) -> None:
    """The Map page's selection panel on the first ``rows`` points of the map (what a box or lasso
    selection hands it in the browser)."""
    import sys

    sys.path.insert(0, apps)
    from explorer_views.archive_map import _map, label_panel
    from explorer_views.data import DataRoot, refusals_shown
    from explorer_views.labelling import CLASS_KEYS

    with refusals_shown():  # as the app wraps every page
        label_panel(DataRoot(root), _map(root, 300, 0).iloc[:rows], CLASS_KEYS)


def test_the_map_labels_a_selection_in_bulk_and_undo_puts_back_what_was_there(demo_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from aurora_sw.labels import LabelStore

    out, _ = demo_run
    store = out / "map_test_labels.parquet"
    store.unlink(missing_ok=True)
    at = AppTest.from_function(_bulk_labelling_script, args=(str(out), str(Path(APP).parent), 6), default_timeout=180).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "6 minutes selected" and len(at.get("image")) == 6
    at.text_input(key="map_store").set_value(store.name).run()
    first = LabelStore(out / store.name)
    first.add(first_rows := _rows_of(at, out, 1).assign(label="moon"))  # one of them was labelled before
    at.button(key="map_label_arc").click().run()
    labels = LabelStore(store).df.set_index("path")["label"]
    assert len(labels) == 6 and (labels == "arc").all()
    at.button(key="map_undo").click().run()
    back = LabelStore(store).df.set_index("path")
    assert back["label"].to_dict() == {str(first_rows["path"].iloc[0]): "moon"}  # the new labels gone, the earlier one as it was
    assert back["labeller"].tolist() == ["unknown"] and any("as they were" in m.value for m in at.success)
    for key in ("../outside.parquet", "archive/manifest.parquet"):  # refused before any button is drawn
        at.text_input(key="map_store").set_value(key).run()
        assert at.error and not [b for b in at.button if b.key and b.key.startswith("map_label_")]
    store.unlink(missing_ok=True)


def _rows_of(at, out, n: int) -> pd.DataFrame:
    """The first ``n`` selected minutes' manifest rows (path, time_utc, night)."""
    from aurora_sw.ingest import read_manifest

    m = read_manifest(out / "archive")
    captions = [c for img in at.get("image") for c in img.captions][:n]
    stamps = [pd.Timestamp(c.split(" UTC")[0], tz="UTC") for c in captions]
    m["minute"] = pd.to_datetime(m["time_utc"], utc=True).dt.floor("1min")
    return m[m["minute"].isin(stamps)].drop_duplicates("minute")[["path", "time_utc", "night"]]
