"""The web app's checks that need no warehouse: the Host allow-list and where it comes from, the
cross-origin test of unsafe requests, the headers of every answer, the analysis threads' bounds
(real threads, a real timeout) and `exohunter serve`'s port."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from scoring.web import app, http_errors, security, workers
from tests.unit import analysis_work as work

DEAD_URL = "postgresql://x:y@127.0.0.1:1/none"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(
        app.create_app(DEAD_URL, allowed_hosts=["127.0.0.1"]), base_url="http://127.0.0.1:8000"
    ) as test_client:
        yield test_client


# -- the Host allow-list -------------------------------------------------------------------------
def test_allowed_hosts_are_the_local_names_the_serve_host_and_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EXOHUNTER_ALLOWED_HOSTS", raising=False)
    assert security.allowed_hosts() == ["127.0.0.1", "localhost"]
    assert security.allowed_hosts("exohunter.lan") == ["127.0.0.1", "localhost", "exohunter.lan"]
    assert security.allowed_hosts("0.0.0.0") == ["127.0.0.1", "localhost"]  # no Host says that
    monkeypatch.setenv("EXOHUNTER_ALLOWED_HOSTS", " Exohunter.Example.org, *.lab.example ,")
    assert security.allowed_hosts("0.0.0.0") == [
        "127.0.0.1",
        "localhost",
        "exohunter.example.org",
        "*.lab.example",
    ]


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost2"])
def test_a_host_not_allowed_is_a_400(client: TestClient, host: str) -> None:
    for method, path in (("GET", "/health"), ("GET", "/lightcurves"), ("POST", "/score")):
        response = client.request(method, path, headers={"host": host})
        assert response.status_code == 400, (method, path)
        assert response.text == "Invalid host header"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_allowed_host_is_served_on_any_port(client: TestClient) -> None:
    response = client.get("/lightcurves", headers={"host": "127.0.0.1:9999"})
    assert response.status_code == 200


# -- cross-origin requests -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"origin": "http://127.0.0.1:8000"}, None),
        ({"referer": "http://127.0.0.1:8000/lightcurves"}, None),
        ({}, None),  # no browser: curl, httpx
        ({"origin": "http://evil.example"}, "'http://evil.example' (origin)"),
        ({"origin": "null"}, "'null' (origin)"),  # a sandboxed frame, a data: page
        ({"origin": "http://127.0.0.1:9999"}, "'http://127.0.0.1:9999' (origin)"),  # another port
        ({"referer": "https://evil.example/page"}, "'https://evil.example/page' (referer)"),
        # Origin is what a browser vouches for; a Referer cannot make a foreign Origin good.
        (
            {"origin": "http://evil.example", "referer": "http://127.0.0.1:8000/"},
            "'http://evil.example' (origin)",
        ),
    ],
)
def test_cross_origin(headers: dict[str, str], reason: str | None) -> None:
    found = security.cross_origin(Headers({"host": "127.0.0.1:8000", **headers}))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found
        assert found.startswith("cross-origin request refused")


@pytest.mark.parametrize(
    "path", ["/lightcurves", "/lightcurves/examples/kepler-6", "/api/lightcurves", "/score"]
)
def test_a_cross_origin_post_is_a_403_before_the_route(client: TestClient, path: str) -> None:
    # The warehouse is dead: a 403 here was answered before any route looked at it.
    response = client.post(path, headers={"origin": "http://evil.example"}, content=b"x")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("cross-origin request refused")


# -- headers -------------------------------------------------------------------------------------
def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    for path in ("/lightcurves", "/docs", "/health", "/openapi.json", "/static/upload.js"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "same-origin", path


def test_the_pages_have_a_csp_without_inline_code(client: TestClient) -> None:
    for path in ("/lightcurves", "/docs"):
        response = client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        # Every script is a file and there is no inline style: the policy would block them.
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == [], path
        assert "<style" not in response.text and "style=" not in response.text, path
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
            assert client.get(asset).status_code == 200, asset


def test_docs_assets_come_from_this_server(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert bundle.headers["content-type"].startswith("text/javascript")


# -- text inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["a\x00b.csv", "tab\there", "bell\x07", "del\x7f"])
def test_a_control_character_in_a_text_is_refused(text: str) -> None:
    with pytest.raises(http_errors.Refused, match="file name: contains the control character"):
        http_errors.check_text("file name", text)


# -- the analysis processes ----------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def forkserver() -> None:
    workers.warm_up()  # once: the deadlines below are for the work, not for importing it


def test_an_analysis_past_its_deadline_is_a_504_killed_before_it_commits(tmp_path: Path) -> None:
    analyses = workers.Analyses(workers=1, backlog=0, timeout_s=0.5)
    marker = tmp_path / "marker"
    started = time.monotonic()
    with pytest.raises(http_errors.Refused) as refused:
        asyncio.run(analyses.run(work.claim_after, 3.0, str(marker)))
    assert time.monotonic() - started < 2.5  # answered at the deadline, not after the work
    assert refused.value.status == 504
    assert "did not finish within 0.5 s" in refused.value.message
    assert "nothing was stored" in refused.value.message
    time.sleep(3.5)
    assert not marker.exists()  # killed: it never came to commit


def test_an_analysis_that_commits_at_the_deadline_is_answered() -> None:
    analyses = workers.Analyses(workers=1, backlog=0, timeout_s=1.0)
    assert asyncio.run(analyses.run(work.claim_then_commit_for, 2.0)) == "stored"


def test_a_refusal_in_the_child_keeps_its_status() -> None:
    with pytest.raises(http_errors.Refused) as refused:
        asyncio.run(workers.Analyses().run(work.refuse))
    assert (refused.value.status, refused.value.message) == (422, "x.csv: not a light curve")


def test_a_child_that_dies_is_an_error_that_says_so() -> None:
    with pytest.raises(workers.AnalysisDied, match=r"ended without an answer \(exit code 3\)"):
        asyncio.run(workers.Analyses().run(work.die))


def test_a_full_queue_is_a_503_at_once(tmp_path: Path) -> None:
    analyses = workers.Analyses(workers=1, backlog=1, timeout_s=30)

    async def three_at_once() -> list[str | BaseException]:
        first = asyncio.ensure_future(analyses.run(work.claim_after, 1.0, str(tmp_path / "1")))
        second = asyncio.ensure_future(analyses.run(work.claim_after, 0.1, str(tmp_path / "2")))
        await asyncio.sleep(0.05)
        third = asyncio.ensure_future(analyses.run(work.claim_after, 0.1, str(tmp_path / "3")))
        await asyncio.sleep(0.05)
        assert third.done()  # refused without waiting
        return await asyncio.gather(first, second, third, return_exceptions=True)

    first, second, third = asyncio.run(three_at_once())
    assert (first, second) == ("done", "done")
    assert isinstance(third, http_errors.Refused) and third.status == 503
    assert third.message.startswith("the server is busy: 2 analyses running or waiting")
    assert not (tmp_path / "3").exists()


def test_files_held_past_the_budget_are_a_503(tmp_path: Path) -> None:
    analyses = workers.Analyses(workers=1, backlog=10, timeout_s=30)
    marker = str(tmp_path / "marker")
    with pytest.raises(http_errors.Refused) as refused:
        asyncio.run(
            analyses.run(work.claim_after, 0, marker, held_bytes=workers.MAX_HELD_BYTES + 1)
        )
    assert refused.value.status == 503 and "(0 MB of files)" in refused.value.message
    done = analyses.run(work.claim_after, 0, marker, held_bytes=workers.MAX_HELD_BYTES)
    assert asyncio.run(done) == "done"


# -- exohunter serve ----------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scoring", "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Invalid value for '--port'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
