"""How a file's columns map onto its raw table (``raw.koi_cumulative``, ``raw.toi``): matched
by name, the required ones demanded, the unknown ones kept aside (in ``extra_columns``), the absent
ones NULL.

The table's columns are read from the catalogue (one source of truth) with a query on
``pg_attribute``: ``information_schema.columns`` costs ~15 ms on a new connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from scoring.ingest.errors import IngestError
from scoring.ingest.layout import shorten
from scoring.ingest.tables import KOI, TABLES, TableSpec

#: The KOI table's required columns and key (each table's are in :mod:`scoring.ingest.tables`).
REQUIRED_COLUMNS = KOI.required
KEY_COLUMN = KOI.key
#: Columns of a raw table that ingest fills itself; never read from a file.
BOOKKEEPING_COLUMNS = frozenset({"load_batch_id", "source_line", "extra_columns"})
#: The one rule for a missing value in a numeric column, the same on both load paths: an empty
#: field, ``NULL``, ``NaN`` or an infinity (``inf``, ``-Infinity``; any case, quoted or not,
#: spaces around ignored) is no value. It is NULL where the column may be empty; where a value
#: is required (:meth:`ColumnPlan.value_required`) the row is rejected. The archive writes an
#: empty field; the other spellings come from exports re-written by other tools (pandas writes
#: ``nan``, ``inf``), and none of them is a measurement.
MISSING_NUMBER_RE = r"^\s*(null|[-+]?nan|[-+]?inf(inity)?)?\s*$"


@dataclass(frozen=True)
class KnownColumn:
    name: str
    data_type: str  # as format_type() spells it: "double precision", "bigint", "text", ...
    not_null: bool


@dataclass(frozen=True)
class ColumnPlan:
    """How the file's columns map onto its raw table."""

    file_columns: tuple[str, ...]
    known: dict[str, KnownColumn]  # file column -> table column, for the known ones
    extra: tuple[str, ...]  # unknown file columns, file order (kept in extra_columns)
    missing: tuple[str, ...]  # table columns absent from the file, table order (NULL)
    table: TableSpec = KOI

    def value_required(self, name: str) -> bool:
        """Must every row have a value in this (known) column?"""
        return self.known[name].not_null or name in self.table.values_required


def known_columns(conn: psycopg.Connection, table: TableSpec = KOI) -> tuple[KnownColumn, ...]:
    """The columns of the table's raw table a file can fill, in table order."""
    rows = conn.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
          from pg_attribute a
         where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
         order by a.attnum
        """,
        (table.qualified,),
    ).fetchall()
    return tuple(KnownColumn(*row) for row in rows if row[0] not in BOOKKEEPING_COLUMNS)


def plan_columns(
    columns: Sequence[str],
    known: Sequence[KnownColumn],
    source: str = "the file",
    table: TableSpec = KOI,
) -> ColumnPlan:
    """Match file columns to table columns by name; refuse a file without the required ones."""
    by_name = {column.name: column for column in known}
    present = set(columns)
    if not present & by_name.keys():
        raise IngestError(
            f"{source} is not a {table.title} export: none of its columns "
            f"({shorten(', '.join(columns))}) is a {table.row_noun} column"
        )
    required = [c.name for c in known if c.not_null or c.name in table.required]
    missing_required = [name for name in required if name not in present]
    if missing_required:
        for other in TABLES.values():
            if other != table and present >= set(other.required):
                raise IngestError(
                    f"{source} is a {other.title} export, not a {table.title} export: "
                    f"load it with `exohunter ingest {other.command}`"
                )
        noun = "column" if len(missing_required) == 1 else "columns"
        raise IngestError(f"{source} lacks the required {noun} {', '.join(missing_required)}")
    return ColumnPlan(
        file_columns=tuple(columns),
        known={name: by_name[name] for name in columns if name in by_name},
        extra=tuple(name for name in columns if name not in by_name),
        missing=tuple(c.name for c in known if c.name not in present),
        table=table,
    )
