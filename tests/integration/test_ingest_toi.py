"""``exohunter ingest toi`` against a real PostgreSQL, on the shipped TESS TOI snapshots: the rows,
the batch and its snapshot date from the header, idempotence, rejects, refusals that write
nothing, an older snapshot as a second batch, the staging model, and the TOI table's stellar
parameters for a light-curve upload of a TOI host.

The ingest code is the KOI table's (tests/integration/test_ingest.py covers its every path);
these tests pin what the TOI table adds: its raw table, key, required columns and TAP query.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from scoring import settings
from scoring.ingest import careful_path, loader, tables
from scoring.ingest.errors import IngestError
from scoring.lightcurves import model, stars, store
from scoring.quality import gates
from scoring.warehouse import server
from tests.conftest import dbt_build

pytestmark = pytest.mark.integration

TOI_2025 = settings.SHIPPED_TOI_FILE
TOI_2020 = settings.OLDER_TOI_FILE
SHA256_2025 = "1b7a078a5c084039df40a9c5862bd1ec41972513c963cdc65f29080d67db6a46"
DISPOSITIONS_2025 = {"PC": 4679, "FP": 1197, "CP": 684, "KP": 583, "APC": 462, "FA": 98}
DISPOSITIONS_2020 = {None: 1263, "FP": 469, "KP": 253, "CP": 52, "PC": 4}
FIRST_DATA_LINE = 71  # 69 '#' lines, the column row on line 70
RAW_TABLES = ("load_batches", "toi", "toi_rejects", "column_catalogue", "koi_cumulative")


def raw_state(conn: psycopg.Connection) -> dict[str, object]:
    """Row counts of the raw tables and every relation in the raw schema (partitions too)."""
    counts = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
    relations = sorted(
        name
        for (name,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'raw'"
        )
    )
    return {"counts": counts, "relations": relations}


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def toi_row(path: Path, tic: int) -> dict[str, str]:
    """The file's (only) row of a TIC host, by column name."""
    rows = csv.reader(line for line in lines_of(path) if not line.startswith("#"))
    header = next(rows)
    found = [dict(zip(header, r, strict=True)) for r in rows if r[1] == str(tic)]
    assert len(found) == 1, f"TIC {tic} hosts {len(found)} TOIs"
    return found[0]


# -- the shipped snapshot -----------------------------------------------------------------------
def test_shipped_toi_file_loads_as_one_batch_then_reloading_is_a_no_op(
    conn: psycopg.Connection, database_url: str
) -> None:
    result = loader.ingest_toi(TOI_2025, url=database_url)

    assert (result.rows_loaded, result.rows_rejected, result.method) == (7703, 0, "copy")
    assert result.sha256 == SHA256_2025 == hashlib.sha256(TOI_2025.read_bytes()).hexdigest()
    assert result.snapshot_at == datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC)
    assert result.snapshot_source == "header"
    assert result.columns_missing == () and result.columns_extra == ()
    batch = conn.execute(
        "select source_table, source_uri, file_sha256, file_bytes, snapshot_at, rows_loaded,"
        " rows_rejected, status from raw.load_batches where load_batch_id = %s",
        (result.batch_id,),
    ).fetchone()
    assert batch == (
        "toi",
        str(TOI_2025.resolve()),
        SHA256_2025,
        TOI_2025.stat().st_size,
        datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC),
        7703,
        0,
        "pending_checks",  # a library load: the raw gate decides whether staging reads it
    )
    dispositions = dict(
        conn.execute("select tfopwg_disp, count(*) from raw.toi group by 1").fetchall()
    )
    assert dispositions == DISPOSITIONS_2025
    assert conn.execute("select count(distinct toi) from raw.toi").fetchone()[0] == 7703
    # typed as the archive documents it; the line numbers are the file's
    first = conn.execute(
        "select source_line, toi, tid, pl_orbper, st_teff, rowupdate from raw.toi"
        " order by source_line limit 1"
    ).fetchone()
    assert first == (
        FIRST_DATA_LINE,
        "1000.01",
        50365310,
        2.1713484,
        10249.0,
        datetime(2024, 9, 9, 10, 8, 1),
    )
    catalogue = dict(
        conn.execute(
            "select column_name, unit from raw.column_catalogue where load_batch_id = %s",
            (result.batch_id,),
        ).fetchall()
    )
    assert len(catalogue) == 65
    assert (catalogue["pl_orbper"], catalogue["st_rad"], catalogue["tid"]) == (
        "days",
        "R_Sun",
        None,
    )
    partition = conn.execute("select to_regclass('raw.toi_batch_1')").fetchone()[0]
    assert partition == "raw.toi_batch_1"

    before = raw_state(conn)
    again = loader.ingest_toi(TOI_2025, url=database_url)
    assert again.already_loaded and again.batch_id == result.batch_id and again.method == "none"
    assert raw_state(conn) == before


def test_older_snapshot_loads_as_a_second_batch(conn: psycopg.Connection) -> None:
    new = loader.load_toi_file(conn, TOI_2025)
    old = loader.load_toi_file(conn, TOI_2020)

    assert (old.batch_id, old.rows_loaded, old.rows_rejected) == (new.batch_id + 1, 2041, 0)
    assert old.snapshot_at == datetime(2020, 6, 30, 10, 44, 38, tzinfo=UTC)
    batches = conn.execute(
        "select source_table, rows_loaded, snapshot_at::date::text from raw.load_batches"
        " order by load_batch_id"
    ).fetchall()
    assert batches == [("toi", 7703, "2025-10-04"), ("toi", 2041, "2020-06-30")]
    dispositions = dict(
        conn.execute(
            "select tfopwg_disp, count(*) from raw.toi where load_batch_id = %s group by 1",
            (old.batch_id,),
        ).fetchall()
    )
    assert dispositions == DISPOSITIONS_2020  # blank: not yet dispositioned, loaded as NULL
    # the same TOI in both snapshots, side by side (rows are never updated): not yet
    # dispositioned in 2020, a false positive by 2025
    both = conn.execute(
        "select load_batch_id, tfopwg_disp from raw.toi where toi = '1000.01' order by 1"
    ).fetchall()
    assert both == [(new.batch_id, "FP"), (old.batch_id, None)]


def test_bad_rows_land_in_toi_rejects_and_the_rest_loads(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    lines = lines_of(TOI_2025)
    index = FIRST_DATA_LINE  # 0-based index of the second data row (line 72)
    fields = lines[index].split(",")
    assert fields[0] == "1001.01"
    fields[19] = "abc"  # pl_orbper
    lines[index] = ",".join(fields)
    lines.append(lines[FIRST_DATA_LINE - 1])  # TOI 1000.01 again
    path = tmp_path / "toi_with_bad_rows.csv"
    path.write_text("".join(lines))

    result = loader.load_toi_file(conn, path)

    assert (result.method, result.rows_loaded, result.rows_rejected) == ("checked", 7702, 2)
    rejects = conn.execute(
        "select source_line, reason from raw.toi_rejects where load_batch_id = %s order by 1",
        (result.batch_id,),
    ).fetchall()
    assert rejects == [
        (FIRST_DATA_LINE + 1, "pl_orbper is not a valid double precision: abc"),
        (len(lines), f"duplicate toi 1000.01 (first on line {FIRST_DATA_LINE})"),
    ]
    assert conn.execute("select count(*) from raw.koi_rejects").fetchone()[0] == 0


def test_a_snapshot_with_dropped_and_renamed_columns_loads_as_a_new_batch(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    first = loader.load_toi_file(conn, TOI_2025)
    lines = lines_of(TOI_2025)
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    dropped = [i for i, name in enumerate(rows[0]) if name.startswith("st_pmdec")]
    rows[0][rows[0].index("pl_eqt")] = "pl_eqt_k"  # renamed: unknown, kept aside
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [v for i, v in enumerate(row) if i not in dropped] for row in rows
    )
    path = tmp_path / "toi_drifted.csv"
    path.write_text("".join(comments) + out.getvalue())

    drifted = loader.load_toi_file(conn, path)

    assert drifted.batch_id != first.batch_id and not drifted.already_loaded
    assert (drifted.rows_loaded, drifted.rows_rejected) == (7703, 0)
    assert drifted.columns_missing == (
        "st_pmdec", "st_pmdecerr1", "st_pmdecerr2", "st_pmdeclim", "pl_eqt",
    )  # fmt: skip
    assert drifted.columns_extra == ("pl_eqt_k",)
    kept = conn.execute(
        "select count(*), count(pl_eqt), count(st_pmdec), sum((extra_columns->>'pl_eqt_k')::float)"
        " from raw.toi where load_batch_id = %s",
        (drifted.batch_id,),
    ).fetchone()
    original = conn.execute(
        "select sum(pl_eqt) from raw.toi where load_batch_id = %s", (first.batch_id,)
    ).fetchone()[0]
    assert kept[:3] == (7703, 0, 0) and kept[3] == pytest.approx(original, rel=1e-12)


def _without_column(name: str) -> bytes:
    rows = list(csv.reader(line for line in lines_of(TOI_2025) if not line.startswith("#")))
    drop = rows[0].index(name)
    out = [",".join(v for i, v in enumerate(r) if i != drop) for r in rows]
    return ("\n".join(out) + "\n").encode()


def _latin1_row() -> bytes:
    lines = lines_of(TOI_2025)
    fields = lines[5000].split(",")
    fields[3] += "\xe9"  # rastr, a text column
    lines[5000] = ",".join(fields)
    return "".join(lines).encode("latin-1")


BAD_COPIES = {
    "no tid column": (lambda: _without_column("tid"), r"lacks the required column tid$"),
    "no label column": (lambda: _without_column("tfopwg_disp"), "required column tfopwg_disp"),
    "not UTF-8 on one line": (_latin1_row, "is not UTF-8 text: byte 0xe9 on line 5001"),
    "the KOI export": (
        lambda: settings.SHIPPED_KOI_FILE.read_bytes(),
        r"is a KOI cumulative table export, not a TOI table export: load it with "
        r"`exohunter ingest koi`",
    ),
    "every row bad": (
        lambda: (
            b"toi,tid,tfopwg_disp,pl_orbper,pl_trandep,pl_trandurh\n"
            + b"".join(b"%d.01,TIC-%d,PC,1,2,3\n" % (i, i) for i in (1, 2, 3))
        ),
        "none of the 3 data rows .* could be loaded; first problem: line 2: tid is not a valid"
        " bigint: TIC-1",
    ),
}


@pytest.mark.parametrize("case", list(BAD_COPIES))
def test_a_malformed_copy_is_refused_and_nothing_is_written(
    case: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    loader.load_toi_file(conn, TOI_2020)  # something to keep intact
    before = raw_state(conn)
    make, message = BAD_COPIES[case]
    path = tmp_path / "toi.csv"
    path.write_bytes(make())

    with pytest.raises(IngestError, match=message):
        loader.load_toi_file(conn, path)

    assert raw_state(conn) == before
    assert before["counts"]["toi"] == 2041  # type: ignore[index]


def test_the_toi_export_given_as_a_koi_file_is_refused_by_name(conn: psycopg.Connection) -> None:
    with pytest.raises(IngestError, match="is a TOI table export, not a KOI cumulative table"):
        loader.load_koi_file(conn, TOI_2025)
    assert conn.execute("select count(*) from raw.load_batches").fetchone()[0] == 0


def test_postgresql_15_timestamp_check_accepts_only_what_the_cast_accepts(
    conn: psycopg.Connection,
) -> None:
    """The careful path's regex check for timestamps (PostgreSQL 15 has no pg_input_is_valid),
    run here on the test server beside pg_input_is_valid."""
    # value -> passes the regex check (conservative: 'yesterday' and '24:00:00' are valid input
    # but refused, and land in the rejects, rather than risk a cast that aborts the load)
    expected = {
        "2019-07-24 15:58:33": True,
        "2024-02-29 00:00:00": True,
        "2023-12-31": True,
        "2023-01-01 10:00:00.123456": True,
        "2023-02-29 00:00:00": False,
        "2023-04-31 12:00:00": False,
        "2023-13-01 00:00:00": False,
        "0000-01-01 00:00:00": False,
        "2023-01-01 24:00:00": False,
        "yesterday": False,
    }
    for value, passes in expected.items():
        regex = careful_path._is_valid(sql.Literal(value), "timestamp without time zone", 150000)
        checked = conn.execute(sql.SQL("select {}").format(regex)).fetchone()[0]
        valid = conn.execute(
            "select pg_input_is_valid(%s, 'timestamp without time zone')", (value,)
        ).fetchone()[0]
        assert checked == passes, value
        assert valid or not checked, value  # what the check passes never aborts a load


# -- the command line ---------------------------------------------------------------------------
def test_cli_ingest_toi_loads_reports_and_refuses(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": database_url, "COLUMNS": "200"}

    def exohunter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scoring", "ingest", "toi", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = exohunter(str(TOI_2025))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "loaded batch 1" in ok.stdout and "rows loaded:   7,703" in ok.stdout
    assert "2025-10-04T15:58:58+00:00 (from the file header)" in ok.stdout
    assert "raw_toi_batch on load batch 1: passed" in ok.stdout
    assert "checked: batch 1 passed the raw checks" in ok.stdout
    again = exohunter(str(TOI_2025))
    assert again.returncode == 0 and "already loaded as batch 1" in again.stdout
    assert "raw_toi_batch" not in again.stdout  # checked once
    # A third of the same snapshot (a download cut short, the header intact) loads, then its
    # checks refuse it: marked failed_quality, never read; the good batch stays the one read.
    lines = lines_of(TOI_2025)
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    third = tmp_path / "toi_third.csv"
    third.write_text("".join(header + body[: 1 + len(body) // 3]), encoding="utf-8")
    refused = exohunter(str(third))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (
        "error: data-quality gate failed: raw_toi_batch on load batch 2, 1 critical "
        "expectation failed:" in refused.stdout
    )
    assert "row_count_not_shrunk" in refused.stdout
    assert "observed 2,568, expected at least 6,162" in refused.stdout
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            "select load_batch_id, status from raw.load_batches order by 1"
        ).fetchall() == [(1, "loaded"), (2, "failed_quality")]
    (tmp_path / "empty.csv").write_bytes(b"")
    failed = exohunter(str(tmp_path / "empty.csv"))
    assert failed.returncode == 1
    assert failed.stdout.strip().splitlines() == [
        f"error: {tmp_path / 'empty.csv'} is empty: expected a CSV export of the TOI table"
    ]
    both = exohunter(str(TOI_2025), "--from-archive")
    assert both.returncode == 1 and "either PATH_OR_URL or --from-archive" in both.stdout


def test_from_archive_asks_the_tap_service_for_the_toi_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from scoring.cli import app

    asked: list[tuple[str, str]] = []

    def fake_ingest(table: tables.TableSpec, source: str, **kwargs: object) -> None:
        asked.append((table.name, source))
        raise IngestError("offline")

    monkeypatch.setattr(loader, "ingest", fake_ingest)
    CliRunner().invoke(app, ["ingest", "toi", "--from-archive"])
    CliRunner().invoke(app, ["ingest", "koi", "--from-archive"])
    base = "https://exoplanetarchive.ipac.caltech.edu/TAP/sync?query=select+*+from+"
    assert asked == [
        ("toi", base + "toi&format=csv"),
        ("koi_cumulative", base + "cumulative&format=csv"),
    ]


# -- staging and the stellar lookup -------------------------------------------------------------
@pytest.fixture(scope="module")
def toi_warehouse(pg_cluster: server.PostgresCluster) -> Iterator[str]:
    """Both TOI snapshots loaded (the older one last) and the TESS staging built, once."""
    with pg_cluster.scratch_database("toi") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            loader.load_toi_file(conn, TOI_2025)
            loader.load_toi_file(conn, TOI_2020)
        gates.gate_new_batches(url)  # both pass: staging reads only checked batches
        dbt_build(
            url,
            "--select",
            "stg_tess__toi",
            "stg_kepler__load_batches",
            "--indirect-selection",
            "cautious",
        )
        yield url


def test_staging_reads_the_latest_snapshot_not_the_last_loaded(toi_warehouse: str) -> None:
    with psycopg.connect(toi_warehouse) as conn:
        rows, batches, snapshot = conn.execute(
            "select count(*), count(distinct load_batch_id), max(snapshot_at)::date::text"
            " from staging.stg_tess__toi"
        ).fetchone()
        assert (rows, batches, snapshot) == (7703, 1, "2025-10-04")
        positive_lower_errors = conn.execute(
            "select count(*) from staging.stg_tess__toi where stellar_radius_solar_err2 > 0"
        ).fetchone()[0]
        assert positive_lower_errors == 0


def test_a_tess_upload_of_a_toi_host_gets_the_toi_tables_stellar_parameters(
    toi_warehouse: str,
) -> None:
    """No light curve of a TOI host is shipped: a shipped CSV light curve, uploaded with the star
    id "TIC 25155310" (the host of TOI-114.01, and of no other TOI), must get exactly that TOI
    row's parameters."""
    tic = 25155310
    expected = toi_row(TOI_2025, tic)
    lightcurve = settings.DATA_DIR / "lightcurves" / "kic8462852_tabby_normalized_flux_q0-q17.csv"
    data = lightcurve.read_bytes()
    with psycopg.connect(toi_warehouse, autocommit=True) as conn:
        (loaded,) = store.load(
            conn, data, lightcurve.name, "web", store.StarInput(f"TIC {tic}"), "BKJD"
        )
        row = store.upload(conn, loaded.upload_id)
        assert stars.tic_id(row) == tic
        star = stars.star_for(conn, row, store.star_for(row, store.kois_of(conn, row["kepid"])))
        assert star == model.Star(
            float(expected["st_teff"]),
            float(expected["st_logg"]),
            float(expected["st_rad"]),
            source="toi_table",
        )
        assert (star.teff_k, star.logg_cgs, star.radius_solar) == (5800.0, 4.28004, 1.24175)

        # the user's own parameters still come first
        (given,) = store.load(
            conn, data, lightcurve.name, "web", store.StarInput(f"TIC {tic}", teff_k=5000.0), "BKJD"
        )
        row = store.upload(conn, given.upload_id)
        user = stars.star_for(conn, row, store.star_for(row, []))
        assert user.source == "user" and user.teff_k == 5000.0

        # a TESS file's own TIC id (header TICID) is read when the user names no star; this
        # flaring star hosts no TOI, so nothing is known
        tess = (
            settings.DATA_DIR
            / "lightcurves"
            / ("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits")
        )
        (flare,) = store.load(conn, tess.read_bytes(), tess.name, "web")
        row = store.upload(conn, flare.upload_id)
        assert stars.tic_id(row) == 358108509
        assert stars.star_for(conn, row, model.Star()) == model.Star()


def test_an_analysis_of_a_toi_host_records_the_toi_table_as_its_stellar_source(
    toi_warehouse: str,
) -> None:
    """The whole upload path (search, assessment, the ml row): the shipped Kepler-6 quarter,
    uploaded as "TIC 25155310" (no KOI mart here, so the KOI table gives nothing)."""
    lightcurve = settings.DATA_DIR / "lightcurves" / "kplr010874614-2009131105131_llc.fits"
    with psycopg.connect(toi_warehouse, autocommit=True) as conn:
        ((loaded, analysis),) = store.load_and_analyse(
            conn, lightcurve.read_bytes(), lightcurve.name, "web", store.StarInput("TIC 25155310")
        )
        assert analysis.star == model.Star(5800.0, 4.28004, 1.24175, source="toi_table")
        stored = conn.execute(
            "select stellar_source, stellar_teff_k, stellar_logg_cgs, stellar_radius_solar"
            " from ml.lightcurve_analyses where upload_id = %s",
            (loaded.upload_id,),
        ).fetchone()
        assert stored == ("toi_table", 5800.0, 4.28004, 1.24175)
