"""The read-only role Superset connects as: SELECT on marts (also tables and views dbt creates
later), nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from scoring.warehouse import server

pytestmark = pytest.mark.integration


@pytest.fixture
def reader(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as app:
        # Made after the migration, as dbt makes mart tables: default privileges must cover it.
        app.execute("create table marts.fct_later as select 1 as answer")
        app.execute("create table staging.stg_later as select 1 as answer")
        # A mart view over staging, as dbt makes marts.fct_lightcurve_uploads: the reader selects
        # it through the view owner's rights, never staging itself.
        app.execute("create view marts.fct_later_view as select answer from staging.stg_later")
    url = server.reader_url(database_url)
    assert url.startswith(f"postgresql://{server.READER_ROLE}:")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def test_reader_selects_marts(reader: psycopg.Connection) -> None:
    assert reader.execute("select answer from marts.fct_later").fetchone() == (1,)


def test_reader_selects_mart_views_made_later(reader: psycopg.Connection) -> None:
    assert reader.execute("select answer from marts.fct_later_view").fetchone() == (1,)


@pytest.mark.parametrize(
    "statement",
    [
        "insert into marts.fct_later values (2)",
        "update marts.fct_later set answer = 3",
        "delete from marts.fct_later",
        "truncate marts.fct_later",
        "drop table marts.fct_later",
        "drop view marts.fct_later_view",
        "create or replace view marts.fct_later_view as select 2 as answer",
        "create table marts.mine (x int)",
        "alter table marts.fct_later add column y int",
        "select count(*) from raw.load_batches",
        "select count(*) from ml.model_registry",
        "select count(*) from staging.stg_later",
        "create table public.mine (x int)",
    ],
)
def test_reader_cannot_write_drop_or_read_beyond_marts(
    reader: psycopg.Connection, statement: str
) -> None:
    # The role's read-only default is a second guard a session can switch off: privileges alone
    # must refuse.
    reader.execute("set default_transaction_read_only = off")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute(statement)


def test_reader_sessions_start_read_only(reader: psycopg.Connection) -> None:
    assert reader.execute("show default_transaction_read_only").fetchone() == ("on",)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader.execute("create temporary table scratch (x int)")
