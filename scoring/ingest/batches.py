"""The bookkeeping of a load batch in ``raw``: its id and ``raw.load_batches`` row, its partition
of the table's raw table (``raw.koi_cumulative_batch_<id>``, ``raw.toi_batch_<id>``: created
empty, filled by a load path, sealed, attached), its header's column descriptions in
``raw.column_catalogue``, and its removal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import psycopg
from psycopg import sql

from scoring.ingest import archive
from scoring.ingest.tables import KOI, TABLES, TableSpec, by_name

SOURCE_TABLE = KOI.name  # the KOI table's raw.load_batches.source_table
_LINE_NUMBER_CACHE = 1 << 20


@dataclass(frozen=True)
class Loaded:
    """What a load path put into the batch's partition."""

    method: str  # 'copy' (fast path) or 'checked' (careful path)
    rows: int
    rejected: int
    sha256: str


class Batch(NamedTuple):
    """A batch already in raw.load_batches."""

    load_batch_id: int
    rows_loaded: int
    rows_rejected: int
    snapshot_at: datetime
    snapshot_source: str
    columns_missing: list[str]
    columns_extra: list[str]


# -- the batch row ------------------------------------------------------------------------------
def size_seen(conn: psycopg.Connection, table: TableSpec, size: int) -> bool:
    """Is there a batch of a file of this many bytes? (Identical files have identical sizes.)"""
    return bool(
        conn.execute(
            "select exists (select from raw.load_batches where source_table = %s"
            " and file_bytes = %s)",
            (table.name, size),
        ).fetchone()[0]  # type: ignore[index]
    )


def loaded_batch(conn: psycopg.Connection, table: TableSpec, sha256: str) -> Batch | None:
    """The batch of the file with this sha256, if it was loaded before."""
    row = conn.execute(
        """
        select load_batch_id, rows_loaded, rows_rejected, snapshot_at, snapshot_source,
               columns_missing, columns_extra
          from raw.load_batches where source_table = %s and file_sha256 = %s
        """,
        (table.name, sha256),
    ).fetchone()
    return None if row is None else Batch(*row)


def reserve_batch_id(conn: psycopg.Connection) -> int:
    """The next batch id. The batch row itself is written once, complete, after the rows."""
    row = conn.execute(
        "select nextval(pg_get_serial_sequence('raw.load_batches', 'load_batch_id'))"
    ).fetchone()
    assert row is not None
    return int(row[0])


def lock_batches(conn: psycopg.Connection) -> None:
    """Take, before writing the batch row, the lock that attaching the partition will need.

    ATTACH clones the foreign key onto the partition, which locks raw.load_batches in SHARE ROW
    EXCLUSIVE mode. Taken only then, two loads that had both inserted their batch rows (ROW
    EXCLUSIVE) would deadlock. Taken first, loads queue here for the few milliseconds of
    finishing; their COPYs still run side by side, and readers are never blocked.
    """
    conn.execute("lock table raw.load_batches in share row exclusive mode")


def insert_batch(
    conn: psycopg.Connection,
    table: TableSpec,
    batch_id: int,
    loaded: Loaded,
    *,
    source_uri: str,
    file_bytes: int,
    snapshot: tuple[datetime, str],
    columns_missing: Sequence[str],
    columns_extra: Sequence[str],
    started_at: datetime,
) -> None:
    conn.execute(
        """
        insert into raw.load_batches (load_batch_id, source_table, source_uri, file_sha256,
            file_bytes, snapshot_at, snapshot_source, rows_loaded, rows_rejected,
            columns_missing, columns_extra, status, started_at, finished_at)
        overriding system value
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending_checks', %s,
            clock_timestamp())
        """,
        (
            batch_id,
            table.name,
            source_uri,
            loaded.sha256,
            file_bytes,
            *snapshot,
            loaded.rows,
            loaded.rejected,
            list(columns_missing),
            list(columns_extra),
            started_at,
        ),
    )


def insert_catalogue(
    conn: psycopg.Connection, batch_id: int, docs: Sequence[archive.ColumnDoc]
) -> None:
    if not docs:
        return
    conn.execute(
        """
        insert into raw.column_catalogue (load_batch_id, column_name, description, unit)
        select %s, name, description, unit
          from unnest(%s::text[], %s::text[], %s::text[]) as doc(name, description, unit)
        """,
        (
            batch_id,
            [d.name for d in docs],
            [d.description for d in docs],
            [d.unit for d in docs],
        ),
    )


# -- the batch's partition ----------------------------------------------------------------------
def partition_name(batch_id: int, table: TableSpec = KOI) -> str:
    return table.partition_name(batch_id)


def create_partition(
    conn: psycopg.Connection, table: TableSpec, batch_id: int, first_line: int | None
) -> None:
    """A new, empty, unattached table shaped like the table's raw table, for one batch.

    With ``first_line``, ``load_batch_id`` defaults to the batch and ``source_line`` counts up
    from ``first_line``: a COPY of the raw data lines then fills both without Python touching a
    row. The CHECK constraint, valid before any row exists, spares ATTACH a scan of the table.
    """
    partition = table.partition_name(batch_id)
    batch = sql.Literal(batch_id)
    actions = [
        sql.SQL("add constraint {} check (load_batch_id = {})").format(
            sql.Identifier(f"{partition}_batch"), batch
        )
    ]
    if first_line is not None:
        actions += [
            sql.SQL("alter column load_batch_id set default {}").format(batch),
            # A large cache: nextval() without one cost ~1 us per row (15% of the COPY).
            sql.SQL(
                "alter column source_line add generated always as identity (start with {} cache {})"
            ).format(sql.Literal(first_line), sql.Literal(_LINE_NUMBER_CACHE)),
        ]
    # No parameters, so both statements travel as one simple query: one round trip.
    conn.execute(
        sql.SQL("create table {t} (like {parent} including defaults); alter table {t} {a}").format(
            t=sql.Identifier("raw", partition),
            parent=sql.Identifier("raw", table.name),
            a=sql.SQL(", ").join(actions),
        )
    )


def seal_partition(conn: psycopg.Connection, table: TableSpec, batch_id: int) -> None:
    """Drop the loading aids and build the primary key (one sort; a duplicate fails here)."""
    conn.execute(
        sql.SQL(
            "alter table {} alter column load_batch_id drop default,"
            " alter column source_line drop identity if exists,"
            " add primary key (load_batch_id, {})"
        ).format(sql.Identifier("raw", table.partition_name(batch_id)), sql.Identifier(table.key))
    )


def attach_partition(conn: psycopg.Connection, table: TableSpec, batch_id: int) -> None:
    """Make the batch's rows part of the table's raw table; the FK is checked in one query."""
    conn.execute(
        sql.SQL("alter table {} attach partition {} for values in ({})").format(
            sql.Identifier("raw", table.name),
            sql.Identifier("raw", table.partition_name(batch_id)),
            sql.Literal(batch_id),
        )
    )


def delete_batch(conn: psycopg.Connection, batch_id: int) -> None:
    """Remove a batch completely: its partition, rejects, catalogue and batch row."""
    with conn.transaction():
        row = conn.execute(
            "select source_table from raw.load_batches where load_batch_id = %s", (batch_id,)
        ).fetchone()
        for table in TABLES.values() if row is None else [by_name(row[0])]:
            conn.execute(
                sql.SQL("drop table if exists {}").format(
                    sql.Identifier("raw", table.partition_name(batch_id))
                )
            )
        conn.execute("delete from raw.load_batches where load_batch_id = %s", (batch_id,))
