"""Shared fixtures: one real PostgreSQL (the embedded one the product starts) per test session,
and a fresh, migrated database per test that needs one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from scoring import migrate, settings, warehouse


@pytest.fixture(scope="session", autouse=True)
def exohunter_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never touch the developer's own ``.exohunter``."""
    home = tmp_path_factory.mktemp("exohunter_home")
    previous = os.environ.get("EXOHUNTER_HOME")
    os.environ["EXOHUNTER_HOME"] = str(home)
    os.environ.pop("EXOHUNTER_DATABASE_URL", None)
    yield home
    if previous is None:
        os.environ.pop("EXOHUNTER_HOME", None)
    else:
        os.environ["EXOHUNTER_HOME"] = previous


@pytest.fixture(scope="session")
def pg_cluster(exohunter_home: Path) -> Iterator[warehouse.PostgresCluster]:
    cluster = warehouse.embedded()
    cluster.up()
    yield cluster
    cluster.down()


@pytest.fixture
def database_url(
    pg_cluster: warehouse.PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new, migrated database, exported as EXOHUNTER_DATABASE_URL for the code under test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = pg_cluster.url(warehouse.ADMIN_ROLE, database="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(name), sql.Identifier(warehouse.APP_ROLE)
            )
        )
    url = pg_cluster.url(database=name)
    with psycopg.connect(url) as conn:
        migrate.apply(conn)
    monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def shipped_koi_file() -> Path:
    assert settings.SHIPPED_KOI_FILE.exists(), "data/ must ship the KOI snapshot"
    return settings.SHIPPED_KOI_FILE
