"""``exohunter ingest koi`` against a real PostgreSQL: counts, batches, rejects, bad files, URLs.

Every variant of the archive file is made here from the shipped one, so the expectations (which
row moved, which line is bad) are computed, not typed in.
"""

from __future__ import annotations

import csv
import functools
import http.server
import io
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from scoring import settings
from scoring.ingest import loader
from scoring.ingest.columns import known_columns
from scoring.ingest.errors import IngestError

pytestmark = pytest.mark.integration

SHIPPED_SHA256 = "95d320aa8b41147f12394aa733c0b6cb3db8a6e44ffdce8662936fc52702aaa1"
DISPOSITIONS = {"FALSE POSITIVE": 4841, "CANDIDATE": 2424, "CONFIRMED": 2299}
RAW_TABLES = ("load_batches", "koi_cumulative", "koi_rejects", "column_catalogue")


# -- building variants of the shipped export ----------------------------------------------------
@dataclass
class Export:
    """An archive export taken apart: comment lines, column names, rows of text fields."""

    comments: list[str]
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Export:
        with path.open(encoding="utf-8", newline="") as handle:
            lines = handle.read().splitlines()
        comments = [line for line in lines if line.startswith("#")]
        records = list(csv.reader(line for line in lines if not line.startswith("#")))
        return cls(comments, records[0], records[1:])

    def copy(self) -> Export:
        return Export(list(self.comments), list(self.columns), [list(r) for r in self.rows])

    def text(self, header: bool = True) -> str:
        out = io.StringIO()
        if header:
            out.writelines(f"{line}\n" for line in self.comments)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    def write(self, path: Path, header: bool = True) -> Path:
        path.write_text(self.text(header), encoding="utf-8")
        return path

    def line_of(self, index: int, header: bool = True) -> int:
        """1-based line number of row ``index`` in the written file (one line per row)."""
        return (len(self.comments) if header else 0) + 2 + index

    def col(self, name: str) -> int:
        return self.columns.index(name)

    def find(self, kepoi_name: str) -> int:
        key = self.col("kepoi_name")
        return next(i for i, row in enumerate(self.rows) if row[key] == kepoi_name)

    def drop_column(self, name: str) -> None:
        index = self.col(name)
        del self.columns[index]
        for row in self.rows:
            del row[index]

    def add_column(self, name: str, values: list[str]) -> None:
        self.columns.append(name)
        for row, value in zip(self.rows, values, strict=True):
            row.append(value)

    def reorder(self, seed: int) -> None:
        order = list(range(len(self.columns)))
        random.Random(seed).shuffle(order)
        self.columns = [self.columns[i] for i in order]
        self.rows = [[row[i] for i in order] for row in self.rows]


@pytest.fixture(scope="module")
def shipped(shipped_koi_file: Path) -> Export:
    return Export.read(shipped_koi_file)


# -- looking at the warehouse -------------------------------------------------------------------
def raw_state(conn: psycopg.Connection) -> dict[str, object]:
    """Row counts of every raw table, and every relation in the raw schema (partitions too)."""
    counts = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
    relations = sorted(
        name
        for (name,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'raw'"
        )
    )
    return {"counts": counts, "relations": relations}


def batch_row(conn: psycopg.Connection, batch_id: int) -> dict[str, object]:
    cursor = conn.execute("select * from raw.load_batches where load_batch_id = %s", (batch_id,))
    names = [d.name for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def dispositions(conn: psycopg.Connection, batch_id: int) -> dict[str, int]:
    return dict(
        conn.execute(
            "select koi_disposition, count(*) from raw.koi_cumulative"
            " where load_batch_id = %s group by 1",
            (batch_id,),
        ).fetchall()
    )


def load(conn: psycopg.Connection, path: Path, **kwargs: object) -> loader.LoadResult:
    return loader.load_koi_file(conn, path, **kwargs)  # type: ignore[arg-type]


# -- the real file ------------------------------------------------------------------------------
def test_shipped_file_loads_exactly_then_reloading_is_a_no_op(
    conn: psycopg.Connection, database_url: str, shipped_koi_file: Path, shipped: Export
) -> None:
    result = loader.ingest_koi(shipped_koi_file, url=database_url)

    assert (result.rows_loaded, result.rows_rejected, result.method) == (9564, 0, "copy")
    assert result.snapshot_at == datetime(2019, 1, 20, 3, 22, 26, tzinfo=UTC)
    assert result.snapshot_source == "header"
    assert dispositions(conn, result.batch_id) == DISPOSITIONS
    batch = batch_row(conn, result.batch_id)
    assert batch["source_table"] == "koi_cumulative"
    assert batch["source_uri"] == str(shipped_koi_file.resolve())
    assert batch["file_sha256"] == SHIPPED_SHA256
    assert batch["file_bytes"] == shipped_koi_file.stat().st_size
    # a library load: the batch waits for the raw gate before staging may read it
    assert (batch["rows_loaded"], batch["rows_rejected"]) == (9564, 0)
    assert batch["status"] == "pending_checks"
    assert batch["snapshot_source"] == "header"
    assert batch["columns_missing"] == [] and batch["columns_extra"] == []
    assert batch["started_at"] <= batch["finished_at"]
    stars = conn.execute("select count(distinct kepid) from raw.koi_cumulative").fetchone()[0]
    assert stars == 8214

    # typed values and line numbers, checked against the file itself
    first = shipped.rows[0]
    row = conn.execute(
        "select source_line, loc_rowid, kepid, kepler_name, koi_period, koi_fpflag_nt,"
        " koi_tce_plnt_num, koi_depth, extra_columns from raw.koi_cumulative"
        " where kepoi_name = %s",
        (first[shipped.col("kepoi_name")],),
    ).fetchone()
    assert row == (
        shipped.line_of(0),
        1,
        int(first[shipped.col("kepid")]),
        "Kepler-227 b",
        float(first[shipped.col("koi_period")]),
        0,
        1,
        float(first[shipped.col("koi_depth")]),
        {},
    )
    last_line = conn.execute("select max(source_line) from raw.koi_cumulative").fetchone()[0]
    assert last_line == shipped.line_of(len(shipped.rows) - 1)
    # 363 KOIs have no transit depth: they load, with NULL
    no_depth = "select count(*) from raw.koi_cumulative where koi_depth is null"
    assert conn.execute(no_depth).fetchone()[0] == 363

    catalogue = {
        name: (description, unit)
        for name, description, unit in conn.execute(
            "select column_name, description, unit from raw.column_catalogue"
            " where load_batch_id = %s",
            (result.batch_id,),
        )
    }
    assert len(catalogue) == 49
    assert catalogue["koi_period"] == ("Orbital Period", "days")
    assert catalogue["kepid"] == ("KepID", None)

    before = raw_state(conn)
    again = loader.ingest_koi(shipped_koi_file, url=database_url)
    assert again.already_loaded and again.batch_id == result.batch_id
    assert again.rows_loaded == 9564 and "nothing to do" in again.summary()
    assert raw_state(conn) == before


def test_careful_path_gives_the_same_rows_as_the_fast_path(
    conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    fast = load(conn, shipped.write(tmp_path / "fast.csv"))
    variant = shipped.copy()
    variant.comments[0] = "# same data, other bytes (so not a no-op reload)"
    checked = load(conn, variant.write(tmp_path / "checked.csv"), allow_fast_path=False)

    assert (fast.method, checked.method) == ("copy", "checked")
    assert fast.rows_loaded == checked.rows_loaded == 9564
    columns = ", ".join(c.name for c in known_columns(conn))
    differing = conn.execute(
        f"""
        select count(*) from (
            (select {columns} from raw.koi_cumulative where load_batch_id = %(a)s
             except all
             select {columns} from raw.koi_cumulative where load_batch_id = %(b)s)
            union all
            (select {columns} from raw.koi_cumulative where load_batch_id = %(b)s
             except all
             select {columns} from raw.koi_cumulative where load_batch_id = %(a)s)
        ) d
        """,
        {"a": fast.batch_id, "b": checked.batch_id},
    ).fetchone()[0]
    assert differing == 0
    lines = "select sum(source_line) from raw.koi_cumulative where load_batch_id = %s"
    assert (
        conn.execute(lines, (fast.batch_id,)).fetchone()
        == conn.execute(lines, (checked.batch_id,)).fetchone()
    )


# -- newer exports ------------------------------------------------------------------------------
def test_newer_export_with_other_columns_loads_as_a_new_snapshot(
    conn: psycopg.Connection, shipped: Export, shipped_koi_file: Path, tmp_path: Path
) -> None:
    old = load(conn, shipped_koi_file)

    newer = shipped.copy()
    newer.comments[1] = "# Sat Oct  4 15:58:58 2025"
    newer.drop_column("loc_rowid")
    count = [str(1 + i % 3) for i in range(len(newer.rows))]
    newer.add_column("koi_count", count)
    newer.add_column("koi_ror", [f"{0.01 + i / 1e6:.6f}" for i in range(len(newer.rows))])
    newer.add_column("koi_comment", ["NO_FITTED_PLANET, SEE NOTE" if i % 2 else "" for i in
                                     range(len(newer.rows))])  # fmt: skip
    newer.comments.append("# COLUMN koi_count:      Number of Planets")
    newer.reorder(seed=7)
    changed = newer.find("K00753.01")  # CANDIDATE in 2019
    newer.rows[changed][newer.col("koi_disposition")] = "CONFIRMED"
    newer.rows[changed][newer.col("koi_period")] = "19.9"
    result = load(conn, newer.write(tmp_path / "koi_cumulative_2025-10-04.csv"))

    assert result.batch_id != old.batch_id and not result.already_loaded
    assert (result.rows_loaded, result.rows_rejected) == (9564, 0)
    assert result.snapshot_at == datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC)
    assert result.columns_missing == ("loc_rowid",)
    assert set(result.columns_extra) == {"koi_count", "koi_ror", "koi_comment"}
    batch = batch_row(conn, result.batch_id)
    assert batch["columns_missing"] == ["loc_rowid"]
    assert batch["columns_extra"] == list(result.columns_extra)  # file order
    assert conn.execute("select count(*) from raw.load_batches").fetchone()[0] == 2

    query = (
        "select koi_disposition, koi_period, loc_rowid, extra_columns from raw.koi_cumulative"
        " where load_batch_id = %s and kepoi_name = 'K00753.01'"
    )
    was = conn.execute(query, (old.batch_id,)).fetchone()
    now = conn.execute(query, (result.batch_id,)).fetchone()
    assert was[:3] == ("CANDIDATE", 19.89913995, 3) and was[3] == {}
    assert now[:3] == ("CONFIRMED", 19.9, None)
    expected_count = int(count[changed])
    assert now[3]["koi_count"] == expected_count and isinstance(now[3]["koi_count"], int)
    types = dict(
        conn.execute(
            "select key, string_agg(distinct jsonb_typeof(value), ',')"
            " from raw.koi_cumulative, jsonb_each(extra_columns)"
            " where load_batch_id = %s group by key",
            (result.batch_id,),
        ).fetchall()
    )
    assert types == {"koi_count": "number", "koi_ror": "number", "koi_comment": "string"}
    assert dispositions(conn, old.batch_id) == DISPOSITIONS  # the old snapshot is untouched
    new_counts = dict(DISPOSITIONS, CANDIDATE=2423, CONFIRMED=2300)
    assert dispositions(conn, result.batch_id) == new_counts
    docs = conn.execute(
        "select count(*) from raw.column_catalogue where load_batch_id = %s", (result.batch_id,)
    ).fetchone()[0]
    assert docs == 50


def test_reordered_columns_without_extras_take_the_fast_path(
    conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    variant = shipped.copy()
    variant.drop_column("loc_rowid")
    variant.drop_column("koi_score")
    variant.reorder(seed=3)
    result = load(conn, variant.write(tmp_path / "reordered.csv"))

    assert result.method == "copy" and result.rows_loaded == 9564
    assert result.columns_missing == ("loc_rowid", "koi_score")
    index = variant.find("K00001.01")
    row = conn.execute(
        "select kepid, koi_period, koi_prad, koi_tce_delivname, koi_score"
        " from raw.koi_cumulative where kepoi_name = 'K00001.01'"
    ).fetchone()
    source = variant.rows[index]
    assert row == (
        int(source[variant.col("kepid")]),
        float(source[variant.col("koi_period")]),
        float(source[variant.col("koi_prad")]),
        source[variant.col("koi_tce_delivname")],
        None,
    )


def test_a_column_added_to_the_table_is_typed_not_extra(
    conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    """The table definition is the one list of known columns."""
    conn.execute("alter table raw.koi_cumulative add column koi_count integer")
    variant = shipped.copy()
    variant.add_column("koi_count", ["2"] * len(variant.rows))
    result = load(conn, variant.write(tmp_path / "with_count.csv"))
    assert result.columns_extra == () and result.method == "copy"
    total = conn.execute("select sum(koi_count) from raw.koi_cumulative").fetchone()[0]
    assert total == 2 * 9564


# -- rejects ------------------------------------------------------------------------------------
def test_bad_rows_land_in_rejects_with_line_and_reason_and_the_rest_loads(
    conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    bad = shipped.copy()
    period, kepid, plnt = bad.col("koi_period"), bad.col("kepid"), bad.col("koi_tce_plnt_num")
    bad.rows[10][period] = "not-a-number"
    bad.rows[20][kepid] = ""
    bad.rows[30][plnt] = "1.5"
    bad.rows[40] = bad.rows[40][:-1]  # one field short
    bad.rows[50] = [*bad.rows[50], "surplus"]
    bad.rows.append(list(bad.rows[5]))  # a duplicate kepoi_name, at the end
    bad.rows[60][period] = "1e999"  # out of range for double precision
    path = bad.write(tmp_path / "bad.csv")
    lines = path.read_text().splitlines()

    result = load(conn, path)

    assert result.method == "checked"
    assert (result.rows_loaded, result.rows_rejected) == (9564 - 6, 7)
    rejects = {
        line: (raw, reason)
        for line, raw, reason in conn.execute(
            "select source_line, raw_line, reason from raw.koi_rejects where load_batch_id = %s",
            (result.batch_id,),
        )
    }
    expected = {
        bad.line_of(10): "koi_period is not a valid double precision: not-a-number",
        bad.line_of(20): "kepid is empty",
        bad.line_of(30): "koi_tce_plnt_num is not a valid integer: 1.5",
        bad.line_of(40): "expected 50 fields, found 49",
        bad.line_of(50): "expected 50 fields, found 51",
        bad.line_of(60): "koi_period is not a valid double precision: 1e999",
        bad.line_of(len(bad.rows) - 1): (
            f"duplicate kepoi_name {bad.rows[5][bad.col('kepoi_name')]}"
            f" (first on line {bad.line_of(5)})"
        ),
    }
    assert {line: reason for line, (_, reason) in rejects.items()} == expected
    assert all(raw == lines[line - 1] for line, (raw, _) in rejects.items())
    # the first of the duplicates loaded, from its own line
    kept = conn.execute(
        "select source_line from raw.koi_cumulative where kepoi_name = %s",
        (bad.rows[5][bad.col("kepoi_name")],),
    ).fetchall()
    assert kept == [(bad.line_of(5),)]
    batch = batch_row(conn, result.batch_id)
    assert (batch["rows_loaded"], batch["rows_rejected"]) == (9558, 7)


def test_a_field_spanning_lines_keeps_exact_line_numbers(
    conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    variant = shipped.copy()
    name = variant.col("kepler_name")
    variant.rows[0][name] = "Kepler-227 b, also\nknown as KOI-752.01"  # quoted, two lines
    variant.rows[3][variant.col("koi_depth")] = "deep"
    path = variant.write(tmp_path / "multiline.csv")

    result = load(conn, path)

    assert result.method == "checked"
    assert (result.rows_loaded, result.rows_rejected) == (9563, 1)
    reject = conn.execute("select source_line from raw.koi_rejects").fetchone()[0]
    assert reject == variant.line_of(3) + 1  # one extra physical line above it
    first = conn.execute(
        "select source_line, kepler_name from raw.koi_cumulative where kepoi_name = 'K00752.01'"
    ).fetchone()
    assert first == (variant.line_of(0), "Kepler-227 b, also\nknown as KOI-752.01")


def _one_problem(case: str, export: Export) -> tuple[int, str]:
    """Spoil one row of ``export`` in one way; return (row index, expected reason)."""
    row = export.rows[7]
    if case == "duplicate":
        export.rows.append(list(export.rows[2]))
        key = export.rows[2][export.col("kepoi_name")]
        return len(
            export.rows
        ) - 1, f"duplicate kepoi_name {key} (first on line {export.line_of(2)})"
    if case == "empty label":
        row[export.col("koi_disposition")] = ""
        return 7, "koi_disposition is empty"
    if case == "short row":
        del row[-1]
        return 7, "expected 50 fields, found 49"
    row[export.col("koi_duration")] = "n/a"
    return 7, "koi_duration is not a valid double precision: n/a"


@pytest.mark.parametrize("case", ["duplicate", "empty label", "short row", "non-number"])
def test_any_one_bad_row_sends_the_file_the_careful_way(
    case: str, conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    """The fast COPY refuses the file (or its key); the careful path then loads the rest."""
    export = shipped.copy()
    index, reason = _one_problem(case, export)
    result = load(conn, export.write(tmp_path / "one_bad.csv"))

    assert result.method == "checked"
    assert (result.rows_loaded, result.rows_rejected) == (len(export.rows) - 1, 1)
    rejects = conn.execute("select source_line, reason from raw.koi_rejects").fetchall()
    assert rejects == [(export.line_of(index), reason)]
    partitions = conn.execute(
        "select count(*) from pg_inherits where inhparent = 'raw.koi_cumulative'::regclass"
    ).fetchone()[0]
    assert partitions == 1  # the fast path's attempt left nothing behind


def _load_concurrently(database_url: str, paths: list[Path]) -> list[loader.LoadResult]:
    """Load each path on its own connection, all starting at the same moment."""
    barrier = threading.Barrier(len(paths))
    results: list[loader.LoadResult] = []
    errors: list[BaseException] = []

    def worker(path: Path) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as own:
                barrier.wait()
                results.append(load(own, path))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_two_concurrent_loads_of_one_file_make_one_batch(
    database_url: str, conn: psycopg.Connection, shipped_koi_file: Path
) -> None:
    results = _load_concurrently(database_url, [shipped_koi_file, shipped_koi_file])

    assert sorted(r.already_loaded for r in results) == [False, True]
    assert results[0].batch_id == results[1].batch_id
    assert raw_state(conn)["counts"] == {
        "load_batches": 1,
        "koi_cumulative": 9564,
        "koi_rejects": 0,
        "column_catalogue": 49,
    }


def test_concurrent_loads_of_different_files_do_not_deadlock(
    database_url: str, conn: psycopg.Connection, shipped: Export, tmp_path: Path
) -> None:
    """Attaching a partition locks raw.load_batches; two loads must queue, not deadlock."""
    paths = []
    for number in range(3):
        variant = shipped.copy()
        variant.comments[0] = f"# variant {number}" + " " * number  # other bytes and sizes
        paths.append(variant.write(tmp_path / f"variant_{number}.csv"))

    results = _load_concurrently(database_url, paths)

    assert sorted(r.rows_loaded for r in results) == [9564] * 3
    assert len({r.batch_id for r in results}) == 3
    assert raw_state(conn)["counts"]["koi_cumulative"] == 3 * 9564  # type: ignore[index]


# -- files that are not loadable ----------------------------------------------------------------
def _latin1(shipped: Export) -> bytes:
    variant = shipped.copy()
    variant.rows[100][variant.col("kepler_name")] = "Kepler-Café b"
    return variant.text().encode("latin-1")


def _without(shipped: Export, column: str) -> bytes:
    variant = shipped.copy()
    variant.drop_column(column)
    return variant.text().encode()


def _all_bad(shipped: Export) -> bytes:
    variant = shipped.copy()
    variant.rows = variant.rows[:3]
    for row in variant.rows:
        row[variant.col("koi_period")] = "?"
    return variant.text().encode()


def _deep(shipped: Export, bad: bytes) -> bytes:
    """The shipped file with ``bad`` inside row 5000, far past the 64 KiB sniffed up front."""
    variant = shipped.copy()
    variant.rows[5000][variant.col("kepler_name")] = "@@"
    return variant.text().encode().replace(b"@@", bad)


BAD_FILES = {
    "not a csv": (lambda s: b"Dear archive,\nplease send the KOI table.\n", "is not a CSV file"),
    "html page": (lambda s: b"<html><body>503</body></html>\n", "is not a CSV file"),
    "empty": (lambda s: b"", "is empty"),
    "header only": (
        lambda s: ("\n".join(s.comments) + "\n" + ",".join(s.columns) + "\n").encode(),
        "has a header but no data rows",
    ),
    "comments only": (lambda s: "\n".join(s.comments).encode(), "only comment lines"),
    "binary": (lambda s: random.Random(1).randbytes(4096), "binary file"),
    "latin-1": (_latin1, "not UTF-8 text: byte 0xe9 on line 155"),
    "latin-1 deep": (lambda s: _deep(s, b"Caf\xe9"), "not UTF-8 text: byte 0xe9 on line 5055"),
    "NUL deep": (lambda s: _deep(s, b"\x00\x00"), "binary file"),
    "missing koi_period": (
        lambda s: _without(s, "koi_period"),
        "lacks the required column koi_period",
    ),
    "another table": (
        lambda s: b"toi,tid,tfopwg_disp\n101.01,231663901,KP\n",
        "not a KOI cumulative table export",
    ),
    "every row bad": (_all_bad, "none of the 3 data rows .* could be loaded; first problem: line"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unloadable_file_fails_clearly_and_changes_nothing(
    case: str,
    conn: psycopg.Connection,
    shipped: Export,
    shipped_koi_file: Path,
    tmp_path: Path,
) -> None:
    load(conn, shipped_koi_file)  # something to keep intact
    before = raw_state(conn)
    make, message = BAD_FILES[case]
    path = tmp_path / "koi.csv"
    path.write_bytes(make(shipped))

    with pytest.raises(IngestError, match=message):
        load(conn, path)

    assert raw_state(conn) == before
    assert before["counts"]["koi_cumulative"] == 9564  # type: ignore[index]


# -- URLs ---------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local web server on 127.0.0.1 serving a temporary directory."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_url_with_and_without_header(
    conn: psycopg.Connection,
    database_url: str,
    shipped: Export,
    http_root: tuple[str, Path],
    exohunter_home: Path,
) -> None:
    base, root = http_root
    shipped.write(root / "cumulative.csv")
    shipped.write(root / "tap.csv", header=False)  # what the TAP service returns

    with_header = loader.ingest_koi(f"{base}/cumulative.csv", url=database_url)
    started = datetime.now(UTC)
    bare = loader.ingest_koi(f"{base}/tap.csv?query=select+*+from+cumulative", url=database_url)

    assert (with_header.rows_loaded, bare.rows_loaded) == (9564, 9564)
    assert with_header.sha256 == SHIPPED_SHA256
    assert with_header.snapshot_source == "header"
    assert with_header.snapshot_at == datetime(2019, 1, 20, 3, 22, 26, tzinfo=UTC)
    assert bare.snapshot_source == "load_time"
    assert abs(bare.snapshot_at - started) < timedelta(seconds=30)
    assert batch_row(conn, bare.batch_id)["source_uri"].endswith(
        "/tap.csv?query=select+*+from+cumulative"
    )
    assert batch_row(conn, bare.batch_id)["snapshot_source"] == "load_time"
    docs = "select count(*) from raw.column_catalogue where load_batch_id = %s"
    assert conn.execute(docs, (with_header.batch_id,)).fetchone()[0] == 49
    assert conn.execute(docs, (bare.batch_id,)).fetchone()[0] == 0
    first_line = conn.execute(
        "select min(source_line) from raw.koi_cumulative where load_batch_id = %s",
        (bare.batch_id,),
    ).fetchone()[0]
    assert first_line == 2
    assert dispositions(conn, bare.batch_id) == DISPOSITIONS
    # the downloads were streamed to the ExoHunter home and removed after loading
    assert list((exohunter_home / "downloads").iterdir()) == []

    before = raw_state(conn)
    with pytest.raises(IngestError, match="HTTP 404"):
        loader.ingest_koi(f"{base}/missing.csv", url=database_url)
    with pytest.raises(IngestError, match="over the 1,000-byte download limit"):
        loader.ingest_koi(f"{base}/cumulative.csv", url=database_url, max_download_bytes=1000)
    (root / "bad.csv").write_bytes(b"<html>maintenance</html>\n")
    with pytest.raises(IngestError, match=rf"^{base}/bad.csv is not a CSV file"):
        loader.ingest_koi(f"{base}/bad.csv", url=database_url)
    assert raw_state(conn) == before
    assert list((exohunter_home / "downloads").iterdir()) == []


# -- the command line ---------------------------------------------------------------------------
def test_cli_loads_reports_and_fails_with_one_red_line(
    database_url: str, shipped_koi_file: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": database_url, "COLUMNS": "200"}

    def exohunter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scoring", "ingest", "koi", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = exohunter(str(shipped_koi_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "loaded batch 1" in ok.stdout and "rows loaded:   9,564" in ok.stdout
    assert "2019-01-20T03:22:26+00:00 (from the file header)" in ok.stdout
    assert "raw_koi_batch on load batch 1: passed with warnings" in ok.stdout
    assert "checked: batch 1 passed the raw checks" in ok.stdout
    again = exohunter(str(shipped_koi_file))
    assert again.returncode == 0 and "already loaded as batch 1" in again.stdout

    (tmp_path / "empty.csv").write_bytes(b"")
    failed = exohunter(str(tmp_path / "empty.csv"))
    assert failed.returncode == 1
    assert failed.stdout.strip().splitlines() == [f"error: {tmp_path / 'empty.csv'} is empty:"
                                                  " expected a CSV export of the KOI cumulative"
                                                  " table"]  # fmt: skip
    both = exohunter(str(shipped_koi_file), "--from-archive")
    assert both.returncode == 1 and "either PATH_OR_URL or --from-archive" in both.stdout


# -- PostgreSQL 15 (no pg_input_is_valid) -------------------------------------------------------
def test_postgresql_15_loads_and_rejects_with_regex_checks(
    pg15_database_url: str, shipped: Export, shipped_koi_file: Path, tmp_path: Path
) -> None:
    bad = shipped.copy()
    period, plnt = bad.col("koi_period"), bad.col("koi_tce_plnt_num")
    bad.rows[1][period] = "12;5"
    bad.rows[2][plnt] = "99999999999"  # over integer
    bad.rows[3][bad.col("koi_fpflag_nt")] = "40000"  # over smallint
    bad.rows[4][period] = " 1.5E+01 "  # valid, with spaces and an upper-case exponent
    bad.rows[5][period] = "-Infinity"  # valid for double precision, but no period: rejected
    bad.rows[6][period] = "1e999"  # out of range
    with psycopg.connect(pg15_database_url, autocommit=True) as conn:
        assert conn.info.server_version // 10000 == 15
        good = load(conn, shipped_koi_file)
        checked = load(conn, bad.write(tmp_path / "bad.csv"))
        assert (good.method, good.rows_loaded) == ("copy", 9564)
        assert (checked.method, checked.rows_loaded, checked.rows_rejected) == ("checked", 9559, 5)
        reasons = dict(conn.execute("select source_line, reason from raw.koi_rejects").fetchall())
        assert reasons == {
            bad.line_of(1): "koi_period is not a valid double precision: 12;5",
            bad.line_of(2): "koi_tce_plnt_num is not a valid integer: 99999999999",
            bad.line_of(3): "koi_fpflag_nt is not a valid smallint: 40000",
            bad.line_of(5): "koi_period is empty (-Infinity)",
            bad.line_of(6): "koi_period is not a valid double precision: 1e999",
        }
        periods = conn.execute(
            "select koi_period from raw.koi_cumulative where load_batch_id = %s"
            " and kepoi_name = any(%s) order by source_line",
            (checked.batch_id, [bad.rows[i][bad.col("kepoi_name")] for i in (4, 5)]),
        ).fetchall()
        assert periods == [(15.0,)]


# -- the benchmark stays runnable ---------------------------------------------------------------
def test_bench_ingest_runs_small(database_url: str, exohunter_home: Path) -> None:
    from scoring.bench import ingest

    figures = ingest.bench_ingest(database_url, scale_rows=20_000, repeats=2, quiet=True)
    assert figures["shipped"]["rows"] == 9564
    assert figures["shipped"]["ratio"] > 0
    assert figures["scale"]["rows"] == 20_000
    assert figures["scale"]["peak_rss_mb"] > 0
    with psycopg.connect(database_url) as conn:  # the benchmark leaves nothing behind
        assert conn.execute("select count(*) from raw.load_batches").fetchone()[0] == 0
        assert conn.execute("select to_regclass('raw.bench_copy_baseline')").fetchone()[0] is None
    assert not any((settings.home() / "bench").glob("*.csv"))
