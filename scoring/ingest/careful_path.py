"""The careful path (files with rejects, or with columns the table does not know): every record
judged, the good ones loaded, the bad ones set aside in the table's rejects table
(``raw.koi_rejects``, ``raw.toi_rejects``).

Python's ``csv`` module splits records (field counts, exact line numbers, the raw line) and COPYs
them as text into a TEMP table; SQL then judges every row at once (``pg_input_is_valid`` on
PostgreSQL >= 16, conservative regular expressions on 15), every spelling of a missing number
read as NULL first (:data:`~scoring.ingest.columns.MISSING_NUMBER_RE`; the row is rejected where
a value is required), marks duplicate keys (kepoi_name, toi) after the first good one, inserts
the good rows typed (unknown columns into ``extra_columns`` jsonb) and, once the batch row exists
(:func:`store_rejects`), the bad ones into the rejects table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from scoring.ingest import batches
from scoring.ingest.columns import MISSING_NUMBER_RE, ColumnPlan
from scoring.ingest.errors import IngestError
from scoring.ingest.layout import FileFacts, Layout, binary_file, not_utf8
from scoring.ingest.tables import TableSpec

_PROGRESS_EVERY = 4096  # records

# PostgreSQL 15 has no pg_input_is_valid: these accept only text the type's input function is
# sure to accept, so a value they pass never aborts a load. The length guard keeps numbers in
# range (at most 200 digits, a two-digit exponent); it is a separate test because a bounded
# repeat such as [0-9]{1,200} makes PostgreSQL's regex engine ~30x slower.
_MAX_NUMBER_TEXT = 200
# NaN and the infinities never get here: they are missing numbers (NULL) by then.
_FLOAT_RE = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[-+]?[0-9]{1,2})?\s*$"
_INT_RE = r"^\s*[-+]?[0-9]+\s*$"
# A timestamp without zone as the archive writes it ('2019-07-24 15:58:33'), fields in range;
# the day is then checked against the month's length (no Feb 30) before anything is cast.
_TIMESTAMP_RE = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$"
)
_INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
# Extra columns: a value that is a JSON number is stored as a number, anything else as a string.
_JSON_NUMBER_RE = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
_JSONB_PAIRS_PER_CALL = 50  # jsonb_build_object takes at most 100 arguments


class _LineTap:
    """Feeds lines to csv.reader and remembers those of the current record (its raw text)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def take(self) -> list[str]:
        taken, self.taken = self.taken, []
        return taken


def _records(
    text: Iterator[str], first_line: int, width: int, path: Path
) -> Iterator[tuple[int, str, str | None, list[str] | None]]:
    """(line number, raw text, problem, fields) per CSV record; blank lines are skipped."""
    tap = _LineTap(text)
    reader = csv.reader(tap)
    next_line = first_line
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        except csv.Error as exc:
            raise IngestError(f"{path}: line {next_line}: malformed CSV ({exc})") from exc
        taken = tap.take()
        line, next_line = next_line, next_line + len(taken)
        if not fields:
            continue
        raw = "".join(taken).rstrip("\r\n")
        if "\0" in raw:  # Python's csv accepts NUL; PostgreSQL text cannot hold it
            raise binary_file(path)
        if len(fields) != width:
            yield line, raw, f"expected {width} fields, found {len(fields)}", None
        else:
            yield line, raw, None, fields


def load(
    conn: psycopg.Connection,
    batch_id: int,
    facts: FileFacts,
    layout: Layout,
    plan: ColumnPlan,
    sha256: str,
    progress: Callable[[int, int], None] | None,
) -> batches.Loaded:
    """Stage every record as text, judge the rows in SQL, load the good ones.

    The verdicts stay in TEMP tables until :func:`store_rejects` (after the batch row exists).
    ``progress(done_bytes, total_bytes)`` every few thousand records.
    """
    _stage_records(conn, facts, layout, len(plan.file_columns), progress)
    conn.execute(_verdict_sql(plan, conn.info.server_version))
    batches.create_partition(conn, plan.table, batch_id, None)
    try:
        loaded = conn.execute(_insert_good_sql(plan, batch_id)).rowcount
    except psycopg.DataError as exc:  # a value the checks above let through: should not happen
        raise IngestError(
            f"{facts.path}: a row passed the checks but PostgreSQL refused it "
            f"({exc.diag.message_primary}); nothing was loaded"
        ) from exc
    rejected = conn.execute("select count(*) from _ingest_verdict where reason is not null")
    batches.seal_partition(conn, plan.table, batch_id)
    return batches.Loaded("checked", loaded, rejected.fetchone()[0], sha256)  # type: ignore[index]


def _stage_records(
    conn: psycopg.Connection,
    facts: FileFacts,
    layout: Layout,
    width: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """COPY every record into TEMP _ingest_stage(source_line, raw_line, problem, f0..fN), text."""
    fields = [sql.Identifier(f"f{i}") for i in range(width)]
    conn.execute(
        sql.SQL(
            "create temp table _ingest_stage (source_line integer, raw_line text, problem text, {})"
            " on commit drop"
        ).format(sql.SQL(", ").join(sql.SQL("{} text").format(f) for f in fields))
    )
    with facts.path.open("rb") as binary, conn.cursor() as cursor:
        binary.seek(layout.data_offset)
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        with cursor.copy("copy _ingest_stage from stdin") as copy:
            records = _records(iter(text), layout.first_data_line, width, facts.path)
            for count, (line, raw, problem, values) in enumerate(records, 1):
                copy.write_row((line, raw, problem, *(values or [None] * width)))
                if progress is not None and count % _PROGRESS_EVERY == 0:
                    progress(binary.tell(), facts.size)
    if progress is not None:
        progress(facts.size, facts.size)


def store_rejects(conn: psycopg.Connection, table: TableSpec, batch_id: int) -> None:
    """The rows :func:`load` judged bad, with their reasons, into the table's rejects table."""
    conn.execute(
        sql.SQL(
            """
            insert into {} (load_batch_id, source_line, raw_line, reason)
            select %s, s.source_line, s.raw_line, v.reason
              from _ingest_stage s join _ingest_verdict v using (source_line)
             where v.reason is not null
            """
        ).format(sql.Identifier("raw", table.rejects)),
        (batch_id,),
    )


def first_reject(conn: psycopg.Connection) -> str:
    """The first bad row's line and reason, for an error message."""
    row = conn.execute(
        "select source_line, reason from _ingest_verdict where reason is not null"
        " order by source_line limit 1"
    ).fetchone()
    return f"line {row[0]}: {row[1]}" if row else "unknown"


def _staged(plan: ColumnPlan, name: str) -> sql.Composable:
    """The staged text of file column ``name``, as the file spelled it."""
    return sql.Identifier(f"f{plan.file_columns.index(name)}")


def _field(plan: ColumnPlan, name: str) -> sql.Composable:
    """The value of file column ``name``: NULL for an empty field, and in a numeric column for
    every spelling of a missing number (:data:`~scoring.ingest.columns.MISSING_NUMBER_RE`)."""
    column = plan.known.get(name)
    if column is None or column.data_type == "text":
        return sql.SQL("nullif({}, '')").format(_staged(plan, name))
    return sql.SQL("case when {f} ~* {missing} then null else {f} end").format(
        f=_staged(plan, name), missing=sql.Literal(MISSING_NUMBER_RE)
    )


def _missing_reason(plan: ColumnPlan, name: str) -> sql.Composable:
    """'koi_period is empty', naming the spelling when the field was not blank: '… (NaN)'."""
    spelled = sql.SQL("nullif(btrim({}), '')").format(_staged(plan, name))
    return sql.SQL("{} || coalesce(' (' || left({}, 40) || ')', '')").format(
        sql.Literal(f"{name} is empty"), spelled
    )


def _is_valid(value: sql.Composable, data_type: str, server_version: int) -> sql.Composable:
    """SQL that is true when ``value`` (non-NULL text) is valid input for ``data_type``."""
    if server_version >= 160000:
        return sql.SQL("pg_input_is_valid({}, {})").format(value, sql.Literal(data_type))
    short = sql.SQL("length({}) <= {}").format(value, sql.Literal(_MAX_NUMBER_TEXT))
    if data_type == "double precision":
        return sql.SQL("({} and {} ~* {})").format(short, value, sql.Literal(_FLOAT_RE))
    if data_type in _INT_RANGES:
        low, high = _INT_RANGES[data_type]
        return sql.SQL(
            "case when {short} and {v} ~ {re} then {v}::numeric between {low} and {high}"
            " else false end"
        ).format(
            short=short,
            v=value,
            re=sql.Literal(_INT_RE),
            low=sql.Literal(low),
            high=sql.Literal(high),
        )
    if data_type == "timestamp without time zone":
        trimmed = sql.SQL("btrim({})").format(value)
        return sql.SQL(
            "case when {t} ~ {re} then substr({t}, 9, 2)::int <= extract(day from"
            " make_date(substr({t}, 1, 4)::int, substr({t}, 6, 2)::int, 1)"
            " + interval '1 month - 1 day') else false end"
        ).format(t=trimmed, re=sql.Literal(_TIMESTAMP_RE))
    raise NotImplementedError(f"checking {data_type} values needs PostgreSQL 16 or newer")


def _verdict_sql(plan: ColumnPlan, server_version: int) -> sql.Composable:
    """TEMP table _ingest_verdict(source_line, reason): NULL reason = the row loads.

    A duplicate key (kepoi_name, toi) is judged among otherwise good rows only, so the first good
    occurrence loads and later ones are rejected, naming the line of the first.
    """
    checks: list[sql.Composable] = []
    for name, column in plan.known.items():
        value = _field(plan, name)
        if plan.value_required(name):
            checks.append(
                sql.SQL("case when {} is null then {} end").format(
                    value, _missing_reason(plan, name)
                )
            )
        if column.data_type != "text":
            checks.append(
                sql.SQL(
                    "case when {v} is not null and not {valid} then {msg} || left({v}, 40) end"
                ).format(
                    v=value,
                    valid=_is_valid(value, column.data_type, server_version),
                    msg=sql.Literal(f"{name} is not a valid {column.data_type}: "),
                )
            )
    reason = sql.SQL("coalesce(problem, nullif(concat_ws('; ', {}), ''))").format(
        sql.SQL(", ").join(checks)
    )
    return sql.SQL(
        """
        create temp table _ingest_verdict on commit drop as
        with checked as (
            select source_line, {key} as key, {reason} as reason from _ingest_stage
        ), ranked as (
            select *, row_number() over w as nth, first_value(source_line) over w as first_line
              from checked
            window w as (partition by key, reason is null order by source_line)
        )
        select source_line,
               coalesce(reason, case when nth > 1 then
                   format({duplicate}, key, first_line) end
               ) as reason
          from ranked
        """
    ).format(
        key=_field(plan, plan.table.key),
        reason=reason,
        duplicate=sql.Literal(f"duplicate {plan.table.key} %s (first on line %s)"),
    )


def _insert_good_sql(plan: ColumnPlan, batch_id: int) -> sql.Composable:
    targets = [sql.Identifier(name) for name in plan.known]
    values = [
        _field(plan, name)
        if column.data_type == "text"
        else sql.SQL("{}::{}").format(_field(plan, name), sql.SQL(column.data_type))
        for name, column in plan.known.items()
    ]
    if plan.extra:
        targets.append(sql.Identifier("extra_columns"))
        values.append(_extra_columns_sql(plan))
    return sql.SQL(
        """
        insert into {table} (load_batch_id, source_line, {targets})
        select {batch}, s.source_line, {values}
          from _ingest_stage s join _ingest_verdict v using (source_line)
         where v.reason is null
        """
    ).format(
        table=sql.Identifier("raw", plan.table.partition_name(batch_id)),
        targets=sql.SQL(", ").join(targets),
        batch=sql.Literal(batch_id),
        values=sql.SQL(", ").join(values),
    )


def _extra_columns_sql(plan: ColumnPlan) -> sql.Composable:
    """jsonb of the unknown columns: JSON numbers as numbers, other text as strings."""
    pairs = []
    for name in plan.extra:
        value = _field(plan, name)
        pairs.append(
            sql.SQL("{}, case when {v} ~ {re} then {v}::jsonb else to_jsonb({v}) end").format(
                sql.Literal(name), v=value, re=sql.Literal(_JSON_NUMBER_RE)
            )
        )
    calls = [
        sql.SQL("jsonb_build_object({})").format(
            sql.SQL(", ").join(pairs[i : i + _JSONB_PAIRS_PER_CALL])
        )
        for i in range(0, len(pairs), _JSONB_PAIRS_PER_CALL)
    ]
    return sql.SQL("jsonb_strip_nulls({})").format(sql.SQL(" || ").join(calls))
