"""Two Kepler quarters of one star uploaded at once in a real browser (Debian's Chromium driven
by Playwright, tests/browser/conftest.py): dropped on the page, the "stitching 2 files and
searching" state the page shows while the server works, then the stitched result read off the
page (its two segments, the period, where the stellar parameters came from); the same without
JavaScript through the plain multiple file input; and the past uploads listed on the upload
page.

On a copy of the session's light-curve warehouse, so that these uploads do not change what the
other tests count."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from scoring.lightcurves import store
from scoring.warehouse import server
from scoring.web import app, uploads
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import database_copy
from tests.web_server import serve

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BENCHMARK = store.LIGHTCURVE_DIR / "benchmark" / "kepler"
QUARTERS = (  # Kepler-32 (KIC 9787239), Q1 and Q2
    BENCHMARK / "kplr009787239-2009166043257_llc.fits",
    BENCHMARK / "kplr009787239-2009259160929_llc.fits",
)
KEPLER32_PERIODS = (5.901278150, 8.752096910, 22.780782410, 2.896005211, 0.742957911)


@pytest.fixture(scope="module")
def base_url(pg_cluster: server.PostgresCluster, lightcurve_warehouse: str) -> Iterator[str]:
    """`exohunter serve`'s app over a copy of the warehouse."""
    with (
        database_copy(pg_cluster, lightcurve_warehouse, "stitch_browser") as url,
        serve(app.create_app(url)) as base,
    ):
        yield base


def read_stitched_result(page: Page) -> None:
    expect(page.locator("#target")).to_have_text("KIC 9787239")
    expect(page.locator("#n-segments")).to_have_text("2")
    expect(page.locator("tr.segment td.section")).to_have_text(["Q1", "Q2"])
    expect(page.locator("tr.segment")).to_have_count(2)
    names = page.locator("tr.segment td:nth-child(2)").all_inner_texts()
    assert names == [q.name for q in QUARTERS]
    period = float(page.locator("td.period").first.inner_text())
    assert any(abs(period / p - 1) < 0.001 for p in KEPLER32_PERIODS), period
    expect(page.locator("#stellar-source")).to_have_text("koi_table")
    expect(page.locator("#stellar-origin")).to_contain_text("KOI table")
    expect(page.locator("a.koi").first).to_have_text("K00952.01")
    assert page.locator("img:not(.cnn-view)").count() == 5


def test_drop_two_quarters_see_searching_and_read_the_stitched_result(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 2400})
    page.goto(f"{base_url}/lightcurves")
    # drop both files on the page, as from a file manager
    payload = [
        [q.name for q in QUARTERS],
        [base64.b64encode(q.read_bytes()).decode() for q in QUARTERS],
    ]
    transfer = page.evaluate_handle(
        """([names, blobs]) => {
             const transfer = new DataTransfer();
             names.forEach((name, i) => {
               const bytes = Uint8Array.from(atob(blobs[i]), c => c.charCodeAt(0));
               transfer.items.add(new File([bytes], name));
             });
             return transfer;
           }""",
        payload,
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#chosen li")).to_have_count(2)
    assert page.eval_on_selector("#file", "input => input.files.length") == 2
    # submit and read the page's state in the same script: the submit handler runs before the
    # browser starts the navigation, which Playwright's locators would wait for
    shown = page.evaluate(
        """() => {
             document.getElementById("submit").click();
             const progress = document.getElementById("progress");
             return {hidden: progress.hidden, text: progress.textContent};
           }"""
    )
    assert shown["hidden"] is False
    assert "stitching 2 files and searching" in shown["text"]
    page.wait_for_url(f"{base_url}/lightcurves/*", timeout=300_000)
    read_stitched_result(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lightcurve_result_stitched.png"), full_page=True)
    page.close()


def test_without_javascript_the_multiple_file_input_still_stitches(
    browser: Browser, base_url: str
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 1600}
    )
    page = context.new_page()
    page.goto(f"{base_url}/lightcurves")
    page.set_input_files("#file", [str(q) for q in QUARTERS])
    page.click("#submit")
    page.wait_for_url(f"{base_url}/lightcurves/*", timeout=300_000)
    read_stitched_result(page)
    # the upload page lists it, newest first, with its verdict
    page.goto(f"{base_url}/lightcurves")
    first = page.locator("tr.recent-upload").first
    expect(first).to_contain_text("KIC 9787239")
    expect(first).to_contain_text("2 files")
    expect(first.locator("td.verdict")).to_contain_text("likely planet")
    expect(page.locator("#examples button")).to_have_count(len(uploads.EXAMPLES))
    expect(page.locator("#superset-dashboard")).to_have_attribute(
        "href", re.compile(r"/superset/dashboard/discoveries/\?standalone=0$")
    )
    page.screenshot(path=str(SCREENSHOTS / "lightcurve_upload_page.png"), full_page=True)
    context.close()
