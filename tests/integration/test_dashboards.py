"""`exohunter dashboards`: bootstrap from the committed bundle, idempotent re-runs, stop and
restart, and clear errors."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml

from scoring import settings
from scoring.dashboards import service
from scoring.dashboards.client import SupersetClient
from scoring.warehouse import server

pytestmark = pytest.mark.integration

RESOURCES = ("dashboard", "chart", "dataset", "database")
Answer = tuple[int, str | None]  # an HTTP status and its Retry-After


def inventory(client: SupersetClient) -> dict[str, object]:
    return {
        **{resource: client.count(resource) for resource in RESOURCES},
        "charts": sorted(
            (chart["slice_name"], chart["id"])
            for slug in service.DASHBOARDS
            for chart in client.dashboard_charts(slug)
        ),
    }


def test_the_bundle_is_imported_with_the_read_only_role(
    superset: service.ServerStatus, superset_client: SupersetClient
) -> None:
    bundle = service.ASSETS_DIR
    counts = inventory(superset_client)
    assert counts["dashboard"] == len(list((bundle / "dashboards").glob("*.yaml")))
    assert counts["chart"] == len(list((bundle / "charts").glob("*.yaml")))
    database = superset_client.get("/api/v1/database/?q=(page_size:5)")["result"][0]
    detail = superset_client.get(f"/api/v1/database/{database['id']}/connection")["result"]
    assert detail["sqlalchemy_uri"].startswith("postgresql+psycopg2://exohunter_reader:XXXXXXXXXX@")
    assert oct((settings.home() / "secrets" / "superset_admin_password").stat().st_mode)[-3:] == (
        "600"
    )


@pytest.mark.parametrize("slug", sorted(service.DASHBOARDS))
def test_every_chart_query_returns_rows(superset_client: SupersetClient, slug: str) -> None:
    # The stored query context, as the benchmark and reports run it, through the read-only role.
    for chart in superset_client.dashboard_charts(slug):
        answer = superset_client.get(f"/api/v1/chart/{chart['id']}/data/")
        assert answer["result"][0]["rowcount"] > 0, chart["slice_name"]


def test_the_reader_selects_the_uploads_view(dashboard_warehouse: str) -> None:
    # A view dbt re-creates on every build, read through marts only.
    with psycopg.connect(server.reader_url(dashboard_warehouse)) as conn:
        uploads, analysed = conn.execute(
            "select count(*), count(*) filter (where is_analysed) from marts.fct_lightcurve_uploads"
        ).fetchone()
    assert uploads > 0 and analysed == uploads


def test_rerunning_up_changes_nothing(
    superset: service.ServerStatus, superset_client: SupersetClient, dashboard_warehouse: str
) -> None:
    before = inventory(superset_client)
    lines: list[str] = []
    service.up(dashboard_warehouse, superset.port or 0, lines.append)
    assert any("already runs" in line for line in lines)
    assert not any(line.startswith("login: admin / ") for line in lines), "password shown twice"
    assert inventory(superset_client) == before


def test_down_then_up_again_on_the_existing_install(
    superset: service.ServerStatus, dashboard_warehouse: str
) -> None:
    assert service.stop()
    assert not service.status().running and not service.healthy(superset.port or 0)
    assert not service.stop()
    started = time.perf_counter()
    lines: list[str] = []
    server = service.up(dashboard_warehouse, superset.port or 0, lines.append)
    print(f"dashboards up on an existing install: {time.perf_counter() - started:.1f} s")
    assert server.healthy and server.pid != superset.pid
    assert not any("db upgrade" in line for line in lines), "upgrade + init only when needed"


def status_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``exohunter dashboards status`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "scoring", "dashboards", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_command_reports_the_server(superset: service.ServerStatus) -> None:
    status = status_command({**os.environ})
    assert status.returncode == 0, status.stdout + status.stderr
    assert "answers /health" in status.stdout


def test_a_busy_port_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOHUNTER_SUPERSET_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind((service.HOST, 0))
        busy.listen()
        with pytest.raises(service.DashboardsError, match="in use by another program"):
            service.serve(busy.getsockname()[1], print)


def test_status_of_a_stopped_superset(tmp_path: Path) -> None:
    status = status_command({**os.environ, "EXOHUNTER_SUPERSET_HOME": str(tmp_path)})
    assert status.returncode == 3 and "stopped" in status.stdout


def test_export_gives_back_the_bundle(superset: service.ServerStatus, tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "stale.yaml").write_text("uuid: stale\n")
    service.export(tmp_path, print)

    def uuids(folder: Path) -> set[str]:
        return {
            yaml.safe_load(path.read_text(encoding="utf-8"))["uuid"]
            for kind in ("databases", "datasets", "charts", "dashboards")
            for path in (folder / kind).rglob("*.yaml")
        }

    assert uuids(tmp_path) == uuids(service.ASSETS_DIR)


def test_supersets_state_is_owner_only(superset: service.ServerStatus) -> None:
    # superset.db holds the admin's password hash and the warehouse password.
    where = service.paths()
    assert oct(where.root.stat().st_mode & 0o777) == "0o700"
    assert oct(where.metadata_db.stat().st_mode & 0o777) == "0o600"
    pid = service.status().pid  # the fixture's may have been restarted by an earlier test
    umask = re.search(r"^Umask:\s+(\d+)$", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert umask and umask.group(1) == "0077", "gunicorn creates owner-only files"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a failed form login answers 302 to the login page: keep that answer


def _answer(opener: urllib.request.OpenerDirector, request: urllib.request.Request) -> Answer:
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


def _wrong_logins(base_url: str, attempts: int) -> dict[str, list[Answer]]:
    """(status, Retry-After) of ``attempts`` wrong passwords on the login form (with its CSRF
    token, as a browser sends it) and on the REST login."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    with opener.open(f"{base_url}/login/", timeout=30) as page:
        token = re.search(r'name="csrf_token"\s+id="csrf_token"\s+value="([^"]+)"',
                          page.read().decode())  # fmt: skip
    assert token, "the login page carries a CSRF token"
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "username": service.ADMIN_USERNAME, "password": "wrong"}
    ).encode()
    rest = json.dumps(
        {"username": service.ADMIN_USERNAME, "password": "wrong", "provider": "db"}
    ).encode()
    requests = {
        "form": lambda: urllib.request.Request(f"{base_url}/login/", data=form, method="POST"),
        "rest": lambda: urllib.request.Request(
            f"{base_url}/api/v1/security/login", data=rest, method="POST",
            headers={"Content-Type": "application/json"},
        ),
    }  # fmt: skip
    return {
        route: [_answer(opener, request()) for _ in range(attempts)]
        for route, request in requests.items()
    }


def test_repeated_wrong_logins_are_throttled(superset: service.ServerStatus) -> None:
    # 5 per 40 s per client address and gunicorn worker (superset_config.py): of 15 wrong
    # passwords, at most 2 x 5 are checked, the rest refused with 429 and Retry-After.
    answers = _wrong_logins(superset.url, 15)
    for route, statuses in answers.items():
        refused = [retry for status, retry in statuses if status == 429]
        checked = [status for status, _ in statuses if status != 429]
        assert set(checked) <= {302, 401} and len(checked) <= 10, (route, statuses)
        assert len(refused) >= 5 and all(retry and int(retry) <= 40 for retry in refused), route
    # The limit lifts: after the window, the right password logs in again (and later tests can).
    time.sleep(max(int(retry) for route in answers.values() for _, retry in route if retry) + 1)
    client = SupersetClient(
        superset.url, service.ADMIN_USERNAME, settings.secret("superset_admin_password")
    )
    assert client.count("dashboard") == len(service.DASHBOARDS)
