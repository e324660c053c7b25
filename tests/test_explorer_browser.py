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
PAGES = ["Overview", "Night", "Classifier", "Correlations", "Forecast", "Live", "Labelling"]


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
