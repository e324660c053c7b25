"""The Explorer in a real browser: headless Chromium opens every page of the demo output.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them when root) and
selenium. Screenshots go to pytest's temporary folder, or to ``$AURORA_SW_SCREENSHOTS`` (the
README's pictures are made that way).
"""

import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAGES = ["Overview", "Night", "Classifier", "Correlations", "Forecast", "Live", "Labelling", "Map"]


@pytest.fixture(scope="module")
def server(demo_live, tmp_path_factory):
    from test_explorer_cli import running_explorer  # as a user starts it: 127.0.0.1, no tracebacks in the page

    out = demo_live  # the demo's output, with a forecast and two live minutes
    with running_explorer(out, cwd=tmp_path_factory.mktemp("explore")) as (_, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no chromium/chromedriver: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1500,2000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(CHROMEDRIVER))  # no Selenium Manager: offline
    yield driver
    driver.quit()


def wait_for_page(driver, page: str, timeout: float = 90) -> float:
    """Seconds until the page's header and charts are drawn and the app is idle."""
    from selenium.webdriver.common.by import By

    t0 = time.time()
    while time.time() - t0 < timeout:
        headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stHeading"]')]
        running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        charts = driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot, [data-testid='stImage']")
        if any(page in h for h in headings) and not running and (charts or page == "Labelling"):
            return time.time() - t0
        time.sleep(0.2)
    pytest.fail(f"page {page} did not finish drawing in {timeout} s")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_in_chromium_without_an_error(server, browser, page, tmp_path_factory):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/?page={page}")
    seconds = wait_for_page(browser, page)
    time.sleep(1.5)  # let plotly finish laying out before the picture
    errors = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert not errors, [e.text for e in errors]
    shots = Path(os.environ.get("AURORA_SW_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shots / f"explorer_{page.lower()}.png"))
    print(f"{page}: drawn in {seconds:.1f} s")


def test_the_suggested_list_is_labelled_in_chromium(server, browser, demo_live):
    """The Labelling page's suggested mode in a real browser: choosing "suggested list" shows the list's first
    frame with why it was suggested (the list as `aurora-sw label suggest` writes it; nothing is labelled here)."""
    from selenium.webdriver.common.by import By

    from aurora_sw.ingest import read_manifest

    listed = Path(demo_live) / "suggested.csv"
    rows = read_manifest(Path(demo_live) / "archive").iloc[[11, 5]]
    rows.assign(p_aurora=[0.49, 0.52], reason=["p_aurora 0.490: 0.010 from the threshold 0.50", "p_aurora 0.520: 0.020 from the threshold 0.50"], label="")[
        ["path", "time_utc", "night", "p_aurora", "reason", "label"]].to_csv(listed, index=False)
    try:
        browser.get(f"{server}/?page=Labelling")
        wait_for_page(browser, "Labelling")
        option = [e for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stRadio"] label') if e.text.strip() == "suggested list"]
        assert option, "no 'suggested list' choice on the Labelling page"
        option[0].click()
        t0 = time.time()
        while "suggested: p_aurora 0.490" not in browser.page_source and time.time() - t0 < 60:
            time.sleep(0.3)
        assert "suggested: p_aurora 0.490: 0.010 from the threshold 0.50" in browser.page_source
        assert "0 of 2 suggested frames labelled" in browser.page_source or "of 2 suggested frames labelled" in browser.page_source
        assert browser.find_elements(By.CSS_SELECTOR, "[data-testid='stImage']")
        errors = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"], [data-testid="stAlertContentError"]')
        assert not errors, [e.text for e in errors]
    finally:
        listed.unlink(missing_ok=True)


def test_a_box_drawn_on_the_map_selects_frames_that_are_labelled_in_bulk(server, browser, demo_live):
    """The Map page in a real browser: a box dragged over the archive's map selects minutes, their frames
    are shown, and one click labels them all into the label store typed on the page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from aurora_sw.labels import LabelStore

    store = Path(demo_live) / "map_browser_labels.parquet"
    store.unlink(missing_ok=True)
    browser.get(f"{server}/?page=Map")
    wait_for_page(browser, "Map")
    time.sleep(1.5)
    layer = browser.find_element(By.CSS_SELECTOR, ".js-plotly-plot .nsewdrag")
    w, h = layer.size["width"], layer.size["height"]
    ActionChains(browser).move_to_element_with_offset(layer, -w // 2 + 5, -h // 2 + 5).click_and_hold().move_by_offset(w // 4, h // 4).pause(0.3).move_by_offset(w // 4, h // 4).release().perform()
    try:
        t0 = time.time()
        while "minutes selected" not in browser.page_source and time.time() - t0 < 60:
            time.sleep(0.3)
        heading = [h.text for h in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stHeading"]') if "minutes selected" in h.text]
        assert heading, "the box selected nothing"
        n = int(heading[0].split()[0])
        t0 = time.time()
        while not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stImage']") and time.time() - t0 < 60:
            time.sleep(0.3)
        assert n > 0 and browser.find_elements(By.CSS_SELECTOR, "[data-testid='stImage']")
        box = browser.find_element(By.CSS_SELECTOR, 'input[aria-label="label store (under the data root)"]')
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(store.name, Keys.ENTER)
        time.sleep(2)
        wanted = [b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip().endswith("as yes")]
        assert wanted, "no bulk-label button"
        labelled = int(wanted[0].text.split()[1])
        wanted[0].click()
        t0 = time.time()
        while not store.exists() and time.time() - t0 < 60:
            time.sleep(0.3)
        labels = LabelStore(store).df
        assert len(labels) == labelled > 0 and (labels["label"] == "yes").all() and labels["labeller"].eq("explorer-map").all()
        errors = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"], [data-testid="stAlertContentError"]')
        assert not errors, [e.text for e in errors]
    finally:
        store.unlink(missing_ok=True)
