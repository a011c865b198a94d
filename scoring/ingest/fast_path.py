"""The fast path (the common case: every column known, every row good): the data lines as they
are, into ``COPY``.

The data section is streamed as raw bytes, 1 MiB at a time and untouched by Python, into
``COPY`` of a brand-new table that has no index and no foreign key. Its ``load_batch_id`` comes
from a column default and ``source_line`` from an identity column starting at the first data
line, so Python never looks at a row; it only hashes the blocks on the way (sha256), which
overlaps the server's parsing. The primary key is then built in one sort. Any data error (a
non-number, an empty required value, a wrong field count, invalid UTF-8, a duplicate key such as
kepoi_name or toi at the key build), a record spanning several lines, or a value COPY accepts
but the missing-number rule does not (a ``NaN`` or an infinity, which ``double precision`` takes;
a NULL where a value is required: :data:`~scoring.ingest.columns.MISSING_NUMBER_RE`) rolls this
back to a savepoint, and the file goes the careful way (:mod:`scoring.ingest.careful_path`),
which applies the rule row by row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import psycopg
from psycopg import sql

from scoring.ingest import batches
from scoring.ingest.columns import ColumnPlan
from scoring.ingest.layout import BLOCK_SIZE, FileFacts, Layout


class _NotOneRecordPerLine(Exception):
    """A quoted field spans lines, so identity-numbered rows would carry wrong line numbers."""


class _MissingNumbers(Exception):
    """A row holds a NaN or an infinity, or lacks a required value: the careful path decides."""


def try_load(
    conn: psycopg.Connection,
    batch_id: int,
    facts: FileFacts,
    layout: Layout,
    plan: ColumnPlan,
    progress: Callable[[int, int], None] | None,
) -> batches.Loaded | None:
    """COPY the data lines as they are; None (all undone) if any row needs a closer look.

    ``progress(done_bytes, total_bytes)`` after each block.
    """
    try:
        with conn.transaction():  # a savepoint: a failure leaves nothing behind
            batches.create_partition(conn, plan.table, batch_id, layout.first_data_line)
            rows, lines, sha256 = _copy_raw_lines(conn, batch_id, facts, layout, plan, progress)
            if rows != lines:
                raise _NotOneRecordPerLine
            if _has_missing_numbers(conn, batch_id, plan):
                raise _MissingNumbers
            batches.seal_partition(conn, plan.table, batch_id)
    except (psycopg.DataError, psycopg.IntegrityError, _NotOneRecordPerLine, _MissingNumbers):
        return None
    return batches.Loaded("copy", rows, 0, sha256)


def _has_missing_numbers(conn: psycopg.Connection, batch_id: int, plan: ColumnPlan) -> bool:
    """Did COPY let through what the missing-number rule reads otherwise: a NaN or an infinity
    (to be NULL), or a NULL where a value is required (to be rejected)? One scan of the new,
    unindexed partition; a file from the archive has none."""
    tests = [
        sql.SQL("not ({c} > '-infinity' and {c} < 'infinity')").format(c=sql.Identifier(name))
        for name, column in plan.known.items()
        if column.data_type in ("double precision", "real")
    ] + [
        sql.SQL("{} is null").format(sql.Identifier(name))
        for name in plan.known
        if name in plan.table.values_required
    ]
    if not tests:
        return False
    row = conn.execute(
        sql.SQL("select exists (select from {} where {})").format(
            sql.Identifier("raw", plan.table.partition_name(batch_id)),
            sql.SQL(" or ").join(tests),
        )
    ).fetchone()
    return bool(row and row[0])


def _copy_raw_lines(
    conn: psycopg.Connection,
    batch_id: int,
    facts: FileFacts,
    layout: Layout,
    plan: ColumnPlan,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int, str]:
    """Stream the data section into the partition, hashing the whole file on the way.

    Returns (rows COPY loaded, physical data lines, sha256). Python's work per 1 MiB block
    (hash, count newlines) overlaps the server's parsing of the previous one.
    """
    columns = sql.SQL(", ").join(map(sql.Identifier, plan.file_columns))
    # A quoted empty field ("") is NULL on the careful path too. Only text columns need saying
    # so: in a numeric column "" is an error, which sends the file the careful way.
    text_columns = [sql.Identifier(n) for n, c in plan.known.items() if c.data_type == "text"]
    force_null = sql.SQL(", force_null ({})").format(sql.SQL(", ").join(text_columns))
    statement = sql.SQL("copy {} ({}) from stdin (format csv{})").format(
        sql.Identifier("raw", plan.table.partition_name(batch_id)),
        columns,
        force_null if text_columns else sql.SQL(""),
    )
    digest = hashlib.sha256()
    lines, last = 0, b"\n"
    with facts.path.open("rb") as handle, conn.cursor() as cursor:
        digest.update(handle.read(layout.data_offset))
        done = layout.data_offset
        with cursor.copy(statement) as copy:
            while block := handle.read(BLOCK_SIZE):
                digest.update(block)
                lines += block.count(b"\n")
                last = block[-1:]
                copy.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, facts.size)
        rows = cursor.rowcount
    if last != b"\n":
        lines += 1  # the last line has no newline
    return rows, lines, digest.hexdigest()
