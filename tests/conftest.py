"""Shared fixtures: one real PostgreSQL (the embedded one the product starts) per test session,
and a fresh, migrated database per test that needs one."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from scoring import settings
from scoring.dashboards import service
from scoring.dashboards.client import SupersetClient
from scoring.warehouse import server


@pytest.fixture(scope="session", autouse=True)
def exohunter_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never touch the developer's own ``.exohunter``."""
    home = tmp_path_factory.mktemp("exohunter_home")
    previous = os.environ.get("EXOHUNTER_HOME")
    os.environ["EXOHUNTER_HOME"] = str(home)
    os.environ.pop("EXOHUNTER_DATABASE_URL", None)
    # Starlette's TestClient says "Host: testserver": a name the web app answers to only when
    # told (the Host allow-list, scoring/web/security.py).
    os.environ["EXOHUNTER_ALLOWED_HOSTS"] = "testserver"
    yield home
    if previous is None:
        os.environ.pop("EXOHUNTER_HOME", None)
    else:
        os.environ["EXOHUNTER_HOME"] = previous


@pytest.fixture(scope="session")
def pg_cluster(exohunter_home: Path) -> Iterator[server.PostgresCluster]:
    cluster = server.embedded()
    cluster.up()
    yield cluster
    cluster.down()


PG15_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def database_url(
    pg_cluster: server.PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new, migrated database, exported as EXOHUNTER_DATABASE_URL for the code under test."""
    with pg_cluster.scratch_database("test") as url:
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        yield url


@pytest.fixture(scope="session")
def pg15_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.PostgresCluster]:
    """Debian's PostgreSQL 15, started separately: "someone else's" server."""
    assert (PG15_BIN / "initdb").exists(), "Debian's postgresql-15 must be installed (.ci/run)"
    cluster = server.PostgresCluster(
        tmp_path_factory.mktemp("pg15"), bin_dir=PG15_BIN, admin_password="pg15-admin"
    )
    cluster.up()
    yield cluster
    cluster.down()


@pytest.fixture
def pg15_database_url(pg15_cluster: server.PostgresCluster) -> Iterator[str]:
    with pg15_cluster.scratch_database("test") as url:
        yield url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def shipped_koi_file() -> Path:
    assert settings.SHIPPED_KOI_FILE.exists(), "data/ must ship the KOI snapshot"
    return settings.SHIPPED_KOI_FILE


def dbt_build(url: str, *args: str) -> None:
    """``dbt build ARGS`` against ``url``; a failure fails the fixture with dbt's last lines."""
    from scoring.warehouse import dbt_runner

    lines: list[str] = []
    try:
        dbt_runner.run_dbt(["build", *args], url, on_line=lines.append)
    except dbt_runner.TransformError as exc:
        raise AssertionError("\n".join(lines[-40:])) from exc


@pytest.fixture(scope="session")
def scored_warehouse(pg_cluster: server.PostgresCluster) -> Iterator[str]:
    """One database with the shipped snapshot ingested, dbt built, the classifier trained, every
    KOI scored and the anomaly lenses fitted — built once per session (a few minutes)."""

    from scoring.anomalies import detect
    from scoring.classifier import predict, training
    from scoring.ingest import loader
    from scoring.quality import gates

    with pg_cluster.scratch_database("scored") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            loader.load_koi_file(conn, settings.SHIPPED_KOI_FILE)
        gates.gate_new_batches(url)  # staging reads a batch only once the raw gate passed it
        dbt_build(url, "--exclude", "tag:scored")
        with psycopg.connect(url, autocommit=True) as conn:
            training.train(conn)
            predict.score(conn)
            detect.detect(conn)
        dbt_build(url, "--select", "tag:scored")
        yield url


@contextlib.contextmanager
def database_copy(cluster: server.PostgresCluster, url: str, prefix: str) -> Iterator[str]:
    """A copy of the database of ``url`` (CREATE DATABASE … TEMPLATE), dropped afterwards."""
    admin = cluster.url(server.ADMIN_ROLE, database="postgres")
    template = urlsplit(url).path.lstrip("/")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        # A template must have no other session (a finished test's idle one would do).
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (template,),
        )
        conn.execute(
            sql.SQL("create database {} template {} owner {}").format(
                sql.Identifier(name), sql.Identifier(template), sql.Identifier(server.APP_ROLE)
            )
        )
    try:
        yield cluster.url(database=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def dashboard_warehouse(pg_cluster: server.PostgresCluster, toi_warehouse: str) -> Iterator[str]:
    """What the four dashboards show: the TOI warehouse (the KOIs and TOIs scored, the shipped
    light curves analysed for Discoveries' "Uploads") with one data-quality check of every stage
    recorded and built into marts.fct_data_quality (Data quality). A copy, so that the shared
    warehouses keep no check runs (the data-quality tests count theirs)."""
    from scoring.quality import gates

    with database_copy(pg_cluster, toi_warehouse, "dashboards") as url:
        report = gates.check(url)
        assert report.critical_success, [run.target.suite_name for run in report.runs]
        dbt_build(url, "--select", "tag:dq")
        yield url


@pytest.fixture(scope="session")
def superset(dashboard_warehouse: str) -> Iterator[service.ServerStatus]:
    """Superset bootstrapped from the committed bundle on the dashboards' warehouse (read-only
    role), served on a free port for the session, stopped afterwards."""
    with socket.socket() as sock:
        sock.bind((service.HOST, 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    server = service.up(dashboard_warehouse, port, print)
    print(f"Superset bootstrapped and serving in {time.perf_counter() - started:.1f} s")
    yield server
    service.stop()


@pytest.fixture(scope="session")
def superset_client(superset: service.ServerStatus) -> SupersetClient:
    return SupersetClient(
        superset.url, service.ADMIN_USERNAME, settings.secret("superset_admin_password")
    )


@pytest.fixture(scope="session")
def lightcurve_warehouse(scored_warehouse: str) -> str:
    """The scored warehouse plus the light-curve classifier, trained once, a CNN (the tiny
    configuration: one epoch, about a minute; its figures mean nothing), and every shipped light
    curve loaded and analysed (as `exohunter run` does), each signal scored by both."""
    from rich.console import Console

    from scoring import pipeline
    from scoring.cnn import publish, training
    from scoring.warehouse import dbt_runner

    with psycopg.connect(scored_warehouse, autocommit=True) as conn:
        publish.train(conn, train_config=training.TINY)
        pipeline.lightcurve_stage(conn, Console(quiet=True))
    # The CNN's metrics on Model performance (a table, built before the CNN was trained), and
    # the uploads' mart's tests on uploads with CNN scores.
    dbt_runner.run_dbt(
        ["build", "--select", "fct_model_performance", "fct_lightcurve_uploads"], scored_warehouse
    )
    return scored_warehouse


@pytest.fixture(scope="session")
def toi_warehouse(pg_cluster: server.PostgresCluster, lightcurve_warehouse: str) -> Iterator[str]:
    """A copy of the light-curve warehouse with the shipped TOI snapshot as `exohunter run` adds
    it: ingested (load batch 2), gated, its marts built, the TOI classifier trained, every TOI
    scored and the scored marts rebuilt. A copy, so that the KOI-only warehouse keeps its load
    batches and check runs (the ingest and data-quality tests count them)."""
    from scoring.classifier import toi_predict, toi_training
    from scoring.ingest import loader
    from scoring.quality import gates

    with database_copy(pg_cluster, lightcurve_warehouse, "tois") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            loader.load_toi_file(conn, settings.SHIPPED_TOI_FILE)
        gates.gate_new_batches(url)
        dbt_build(url, "--select", "+fct_toi_features", "+dim_tess_star", "--exclude", "tag:scored")
        with psycopg.connect(url, autocommit=True) as conn:
            toi_training.train(conn)
            toi_predict.score(conn)
        dbt_build(url, "--select", "tag:scored")
        yield url
