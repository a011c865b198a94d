"""Faults of the embedded warehouse: a hung server, a damaged home, a server killed mid-ingest.

Each is answered with one line (exit 1, no traceback) that says what is wrong and how to
repair it, and none rewrites the home's state or half-writes a batch. The tests run their own
embedded server in a throwaway home, so that stopping or killing it hurts no other test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from scoring import settings
from scoring.warehouse import server
from scoring.web import app
from tests.cli import exohunter

pytestmark = pytest.mark.integration

KOI_FILE = str(settings.SHIPPED_KOI_FILE)
# A CLI command's own start-up (imports) on two busy cores, on top of the timeout it waits.
START_UP_S = 15


@dataclass
class Home:
    """A throwaway EXOHUNTER_HOME with its own running embedded server."""

    root: Path
    env: dict[str, str]

    @property
    def cluster(self) -> server.PostgresCluster:
        return server.PostgresCluster(self.root / "warehouse")

    @property
    def port_file(self) -> Path:
        return self.root / "warehouse" / "port"

    def pid(self) -> int:
        running = self.cluster.postmaster()
        assert running is not None, "the home's server should run"
        return running.pid

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return exohunter(*args, env=self.env)

    def counts(self) -> tuple[int, int]:
        """Load batches and KOI rows in raw, through the app role."""
        url = self.run("warehouse", "url", "--show-password").stdout.strip()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select (select count(*) from raw.load_batches),"
                " (select count(*) from raw.koi_cumulative)"
            ).fetchone()
        assert row is not None
        return row[0], row[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("faulty_home")
    env = {**os.environ, "EXOHUNTER_HOME": str(root)}
    env.pop("EXOHUNTER_DATABASE_URL", None)
    own = Home(root, env)
    up = own.run("warehouse", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    yield own
    own.run("warehouse", "down")


@pytest.fixture
def in_home(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """The home as this process's EXOHUNTER_HOME too (for the API in-process)."""
    monkeypatch.setenv("EXOHUNTER_HOME", str(home.root))
    monkeypatch.delenv("EXOHUNTER_DATABASE_URL", raising=False)
    return home


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single `error:` line of a command that failed as a user error should."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors == lines[-1:], output
    return errors[0].removeprefix("error: ")


def test_a_hung_server_times_out_and_is_not_restarted(in_home: Home) -> None:
    home = in_home
    pid, port = home.pid(), home.port_file.read_text()
    hung = (
        f"the warehouse at 127.0.0.1:{port} (pid {pid}) does not answer within"
        f" {server.CONNECT_TIMEOUT_S} s: it may be hung or overloaded; it was not restarted"
    )
    os.kill(pid, signal.SIGSTOP)
    try:
        for command in (["warehouse", "status"], ["warehouse", "up"], ["ingest", "koi", KOI_FILE]):
            started = time.monotonic()
            result = home.run(*command)
            seconds = time.monotonic() - started
            assert one_error(result).startswith(hung), command
            assert seconds < server.CONNECT_TIMEOUT_S + START_UP_S, (command, seconds)
        # The API's connections: a 503 within the connect timeout, not a hang.
        started = time.monotonic()
        with TestClient(app.create_app()) as client:
            health = client.get("/health")
        assert time.monotonic() - started < server.CONNECT_TIMEOUT_S + START_UP_S
        assert health.status_code == 503 and hung in health.json()["detail"]
        assert home.port_file.read_text() == port, "the port file must stay"
        assert home.pid() == pid, "no second server on the same data directory"
    finally:
        os.kill(pid, signal.SIGCONT)
    status = home.run("warehouse", "status")
    assert status.returncode == 0 and "running" in status.stdout, status.stdout + status.stderr
    assert home.pid() == pid and home.port_file.read_text() == port


@pytest.mark.parametrize("content", ["abc", "", "99999", "0", "\xff"])
def test_a_damaged_port_file_says_how_to_repair_it(in_home: Home, content: str) -> None:
    home = in_home
    port = home.port_file.read_text()
    home.port_file.write_bytes(content.encode("latin-1"))
    try:
        for command in (["warehouse", "status"], ["ingest", "koi", KOI_FILE]):
            message = one_error(home.run(*command))
            assert message.startswith(f"the port file {home.port_file} is damaged: it "), message
            assert message.endswith(f"listens on {port}: write {port} into it"), message
        with TestClient(app.create_app()) as client:
            answer = client.get("/discoveries")
        assert answer.status_code == 503 and "is damaged" in answer.json()["detail"]
    finally:
        home.port_file.write_text(port)  # the repair the message names
    assert home.run("warehouse", "status").returncode == 0


def test_a_damaged_port_file_of_a_stopped_server_is_repaired_by_deleting_it(home: Home) -> None:
    assert home.run("warehouse", "down").returncode == 0
    home.port_file.write_text("not a port")
    message = one_error(home.run("warehouse", "up"))
    assert message.endswith(
        "no server of this home runs: delete it, and `exohunter warehouse up` starts the server"
        " on a free port"
    ), message
    home.port_file.unlink()
    up = home.run("warehouse", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert home.cluster.postmaster() is not None and home.port_file.read_text().isdigit()


def test_a_port_file_naming_another_postgresql(
    home: Home, pg_cluster: server.PostgresCluster
) -> None:
    port, other = home.port_file.read_text(), str(pg_cluster.port)
    home.port_file.write_text(other)
    try:
        for command in (["warehouse", "status"], ["ingest", "koi", KOI_FILE]):
            assert one_error(home.run(*command)) == (
                f"{home.port_file} says port {other}, but the warehouse server of this home"
                f" (pid {home.pid()}) listens on {port}: write {port} into it"
            )
    finally:
        home.port_file.write_text(port)
    # With this home's server stopped, the busy port is someone else's: `up` moves to a free one.
    assert home.run("warehouse", "down").returncode == 0
    home.port_file.write_text(other)
    stopped = home.run("warehouse", "status")
    assert stopped.returncode == 3 and "stopped" in stopped.stdout, stopped.stdout
    up = home.run("warehouse", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert home.port_file.read_text() not in (other, "")
    assert pg_cluster.status().running, "the other server is left alone"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is damaged (empty or not one line of text)"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_a_damaged_password_file_says_how_to_repair_it(
    home: Home, content: bytes, problem: str
) -> None:
    secrets = home.root / "secrets"
    admin = secrets / "warehouse_admin_password"
    kept = admin.read_bytes()
    admin.write_bytes(content)
    try:
        message = one_error(home.run("warehouse", "up"))
        assert message.startswith(f"the password file {admin} {problem}"), message
        assert "restore it from a backup of the home" in message
    finally:
        admin.write_bytes(kept)
    # The app role's password is the home's to give: deleting a damaged one is the repair.
    app_password = secrets / "warehouse_password"
    app_password.write_bytes(content)
    message = one_error(home.run("warehouse", "up"))
    assert message.startswith(f"the password file {app_password} {problem}"), message
    assert "delete it: the next command generates a new one" in message
    app_password.unlink()
    assert home.run("warehouse", "up").returncode == 0
    home.counts()  # connects with the new password


def test_a_changed_admin_password_is_named(home: Home) -> None:
    admin = home.root / "secrets" / "warehouse_admin_password"
    kept = admin.read_bytes()
    admin.write_text("not-the-password")
    try:
        message = one_error(home.run("warehouse", "up"))
    finally:
        admin.write_bytes(kept)
    assert message.startswith(f"the warehouse refuses the admin password of {admin}"), message


def test_killing_the_server_during_an_ingest_writes_nothing(home: Home) -> None:
    before = home.counts()
    url = home.run("warehouse", "url", "--show-password").stdout.strip()
    pid = home.pid()
    # The ingest waits on a lock on the KOI table, mid-transaction, when the server dies.
    blocker = psycopg.connect(url)
    blocker.execute("lock table raw.koi_cumulative in access exclusive mode")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "scoring", "ingest", "koi", KOI_FILE],
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with psycopg.connect(url, autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while not watcher.execute(
                "select 1 from pg_stat_activity where wait_event_type = 'Lock'"
            ).fetchone():
                assert ingest.poll() is None and time.monotonic() < deadline, ingest.stdout
                time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = ingest.communicate(timeout=120)
    finally:
        ingest.kill()
        blocker.close()
    message = one_error(subprocess.CompletedProcess(ingest.args, ingest.returncode, stdout, stderr))
    assert message.startswith("the warehouse failed during the command ("), message
    assert message.endswith(
        "what it had not committed was not written; `exohunter warehouse status` says whether"
        " the server runs"
    )
    stopped = home.run("warehouse", "status")
    assert stopped.returncode == 3 and "stopped" in stopped.stdout, stopped.stdout
    up = home.run("warehouse", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert home.counts() == before, "nothing of the interrupted batch is written"


def test_a_statement_timeout_bounds_a_read(database_url: str) -> None:
    with server.connect(database_url, statement_timeout_s=0.5) as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("select pg_sleep(5)")
        assert time.monotonic() - started < 3
