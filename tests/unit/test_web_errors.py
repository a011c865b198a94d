"""The web layer answers every error once, as JSON with one line: a 4xx for the user's input, a
503 when the warehouse cannot serve, a 500 without a traceback for a bug (no database needed: the
app points at a port where nothing listens)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scoring.errors import ExoHunterError
from scoring.lightcurves.readers import LightCurveError
from scoring.lightcurves.search import SearchError
from scoring.ml.registry import RegistryError
from scoring.reports.content import NotScored, ReportError, UnknownKoi, UnknownToi
from scoring.warehouse.server import WarehouseError
from scoring.web import api, app, http_errors, uploads

DEAD_URL = "postgresql://x:y@127.0.0.1:1/none"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    web = app.create_app(DEAD_URL)

    @web.get("/bug")
    def bug() -> None:
        raise RuntimeError("a secret the user must not see")

    with TestClient(web, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownKoi("unknown KOI 'K1'"), 404),
        (UnknownToi("unknown TOI '1.01'"), 404),
        (NotScored("no TOI model has scored yet"), 503),
        (LightCurveError("not FITS"), 422),
        (SearchError("too few points"), 422),
        (uploads.UploadRefused(413, "larger than 50 MB"), 413),
        (WarehouseError("cannot connect to the warehouse"), 503),
        (RegistryError("unknown model version"), 503),
        (ReportError("run `exohunter run` first"), 503),
        (api.NotReady("no champion model yet"), 503),
        (ExoHunterError("anything else"), 503),
    ],
)
def test_status_of_each_refusal(error: ExoHunterError, status: int) -> None:
    assert http_errors.status_of(error) == status


def test_one_line() -> None:
    message = "connection failed: refused\n\tIs the server running?"
    assert (
        http_errors.one_line(ValueError(message))
        == "connection failed: refused; Is the server running?"
    )
    assert http_errors.one_line(ValueError("a\nb\n")) == "a; b"
    assert http_errors.one_line(ValueError("")) == ""


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/models"),
        ("GET", "/kois/K00752.01"),
        ("GET", "/kois/K00752.01/report.pdf"),
        ("GET", "/discoveries"),
        ("GET", "/api/lightcurves/1"),
    ],
)
def test_a_dead_warehouse_is_a_503_with_one_line(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("cannot connect to the warehouse")
    assert "\n" not in detail and ":y@" not in detail


def test_a_refused_upload_is_answered_with_its_status(client: TestClient) -> None:
    response = client.post("/api/lightcurves", files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n")})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("photo.png: ")


def test_a_bug_is_a_500_without_a_traceback(client: TestClient) -> None:
    response = client.get("/bug")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: see the server log"}
    assert "secret" not in response.text and "Traceback" not in response.text
