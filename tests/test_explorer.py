"""The Explorer app on demo output, through Streamlit's AppTest (no browser)."""

from pathlib import Path

import pandas as pd
import pytest

APP = str(Path(__file__).resolve().parent.parent / "apps" / "explorer.py")
pytestmark = pytest.mark.slow


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
    "Night": [("selectbox", "night"), ("slider", "frame"), ("toggle", "cam"), ("toggle", "play"), ("toggle", "show_keogram")],
    "Classifier": [("selectbox", "report"), ("selectbox", "hist_condition")],
    "Correlations": [("selectbox", "driver"), ("selectbox", "response"), ("slider", "lags"), ("selectbox", "smooth"), ("multiselect", "conditions")],
    "Labelling": [("text_input", "store"), ("button", "label_yes"), ("button", "label_no"), ("button", "label_unsure"), ("button", "undo_button")],
}


@pytest.mark.parametrize("page", list(KEY_WIDGETS))
def test_every_page_renders_with_its_widgets(demo_run, monkeypatch, page):
    out, _ = demo_run
    at = app_for(out, monkeypatch, page)
    assert at.header[0].value == page
    for kind, key in KEY_WIDGETS[page]:
        assert getattr(at, kind)(key=key) is not None, (page, key)
    assert len(at.get("plotly_chart")) >= (0 if page == "Labelling" else 1)


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


def test_a_typed_path_cannot_leave_the_data_root(demo_run, monkeypatch):
    out, _ = demo_run
    at = app_for(out, monkeypatch, "Labelling")
    at.text_input(key="store").set_value("../../escaped.parquet").run()
    assert not at.exception
    assert "outside the data root" in at.error[0].value
    assert not (Path(out).parent.parent / "escaped.parquet").exists()
