"""The upload web app in a real browser: Debian's Chromium driven by Playwright uploads the
Kepler-6 light curve through the page and reads the period, P(planet) and the CNN's score and
views off the result page, then uploads a text file renamed .fits and reads the error. The
browser comes from tests/browser/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from scoring.lightcurves import store
from scoring.web import app
from tests.browser.conftest import SCREENSHOTS
from tests.web_server import serve

# The first test may build the session's scored warehouse and train the light-curve classifier.
pytestmark = [pytest.mark.browser, pytest.mark.integration]

KEPLER6 = store.LIGHTCURVE_DIR / "kplr010874614-2009131105131_llc.fits"


@pytest.fixture(scope="module")
def base_url(lightcurve_warehouse: str) -> Iterator[str]:
    with serve(app.create_app(lightcurve_warehouse)) as url:
        yield url


def test_upload_kepler6_and_read_period_and_p_planet(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 2400})
    page.goto(f"{base_url}/lightcurves")
    page.set_input_files("#file", str(KEPLER6))
    page.click("#submit")
    page.wait_for_url(f"{base_url}/lightcurves/*", timeout=120_000)
    expect(page.locator("#target")).to_have_text("KIC 10874614")
    period = float(page.locator("td.period").first.inner_text())
    p_planet = float(page.locator("td.p-planet").first.inner_text())
    assert abs(period / 3.234699 - 1) < 0.001
    assert p_planet >= 0.9
    expect(page.locator("#verdict")).to_have_text("1 likely planet.")
    expect(page.locator("#stellar-source")).to_have_text("koi_table")
    assert page.locator("img:not(.cnn-view)").count() == 5
    assert_the_cnn_views_and_score_are_shown(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lightcurve_result_kepler6.png"), full_page=True)
    page.close()


def assert_the_cnn_views_and_score_are_shown(page: Page) -> None:
    """Each signal's three CNN views drawn (decoded images, in order), its score beside
    P(planet) in the table and above the views, and the training-domain note of a Kepler file."""
    n_signals = page.locator("tr.signal").count()
    shown = page.locator("img.cnn-view")
    assert n_signals >= 1 and shown.count() == 3 * n_signals
    kinds = [shown.nth(i).get_attribute("data-view") for i in range(shown.count())]
    assert kinds == ["global", "local", "secondary"] * n_signals
    widths = shown.evaluate_all("images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert min(widths) > 100  # every view decoded and drawn
    in_table = float(page.locator("td.cnn-p-pc").first.inner_text())
    above_views = float(page.locator("#cnn-signal-1 .cnn-score").inner_text())
    assert 0 <= in_table <= 1 and in_table == above_views
    expect(page.locator("#cnn-domain")).to_contain_text("Out of the CNN's training domain")
    expect(page.locator("#cnn-domain")).to_contain_text("Kepler light curve")
    expect(page.locator("#cnn-verdict-note")).to_contain_text("Not used in the verdict")


def test_a_text_file_renamed_fits_shows_the_error(
    browser: Browser, base_url: str, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.fits"
    fake.write_text("these are my observing notes, not a light curve\n")
    page = browser.new_page()
    page.goto(f"{base_url}/lightcurves")
    page.set_input_files("#file", str(fake))
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("content is not FITS")
    assert page.url == f"{base_url}/lightcurves"
    page.close()
