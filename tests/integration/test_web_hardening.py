"""The web app against a hostile user, over a real warehouse (a migrated database of the session's
PostgreSQL: uploads are searched and stored as ever, without a light-curve model) and, where it
matters, a real uvicorn: cross-origin posts and
foreign Host names, weird values and bytes, bodies too large (announced or streamed), an analysis
over its deadline, and /health while a full Kepler mission is searched. Every refusal is a 4xx/5xx
with its message, and the row counts before and after say that nothing was written."""

from __future__ import annotations

import contextlib
import json
import math
import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from scoring.lightcurves import store
from scoring.warehouse import server
from scoring.web import app, uploads, workers
from tests.web_server import serve

pytestmark = pytest.mark.integration

KEPLER6 = "kplr010874614-2009131105131_llc.fits"  # Q0 of Kepler-6: 9.7 days, a second's search
FULL_MISSION = "kic8462852_tabby_normalized_flux_q0-q17.csv"  # ~65k points: seconds of search
SIGNAL = {
    "orbital_period_days": 3.5,
    "transit_duration_hours": 2.0,
    "transit_depth_ppm": 900.0,
    "n_kois_on_star": 1,
    "period_rank_on_star": 1,
}
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def warehouse(pg_cluster: server.PostgresCluster) -> Iterator[str]:
    with pg_cluster.scratch_database("web") as url:
        yield url


@pytest.fixture(scope="module")
def client(warehouse: str) -> Iterator[TestClient]:
    with TestClient(app.create_app(warehouse), base_url=f"http://{HOST}") as test_client:
        yield test_client


def counts(url: str) -> tuple[int, ...]:
    """Every table an upload writes."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """select (select count(*) from raw.lightcurves),
                      (select count(*) from raw.lightcurve_points),
                      (select count(*) from raw.lightcurve_uploads),
                      (select count(*) from raw.lightcurve_segments),
                      (select count(*) from ml.lightcurve_analyses),
                      (select count(*) from ml.lightcurve_signals)"""
        ).fetchone()


def file_bytes(name: str) -> bytes:
    return (store.LIGHTCURVE_DIR / name).read_bytes()


# -- cross-origin posts ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/lightcurves", {"origin": "http://evil.example"}),
        ("/lightcurves", {"origin": "null"}),
        ("/lightcurves", {"referer": "http://evil.example/upload.html"}),
        ("/api/lightcurves", {"origin": "http://evil.example"}),
        ("/lightcurves/examples/kepler-6", {"origin": "http://127.0.0.1.evil.example"}),
    ],
)
def test_a_cross_origin_upload_is_refused_and_writes_nothing(
    client: TestClient, warehouse: str, path: str, headers: dict[str, str]
) -> None:
    before = counts(warehouse)
    response = client.post(path, headers=headers, files={"file": (KEPLER6, file_bytes(KEPLER6))})
    assert response.status_code == 403
    assert response.json()["detail"].startswith("cross-origin request refused: it comes from")
    assert counts(warehouse) == before


def test_a_cross_origin_score_is_refused(client: TestClient) -> None:
    response = client.post("/score", json=[SIGNAL], headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    assert "cross-origin request refused" in response.json()["detail"]


def test_the_form_of_this_server_and_a_script_are_served(
    client: TestClient, warehouse: str
) -> None:
    before = counts(warehouse)
    page = client.post(
        "/lightcurves/examples/kepler-6",
        headers={"origin": f"http://{HOST}", "referer": f"http://{HOST}/lightcurves"},
        follow_redirects=False,
    )
    assert page.status_code == 303, page.text
    assert counts(warehouse)[2] == before[2] + 1  # one upload more
    script = client.post("/api/lightcurves", files={"file": (KEPLER6, file_bytes(KEPLER6))})
    assert script.status_code == 201, script.text
    assert counts(warehouse)[2] == before[2] + 2


# -- the Host allow-list --------------------------------------------------------------------------
def test_a_foreign_host_is_a_400_and_writes_nothing(client: TestClient, warehouse: str) -> None:
    before = counts(warehouse)
    response = client.post(
        "/api/lightcurves",
        headers={"host": "rebound.evil.example"},
        files={"file": (KEPLER6, file_bytes(KEPLER6))},
    )
    assert response.status_code == 400
    assert response.text == "Invalid host header"
    assert client.get("/health", headers={"host": "rebound.evil.example:8000"}).status_code == 400
    assert counts(warehouse) == before


def test_exohunter_allowed_hosts_adds_a_name(
    warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOHUNTER_ALLOWED_HOSTS", "exohunter.example.org")
    with TestClient(app.create_app(warehouse), base_url="http://exohunter.example.org") as named:
        assert named.get("/health").json()["database"] == "up"
        refused = named.get("/health", headers={"host": "other.example.org"})
        assert refused.status_code == 400 and refused.text == "Invalid host header"


# -- weird values and bytes -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1e308, "orbital_period_days: Input should be less than or equal to"),
        (-1e308, "orbital_period_days: Input should be greater than 0"),
        (math.inf, "orbital_period_days: Input should be a finite number"),
        (math.nan, "orbital_period_days: Input should be a finite number"),
    ],
)
def test_a_period_that_is_not_a_period_is_a_422(
    client: TestClient, value: float, message: str
) -> None:
    body = json.dumps([{**SIGNAL, "orbital_period_days": value}])  # Infinity, NaN as Python writes
    response = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    "field", ["transit_depth_ppm", "planet_radius_earth", "stellar_radius_solar"]
)
def test_any_value_past_the_physical_bounds_is_a_422(client: TestClient, field: str) -> None:
    response = client.post("/score", json=[{**SIGNAL, field: 1e308}])
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(f"body[0].{field}: Input should be less than")


@pytest.mark.parametrize(
    "path", ["/kois/K00017.01%00", "/kois/K00017.01%00/report.pdf", "/kois/K00017.01%0A", "/kois/x"]
)
def test_a_malformed_koi_name_is_a_422(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("path.kepoi_name: String should match pattern")


def _multipart(filename: bytes, data: bytes, star_id: bytes = b"") -> bytes:
    """A multipart body written by hand: httpx would percent-encode a NUL in a file name, a
    browser or a hostile script need not."""
    star = b'--b\r\nContent-Disposition: form-data; name="star_id"\r\n\r\n%s\r\n' % star_id
    return (
        (star if star_id else b"")
        + b'--b\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n' % filename
        + b"Content-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n" % data
    )


@pytest.mark.parametrize(
    ("path", "filename", "star_id", "message"),
    [
        ("/api/lightcurves", b"kepler\x006.fits", b"", "file name: contains"),
        ("/api/lightcurves", KEPLER6.encode(), b"KIC\x00 1", "star id: contains"),
        ("/lightcurves", b"kepler\x006.fits", b"", "file name: contains"),
        ("/lightcurves", b"kepler6\x1b[31m.fits", b"", "file name: contains"),
    ],
)
def test_a_control_character_in_a_name_is_a_422_and_writes_nothing(
    client: TestClient, warehouse: str, path: str, filename: bytes, star_id: bytes, message: str
) -> None:
    before = counts(warehouse)
    response = client.post(
        path,
        content=_multipart(filename, file_bytes(KEPLER6), star_id),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 422, response.text
    text = response.json()["detail"] if path.startswith("/api") else response.text
    assert message in text and "the control character" in text
    assert counts(warehouse) == before


# -- bodies too large -----------------------------------------------------------------------------
def _raw_request(base: str, head: str, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head``, then ``chunks`` until the server answers (or stops reading); its answer
    and the body bytes sent by then."""
    port = int(base.rsplit(":", 1)[1])
    sent = 0
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there
            try:
                sock.sendall(chunk)
            except OSError:  # closed, reset, or no longer read
                break
            sent += len(chunk)
        answer = b""
        with contextlib.suppress(OSError):
            while b"Content Too Large" not in answer and (data := sock.recv(65536)):
                answer += data
    return answer, sent


def _multipart_head(path: str, length: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{length}"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    )


def test_a_500_mb_upload_is_refused_before_it_is_read(warehouse: str) -> None:
    before = counts(warehouse)
    with serve(app.create_app(warehouse)) as base:
        head = _multipart_head("/api/lightcurves", f"Content-Length: {500 * 2**20}\r\n")
        preamble = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        answer, sent = _raw_request(base, head, iter([preamble] + [b"0" * 2**20] * 500))
    assert answer.startswith(b"HTTP/1.1 413 ") and answer.endswith(b"Content Too Large")
    assert sent < 10 * 2**20  # answered at once: the body was never read
    assert counts(warehouse) == before


def test_a_streamed_upload_is_cut_off_at_the_limit(warehouse: str) -> None:
    before = counts(warehouse)

    def chunked() -> Iterator[bytes]:
        preamble = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
        block = b"0" * 2**20
        for _ in range(500):
            yield b"%x\r\n%s\r\n" % (len(block), block)

    with serve(app.create_app(warehouse)) as base:
        head = _multipart_head("/api/lightcurves", "Transfer-Encoding: chunked\r\n")
        answer, sent = _raw_request(base, head, chunked())
    assert answer.startswith(b"HTTP/1.1 413 ") and b'{"detail":"Content Too Large"}' in answer
    assert uploads.MAX_REQUEST_BYTES <= sent < uploads.MAX_REQUEST_BYTES + 64 * 2**20
    assert counts(warehouse) == before


# -- analyses off the event loop ------------------------------------------------------------------
def _upload_while_polling_health(base: str, name: str) -> tuple[httpx.Response, list[float]]:
    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        result["response"] = httpx.post(
            f"{base}/api/lightcurves", files={"file": (name, file_bytes(name))}, timeout=600
        )

    thread = threading.Thread(target=upload)
    thread.start()
    latencies = []
    while thread.is_alive():
        started = time.perf_counter()
        assert httpx.get(f"{base}/health", timeout=10).json()["database"] == "up"
        latencies.append(time.perf_counter() - started)
        time.sleep(0.1)
    thread.join()
    return result["response"], latencies


def test_health_answers_within_a_second_while_a_full_mission_is_searched(warehouse: str) -> None:
    before = counts(warehouse)
    with serve(app.create_app(warehouse)) as base:
        response, latencies = _upload_while_polling_health(base, FULL_MISSION)
    assert response.status_code == 201, response.text
    assert response.json()["analysis"]["search_seconds"] > 2  # a search long enough to measure
    assert len(latencies) >= 10
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    assert counts(warehouse)[2] == before[2] + 1


def test_an_analysis_past_its_deadline_is_a_504_and_stores_nothing(warehouse: str) -> None:
    before = counts(warehouse)
    workers.warm_up()  # the deadline is for the search, not for the forkserver's imports
    with serve(app.create_app(warehouse, analysis_timeout_s=1.0)) as base:
        started = time.perf_counter()
        response, _ = _upload_while_polling_health(base, FULL_MISSION)
        answered = time.perf_counter() - started
    assert response.status_code == 504
    assert response.json()["detail"].startswith("the analysis did not finish within 1 s")
    assert "nothing was stored" in response.json()["detail"]
    assert answered < 5  # at the deadline: the process is killed, not waited for
    assert counts(warehouse) == before


def test_the_result_page_is_drawn_by_the_analysis_processes(warehouse: str) -> None:
    with TestClient(app.create_app(warehouse), base_url=f"http://{HOST}") as fresh:
        upload = fresh.post("/api/lightcurves", files={"file": (KEPLER6, file_bytes(KEPLER6))})
        assert upload.status_code == 201, upload.text
    # Another app: the search is not in its memory, so the page searches again to draw.
    with TestClient(app.create_app(warehouse), base_url=f"http://{HOST}") as other:
        page = other.get(f"/lightcurves/{upload.json()['upload']['upload_id']}")
        assert page.status_code == 200
        assert page.text.count('src="data:image/png;base64,') >= 3
        missing = other.get("/lightcurves/999999")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no analysed light-curve upload 999999"
