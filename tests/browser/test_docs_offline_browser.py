"""/docs in a real Chromium with no internet to reach: Swagger UI's assets come from this server
(the fastapi-offline package), the page lists the endpoints, asks nothing of any other host and
breaks none of its own Content-Security-Policy; and the upload page's script and style sheet,
files now, still run under theirs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from scoring.web import app
from tests.browser.conftest import SCREENSHOTS
from tests.web_server import serve

pytestmark = pytest.mark.browser

DEAD_URL = "postgresql://x:y@127.0.0.1:1/none"  # the docs need no warehouse


def csp_violations(page: Page) -> list[str]:
    """The Content-Security-Policy violations the page reports on its console, as they come."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_docs_work_offline(browser: Browser) -> None:
    with serve(app.create_app(DEAD_URL)) as base:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        violations = csp_violations(page)
        response = page.goto(f"{base}/docs")
        assert response is not None and response.status == 200
        page.wait_for_selector("text=/discoveries", timeout=30_000)
        for path in ("/health", "/kois/{kepoi_name}", "/score", "/api/lightcurves"):
            assert page.locator(f".opblock-summary-path[data-path='{path}']").count() == 1, path
        assert page.locator(".info .title").first.inner_text().startswith("ExoHunter scoring API")
        # Open one operation: Swagger UI draws its parameters from the schema.
        page.click(".opblock-summary-path[data-path='/discoveries']")
        page.wait_for_selector("text=Rows to return")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "docs_offline.png"), full_page=False)
        page.close()
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requested
    assert any(url.endswith("/static/swagger-ui/swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("/openapi.json") for url in requested)
    assert violations == []


def test_the_upload_page_script_runs_under_its_csp(browser: Browser, tmp_path: Path) -> None:
    # The page's JavaScript is a static file now: it must still run, and break no policy.
    chosen = tmp_path / "my_star.csv"
    chosen.write_text("time,flux\n0,1\n")
    with serve(app.create_app(DEAD_URL)) as base:
        page = browser.new_page()
        violations = csp_violations(page)
        page.goto(f"{base}/lightcurves")
        page.set_input_files("#file", str(chosen))
        page.wait_for_selector("#chosen li")
        assert page.inner_text("#chosen li").startswith("my_star.csv (0.00 MB)")
        # The style sheet applies: the drop zone has its dashed border.
        border = page.eval_on_selector("#dropzone", "e => getComputedStyle(e).borderStyle")
        page.close()
    assert border == "dashed"
    assert violations == []
