"""Faults of ingest and the pipeline, against a real PostgreSQL, dbt and Great Expectations:
missing numbers spelled every way, a truncated export, a download that breaks off, the files a
killed download leaves, and two commands at once.

The fault files are made here from the shipped export (``fault_*.csv``), so which row is bad
and what it must become are computed, not typed in. The pipeline cases work on copies of the
session's scored warehouse, so nothing is retrained.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from scoring import pipeline
from scoring.ingest import archive, loader
from scoring.ingest.errors import IngestError
from scoring.quality import errors, targets
from scoring.warehouse import locks, server
from tests.conftest import database_copy
from tests.integration.test_ingest import Export, raw_state
from tests.integration.test_quality import state

pytestmark = pytest.mark.integration

ROWS = 300  # the first KOIs of the shipped export: enough rows, a quick load
#: Every spelling of "no number" the rule reads the same way, as the file has it.
MISSING_SPELLINGS = {
    "empty": "",
    "quoted_empty": '""',
    "NULL": "NULL",
    "null": "null",
    "nan": "nan",
    "NaN": "NaN",
    "spaced_NaN": " NaN ",
    "inf": "inf",
    "minus_Infinity": "-Infinity",
}
FAULT_ROW = 7  # the row given the fault


@pytest.fixture(scope="module")
def small(shipped: Export) -> Export:
    small = shipped.copy()
    small.rows = small.rows[:ROWS]
    return small


@pytest.fixture(scope="module")
def shipped(shipped_koi_file: Path) -> Export:
    return Export.read(shipped_koi_file)


def fault_file(export: Export, column: str, spelling: str, path: Path) -> Path:
    """``export`` with one row's ``column`` spelled ``spelling``, written verbatim (a quoted
    empty field stays quoted)."""
    variant = export.copy()
    variant.rows[FAULT_ROW][variant.col(column)] = "\0"
    text = variant.text().replace("\0", spelling)
    path.write_text(text, encoding="utf-8")
    return path


# -- one rule for a missing number --------------------------------------------------------------
@pytest.mark.parametrize("fast", [True, False], ids=["fast_path_allowed", "careful_path"])
@pytest.mark.parametrize("spelling", MISSING_SPELLINGS)
def test_a_missing_required_number_is_rejected_however_it_is_spelled(
    conn: psycopg.Connection, small: Export, tmp_path: Path, spelling: str, fast: bool
) -> None:
    text = MISSING_SPELLINGS[spelling]
    path = fault_file(small, "koi_period", text, tmp_path / f"fault_koi_period_{spelling}.csv")

    result = loader.load_koi_file(conn, path, allow_fast_path=fast)

    assert (result.method, result.rows_loaded, result.rows_rejected) == ("checked", ROWS - 1, 1)
    shown = text.strip().strip('"').strip()
    reason = "koi_period is empty" + (f" ({shown})" if shown else "")
    rejects = conn.execute(
        "select source_line, reason from raw.koi_rejects where load_batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    assert rejects == [(small.line_of(FAULT_ROW), reason)]
    name = small.rows[FAULT_ROW][small.col("kepoi_name")]
    loaded = conn.execute(
        "select count(*) filter (where kepoi_name = %s),"
        " count(*) filter (where koi_period is null or koi_period = 'NaN'"
        "   or koi_period in ('infinity', '-infinity'))"
        " from raw.koi_cumulative where load_batch_id = %s",
        (name, result.batch_id),
    ).fetchone()
    assert loaded == (0, 0)


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path_allowed", "careful_path"])
@pytest.mark.parametrize("spelling", MISSING_SPELLINGS)
def test_a_missing_optional_number_loads_as_null_however_it_is_spelled(
    conn: psycopg.Connection, small: Export, tmp_path: Path, spelling: str, fast: bool
) -> None:
    path = fault_file(
        small, "koi_teq", MISSING_SPELLINGS[spelling], tmp_path / f"fault_koi_teq_{spelling}.csv"
    )

    result = loader.load_koi_file(conn, path, allow_fast_path=fast)

    assert (result.rows_loaded, result.rows_rejected) == (ROWS, 0)
    name = small.rows[FAULT_ROW][small.col("kepoi_name")]
    teq, period = conn.execute(
        "select koi_teq, koi_period from raw.koi_cumulative"
        " where load_batch_id = %s and kepoi_name = %s",
        (result.batch_id, name),
    ).fetchone()
    assert teq is None
    assert period == float(small.rows[FAULT_ROW][small.col("koi_period")])
    non_finite = conn.execute(
        "select count(*) from raw.koi_cumulative where load_batch_id = %s"
        " and not (koi_teq > '-infinity' and koi_teq < 'infinity')",
        (result.batch_id,),
    ).fetchone()[0]
    assert non_finite == 0


def test_an_archive_file_still_takes_the_fast_path(
    conn: psycopg.Connection, small: Export, tmp_path: Path
) -> None:
    """The rule costs a clean file nothing but one scan: it is COPYed as before."""
    result = loader.load_koi_file(conn, small.write(tmp_path / "clean.csv"))
    assert (result.method, result.rows_loaded, result.rows_rejected) == ("copy", ROWS, 0)


# -- a download that breaks off, and what a killed one leaves -----------------------------------
class _ShortBody:
    """A web server on 127.0.0.1 that promises ``Content-Length: len(body)`` and sends only the
    first ``sent`` bytes, then closes the connection."""

    def __init__(self, body: bytes, sent: int):
        self.body, self.sent = body, sent
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/cumulative.csv"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with client:
                client.recv(65536)
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                    + f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
                    + self.body[: self.sent]
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def short_server(shipped_koi_file: Path) -> Iterator[_ShortBody]:
    body = shipped_koi_file.read_bytes()
    server = _ShortBody(body, len(body) // 3)  # a third: ~3,100 of the 9,564 KOIs
    yield server
    server.close()


def test_a_download_shorter_than_its_content_length_loads_nothing(
    conn: psycopg.Connection, database_url: str, short_server: _ShortBody, exohunter_home: Path
) -> None:
    before = raw_state(conn)
    with pytest.raises(IngestError, match=r"broke off after [\d,]+ of [\d,]+ bytes") as failure:
        loader.ingest_koi(short_server.url, url=database_url)
    assert "nothing was loaded" in str(failure.value)
    assert raw_state(conn) == before
    assert list((exohunter_home / "downloads").iterdir()) == []


def test_the_cli_refuses_a_broken_download_in_one_line(
    database_url: str, short_server: _ShortBody
) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": database_url, "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "scoring", "ingest", "koi", short_server.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: download of {short_server.url}")
    assert "Traceback" not in result.stdout + result.stderr


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_files_of_a_killed_download_are_removed_and_a_live_one_is_kept(
    database_url: str, shipped: Export, exohunter_home: Path
) -> None:
    downloads = exohunter_home / "downloads"
    downloads.mkdir(exist_ok=True)
    dead = _dead_pid()
    stale = [
        downloads / f"download-{dead}-abc123.csv.part",  # killed while downloading
        downloads / f"download-{dead}-def456.csv",  # killed while loading
        downloads / "download-k9x2_q1.csv",  # left by a version without pids in the names
    ]
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        live = downloads / f"download-{alive.pid}-ghi789.csv.part"
        for path in [*stale, live]:
            path.write_text("kepid\n1\n")
        try:
            server = _ShortBody(shipped.text().encode(), 10**9)  # a whole body
            try:
                result = loader.ingest_koi(server.url, url=database_url)
            finally:
                server.close()
            assert result.rows_loaded == len(shipped.rows)
            assert sorted(downloads.iterdir()) == [live]  # the stale ones, and its own, gone
        finally:
            alive.kill()
    assert archive.remove_stale_downloads(downloads) == [live]


# -- a truncated export never becomes the champion ----------------------------------------------
@pytest.fixture
def good_warehouse(
    pg_cluster: server.PostgresCluster, scored_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A copy of the scored warehouse, exported as EXOHUNTER_DATABASE_URL; its batch 1 passed
    the raw gate."""
    with database_copy(pg_cluster, scored_warehouse, "faults") as url:
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        yield url


def champion(url: str) -> tuple[str, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select model_version, training_load_batch_id from ml.model_registry"
            " where is_champion and task = 'koi_classifier'"
        ).fetchone()


def half_export(shipped: Export, tmp_path: Path) -> Path:
    half = shipped.copy()
    half.rows = half.rows[: len(half.rows) // 2]  # 4,782 KOIs: cut in half
    return half.write(tmp_path / "fault_koi_cumulative_half.csv")


def assert_half_file_refused(url: str, message: str) -> None:
    assert "data-quality gate failed: raw_koi_batch on load batch 2" in message
    assert "row_count_near_previous_batch" in message
    assert "observed 4,782, expected 7,651 to 11,477" in message
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select load_batch_id, status from raw.load_batches"
            " where source_table = 'koi_cumulative' order by 1"
        ).fetchall() == [(1, "loaded"), (2, "failed_quality")]
        assert conn.execute(
            "select distinct load_batch_id from staging.stg_kepler__koi"
        ).fetchall() == [(1,)]
        assert targets.ungated_batches(conn) == []  # nothing left waiting for its checks


def test_a_half_file_is_refused_by_its_own_ingest(
    good_warehouse: str, shipped: Export, tmp_path: Path
) -> None:
    before, crowned = state(good_warehouse), champion(good_warehouse)
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": good_warehouse, "COLUMNS": "200"}
    ingest = subprocess.run(
        [sys.executable, "-m", "scoring", "ingest", "koi", str(half_export(shipped, tmp_path))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 1, ingest.stdout + ingest.stderr
    assert "loaded batch 2" in ingest.stdout and "Traceback" not in ingest.stdout + ingest.stderr
    assert_half_file_refused(good_warehouse, ingest.stdout)
    assert (state(good_warehouse), champion(good_warehouse)) == (before, crowned)


def test_a_half_file_loaded_by_a_library_call_is_checked_by_the_next_run_and_never_read(
    good_warehouse: str, shipped: Export, tmp_path: Path
) -> None:
    loaded = loader.ingest_koi(half_export(shipped, tmp_path), url=good_warehouse)
    assert loaded.batch_id == 2
    with psycopg.connect(good_warehouse) as conn:
        assert targets.ungated_batches(conn) == [2]  # written, waiting for its checks
    before, crowned = state(good_warehouse), champion(good_warehouse)

    with pytest.raises(errors.QualityGateError) as failure:
        pipeline.run(Console(quiet=True))  # the shipped file again: already loaded

    assert str(failure.value).startswith("data-quality gate failed: raw_koi_batch on load batch 2")
    assert_half_file_refused(good_warehouse, str(failure.value))
    assert state(good_warehouse) == before  # marts, predictions, registry
    assert champion(good_warehouse) == crowned


def test_a_broken_download_leaves_the_champion_and_the_marts(
    good_warehouse: str, short_server: _ShortBody
) -> None:
    before, crowned = state(good_warehouse), champion(good_warehouse)
    with psycopg.connect(good_warehouse) as conn:
        batches = raw_state(conn)
    with pytest.raises(IngestError, match="broke off"):
        loader.ingest_koi(short_server.url, url=good_warehouse)
    assert (state(good_warehouse), champion(good_warehouse)) == (before, crowned)
    with psycopg.connect(good_warehouse) as conn:
        assert raw_state(conn) == batches
        assert targets.ungated_batches(conn) == []  # nothing was booked


# -- the pipeline lock --------------------------------------------------------------------------
def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line, last (a run prints its warehouse stage before it asks for the lock)."""
    errors_said = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors_said == [result.stdout.strip().splitlines()[-1]], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return errors_said[0]


def test_a_held_lock_refuses_a_run_and_an_ingest_in_one_line_and_frees_on_exit(
    database_url: str, shipped_koi_file: Path
) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": database_url, "COLUMNS": "200"}

    def exohunter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scoring", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    with locks.pipeline_lock(database_url, "exohunter run"):
        for args in (["run"], ["ingest", "koi", str(shipped_koi_file)]):
            refused = exohunter(*args)
            assert refused.returncode == 1, refused.stdout + refused.stderr
            line = error_line(refused)
            assert line.startswith(
                "error: another command holds the pipeline lock (exclusive): "
                f"exohunter run pid {os.getpid()} on "
            ), line
            assert "since 20" in line and "PostgreSQL backend" in line
        with psycopg.connect(database_url) as conn:
            assert conn.execute("select count(*) from raw.load_batches").fetchone()[0] == 0
    # Two loads hold it shared, side by side; the lock went with its connection.
    with locks.pipeline_lock(database_url, "exohunter ingest koi", shared=True):
        loaded = exohunter("ingest", "koi", str(shipped_koi_file))
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    with psycopg.connect(database_url) as conn:
        assert locks.holders(conn) == []


def test_two_runs_at_once_the_second_fails_fast_and_the_first_completes(
    pg_cluster: server.PostgresCluster, lightcurve_warehouse: str
) -> None:
    with database_copy(pg_cluster, lightcurve_warehouse, "lock") as url:
        env = {**os.environ, "EXOHUNTER_DATABASE_URL": url, "COLUMNS": "200"}
        command = [sys.executable, "-m", "scoring", "run"]
        with subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as first:
            with psycopg.connect(url, autocommit=True) as conn:
                deadline = time.monotonic() + 120
                while not locks.holders(conn):
                    assert first.poll() is None, first.stdout.read() if first.stdout else ""
                    assert time.monotonic() < deadline, "the first run never took the lock"
                    time.sleep(0.2)
            started = time.monotonic()
            second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            refused_in = time.monotonic() - started
            output, _ = first.communicate(timeout=1800)
        assert second.returncode == 1, second.stdout + second.stderr
        line = error_line(second)
        assert f"exohunter run pid {first.pid} on " in line and "holds the pipeline lock" in line
        assert refused_in < 60  # fails fast: it does not wait for the first run
        assert first.returncode == 0, output[-3000:]
        assert "ExoHunter pipeline summary" in output
