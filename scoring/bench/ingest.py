"""Ingest benchmarks: the shipped KOI file and a million synthetic rows against a plain COPY.

The baseline is a plain ``COPY`` of the same file into a bare typed table (no keys, no
constraints), timed the same way on the same server a moment earlier. Targets: the shipped KOI
file ingests in <= 1.5x the baseline; one million synthetic KOI-like rows ingest at >= 100,000
rows/s with a peak RSS under 1 GB. The benchmark removes everything it loads (its batches,
partitions and the baseline table) afterwards.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from scoring import settings
from scoring.bench.harness import child_url, peak_rss_mb, run_child, write_synthetic
from scoring.ingest import batches, loader
from scoring.ingest.columns import known_columns
from scoring.ingest.layout import BLOCK_SIZE
from scoring.warehouse import server

BASELINE_TABLE = sql.Identifier("raw", "bench_copy_baseline")
SHIPPED_RATIO_TARGET = 1.5
SCALE_ROWS_PER_S_TARGET = 100_000
SCALE_PEAK_RSS_TARGET_MB = 1024


def bench_ingest(
    url: str | None = None,
    *,
    scale_rows: int = 1_000_000,
    repeats: int = 15,
    quiet: bool = False,
) -> dict[str, dict[str, float | int | str]]:
    """Run the two ingest benchmarks; print and return their figures.

    ``shipped``: the shipped KOI file (a copy with one extra comment line, so its sha256 is new)
    ingested ``repeats`` times, each time on a new connection, alternating with the baseline;
    medians compared. ``scale``: ``scale_rows`` rows resampled from the real ones, ingested once
    in a subprocess so that its peak RSS is its own.
    """
    url = url or server.prepare()
    work = settings.home() / "bench"
    work.mkdir(parents=True, exist_ok=True)
    say: Callable[[str], None] = (lambda _: None) if quiet else print
    tag = uuid.uuid4().hex[:8]
    shipped_copy = work / f"koi_bench_{tag}.csv"
    synthetic = work / f"koi_synthetic_{scale_rows}_{tag}.csv"
    try:
        _write_bench_copy(settings.SHIPPED_KOI_FILE, shipped_copy, tag)
        _create_baseline_table(url, shipped_copy)
        shipped = _bench_shipped(url, shipped_copy, repeats)
        say(
            f"ingest, shipped file ({shipped['rows']:,} rows): median"
            f" {shipped['ingest_s'] * 1e3:.0f} ms vs plain COPY"
            f" {shipped['baseline_s'] * 1e3:.0f} ms -> {shipped['ratio']:.2f}x"
            f" (target <= {SHIPPED_RATIO_TARGET}x)"
        )
        write_synthetic(settings.SHIPPED_KOI_FILE, synthetic, scale_rows)
        scale = _bench_scale(url, synthetic)
        say(
            f"ingest, {scale['rows']:,} synthetic rows: {scale['ingest_s']:.1f} s,"
            f" {scale['rows_per_s']:,.0f} rows/s (target >= {SCALE_ROWS_PER_S_TARGET:,}),"
            f" peak RSS {scale['peak_rss_mb']:.0f} MB (target < {SCALE_PEAK_RSS_TARGET_MB} MB);"
            f" plain COPY {scale['baseline_s']:.1f} s -> {scale['ratio']:.2f}x"
        )
    finally:
        shipped_copy.unlink(missing_ok=True)
        synthetic.unlink(missing_ok=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop table if exists {}").format(BASELINE_TABLE))
    return {"shipped": shipped, "scale": scale}


def _write_bench_copy(source: Path, target: Path, tag: str) -> None:
    """The shipped file plus one comment line: same rows, new sha256 (not a no-op reload)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, f"# ExoHunter benchmark copy {tag}\n")
    target.write_text("".join(lines), encoding="utf-8")


# -- the baseline -------------------------------------------------------------------------------
def _create_baseline_table(url: str, path: Path) -> None:
    """A bare table with the file's columns, typed like raw.koi_cumulative, nothing else."""
    columns = _file_columns(path)
    with psycopg.connect(url, autocommit=True) as conn:
        types = {c.name: c.data_type for c in known_columns(conn)}
        conn.execute(sql.SQL("drop table if exists {}").format(BASELINE_TABLE))
        conn.execute(
            sql.SQL("create table {} ({})").format(
                BASELINE_TABLE,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in columns
                ),
            )
        )


def _file_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return next(line for line in handle if not line.startswith("#")).strip().split(",")


def plain_copy(conn: psycopg.Connection, path: Path) -> int:
    """The baseline: skip the ``#`` lines, COPY the rest (HEADER) as it is, commit."""
    with path.open("rb") as handle:
        offset = 0
        for line in handle:
            if not line.startswith(b"#"):
                break
            offset += len(line)
        handle.seek(offset)
        with conn.transaction(), conn.cursor() as cursor:
            statement = sql.SQL("copy {} from stdin (format csv, header true)").format(
                BASELINE_TABLE
            )
            with cursor.copy(statement) as copy:
                while block := handle.read(BLOCK_SIZE):
                    copy.write(block)
            return cursor.rowcount


def _timed_baseline(url: str, path: Path) -> tuple[float, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("truncate {}").format(BASELINE_TABLE))
        start = time.perf_counter()
        rows = plain_copy(conn, path)
        return time.perf_counter() - start, rows


def _timed_ingest(url: str, path: Path) -> tuple[float, loader.LoadResult]:
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        result = loader.load_koi_file(conn, path)
        seconds = time.perf_counter() - start
        batches.delete_batch(conn, result.batch_id)
    return seconds, result


# -- the two benchmarks -------------------------------------------------------------------------
def _bench_shipped(url: str, path: Path, repeats: int) -> dict[str, float | int | str]:
    _timed_baseline(url, path)  # warm both paths once (file cache, server caches)
    _timed_ingest(url, path)
    baseline, ingested = [], []
    result = None
    for _ in range(repeats):
        baseline.append(_timed_baseline(url, path)[0])
        seconds, result = _timed_ingest(url, path)
        ingested.append(seconds)
    assert result is not None
    median_base, median_ingest = statistics.median(baseline), statistics.median(ingested)
    return {
        "rows": result.rows_loaded,
        "method": result.method,
        "baseline_s": median_base,
        "ingest_s": median_ingest,
        "ratio": median_ingest / median_base,
        "ratio_best": min(ingested) / min(baseline),
        "repeats": repeats,
    }


def _bench_scale(url: str, path: Path) -> dict[str, float | int | str]:
    baseline_s, baseline_rows = _timed_baseline(url, path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("truncate {}").format(BASELINE_TABLE))
    figures = run_child(["scoring.bench.ingest", "ingest-child", str(path)], "ingest", url)
    with psycopg.connect(url, autocommit=True) as conn:
        batches.delete_batch(conn, figures["batch_id"])
    if figures["rows"] != baseline_rows:
        raise RuntimeError(f"ingest loaded {figures['rows']} rows, COPY {baseline_rows}")
    return {
        "rows": figures["rows"],
        "method": figures["method"],
        "baseline_s": baseline_s,
        "ingest_s": figures["seconds"],
        "ratio": figures["seconds"] / baseline_s,
        "rows_per_s": figures["rows"] / figures["seconds"],
        "peak_rss_mb": figures["peak_rss_mb"],
    }


def _ingest_child(path: str, url: str) -> None:
    """Run in a fresh interpreter: load one file, print time and this process's peak RSS."""
    seconds, result = 0.0, None
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        result = loader.load_koi_file(conn, Path(path))
        seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "batch_id": result.batch_id,
                "rows": result.rows_loaded,
                "method": result.method,
                "seconds": seconds,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "ingest-child":
        _ingest_child(sys.argv[2], child_url())
    else:
        bench_ingest()  # the warehouse every command uses (EXOHUNTER_DATABASE_URL or embedded)
