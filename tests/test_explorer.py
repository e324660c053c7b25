"""The Explorer app on demo output, through Streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parent.parent / "apps" / "explorer.py")
pytestmark = pytest.mark.slow


def app_for(root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr("sys.argv", ["explorer.py", "--data", str(root)])
    return AppTest.from_file(APP, default_timeout=60)


def test_without_data_it_explains_how_to_make_some(tmp_path, monkeypatch):
    at = app_for(tmp_path, monkeypatch).run()
    assert not at.exception
    assert "aurora-sw demo" in at.markdown[0].value


@pytest.mark.parametrize("page", ["Overview", "Night", "Classifier", "Correlations"])
def test_every_page_renders(demo_run, monkeypatch, page):
    out, _ = demo_run
    at = app_for(out, monkeypatch).run()
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    assert at.header[0].value == page


def test_changing_the_night_changes_what_is_shown(demo_run, monkeypatch):
    out, s = demo_run
    at = app_for(out, monkeypatch).run()
    at.sidebar.radio(key="page").set_value("Night").run()
    first = at.metric[0].value
    at.selectbox(key="night").set_value(s["nights"][-1]).run()
    assert not at.exception
    assert at.selectbox(key="night").value == s["nights"][-1]
    assert at.metric[0].value != first or at.slider(key="frame").max != 0
