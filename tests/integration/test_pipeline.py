"""``exohunter run`` end to end: ingest → dbt build, on the embedded server and on a separately
started PostgreSQL 15 reached only through EXOHUNTER_DATABASE_URL."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from tests.cli import exohunter

pytestmark = pytest.mark.integration

DISPOSITIONS = {"FALSE POSITIVE": 4841, "CANDIDATE": 2424, "CONFIRMED": 2299}


def run_pipeline(url: str) -> subprocess.CompletedProcess[str]:
    return exohunter("run", env={**os.environ, "EXOHUNTER_DATABASE_URL": url}, timeout=1800)


def marts_state(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return {
            "dispositions": dict(
                conn.execute(
                    "select label_disposition, count(*) from marts.fct_koi_features group by 1"
                ).fetchall()
            ),
            "stars": conn.execute("select count(*) from marts.dim_star").fetchone()[0],
            "batches": dict(
                conn.execute(
                    "select source_table, count(*) from raw.load_batches"
                    " where status = 'loaded' group by 1"
                ).fetchall()
            ),
            "staging": conn.execute("select count(*) from staging.stg_kepler__koi").fetchone()[0],
            "toi features": conn.execute(
                "select count(*), count(distinct toi) from marts.fct_toi_features"
            ).fetchone(),
            "feature suites": dict(
                conn.execute(
                    "select suite_name, bool_and(critical_success) from dq.validation_runs"
                    " where suite_name like '%features' group by 1"
                ).fetchall()
            ),
            "prediction suites": dict(
                conn.execute(
                    "select suite_name, bool_and(critical_success) from dq.validation_runs"
                    " where stage = 'predictions' group by 1"
                ).fetchall()
            ),
            "critical failures": conn.execute(
                "select count(*) from dq.validation_runs where not critical_success"
            ).fetchone()[0],
        }


def check_pipeline(url: str) -> None:
    first = run_pipeline(url)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "ExoHunter pipeline summary" in first.stdout
    assert "batch 1: 9,564 rows loaded, 0 rejected" in first.stdout
    gates = (
        "raw checks",
        "raw checks (TOI)",
        "feature checks",
        "prediction checks",
        "prediction checks (TOI)",
    )
    for gate in (*gates, "anomaly checks"):
        assert gate in first.stdout  # the stage ran (its rule), and its time is in the summary
    state = marts_state(url)
    assert state == {
        "dispositions": DISPOSITIONS,
        "stars": 8214,
        "batches": {"koi_cumulative": 1, "toi": 1},  # both shipped snapshots, checked
        "staging": 9564,
        "toi features": (7703, 7703),
        "feature suites": {"koi_features": True, "toi_features": True},
        # no drift suite on a first run: there is no previous champion to compare with
        "prediction suites": {"koi_predictions": True, "toi_predictions": True},
        "critical failures": 0,
    }

    again = run_pipeline(url)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already loaded" in again.stdout
    assert marts_state(url) == state


def test_run_on_the_embedded_warehouse(database_url: str) -> None:
    check_pipeline(database_url)


def test_run_against_an_existing_postgresql_15(pg15_database_url: str) -> None:
    """The smoke test for EXOHUNTER_DATABASE_URL: a second, separately started server."""
    with psycopg.connect(pg15_database_url) as conn:
        assert conn.info.server_version // 10000 == 15
    check_pipeline(pg15_database_url)


def test_run_reports_a_dead_database_in_one_line() -> None:
    result = run_pipeline("postgresql://exohunter:wrong@127.0.0.1:1/exohunter")
    assert result.returncode == 1
    assert "cannot connect to the warehouse" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
