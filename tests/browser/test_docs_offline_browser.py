"""/docs in a real Chromium with no internet to reach: Swagger UI's assets come from this server
(the fastapi-offline package), the page lists the endpoints, asks nothing of any other host and
breaks none of its own Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from scoring.web import app
from tests.browser.conftest import SCREENSHOTS
from tests.web_server import serve

pytestmark = pytest.mark.browser

DEAD_URL = "postgresql://x:y@127.0.0.1:1/none"  # the docs need no warehouse


def test_docs_work_offline(browser: Browser) -> None:
    with serve(app.create_app(DEAD_URL)) as base:
        page = browser.new_page()
        requested: list[str] = []
        violations: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
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
