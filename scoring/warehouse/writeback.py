"""Idempotent, all-or-nothing write-back of results into the warehouse.

Rows are streamed with COPY into a temporary table, then, in the same transaction, the target's
rows for the same key (e.g. one model version and load batch) are deleted and the new ones
inserted. Readers see the old rows or the new ones, never a mix; a failure part-way rolls back
and leaves the previous results in place; writing the same key twice replaces, never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql


def replace_rows(
    conn: psycopg.Connection,
    table: str,
    key: Mapping[str, Any],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Replace the rows of ``table`` matching ``key`` with ``rows``; return the count written.

    ``table`` is ``schema.name``; ``key`` maps column names to the values identifying the run.
    Runs inside a transaction of its own (a savepoint if the caller already opened one).
    """
    schema, name = table.split(".")
    target = sql.Identifier(schema, name)
    temp = sql.Identifier(f"_incoming_{name}")
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    where = sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder()) for column in key
    )
    with conn.transaction():
        conn.execute(sql.SQL("drop table if exists {}").format(temp))
        conn.execute(
            sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
                temp, target
            )
        )
        with conn.cursor().copy(
            sql.SQL("copy {} ({}) from stdin").format(temp, column_list)
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(sql.SQL("delete from {} where {}").format(target, where), list(key.values()))
        written = conn.execute(
            sql.SQL("insert into {} ({}) select {} from {}").format(
                target, column_list, column_list, temp
            )
        ).rowcount
    return written
