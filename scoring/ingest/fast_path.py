"""The fast path (the common case: every column known, every row good): the data lines as they
are, into ``COPY``.

The data section is streamed as raw bytes, 1 MiB at a time and untouched by Python, into
``COPY`` of a brand-new table that has no index and no foreign key. Its ``load_batch_id`` comes
from a column default and ``source_line`` from an identity column starting at the first data
line, so Python never looks at a row; it only hashes the blocks on the way (sha256), which
overlaps the server's parsing. The primary key is then built in one sort. Any data error (a
non-number, an empty required value, a wrong field count, invalid UTF-8, a duplicate key such as
kepoi_name or toi at the key build) or a record spanning several lines rolls this back to a
savepoint, and the file goes the careful way (:mod:`scoring.ingest.careful_path`).
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
            batches.seal_partition(conn, plan.table, batch_id)
    except (psycopg.DataError, psycopg.IntegrityError, _NotOneRecordPerLine):
        return None
    return batches.Loaded("copy", rows, 0, sha256)


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
