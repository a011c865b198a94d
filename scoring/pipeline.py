"""``exohunter run``: the whole pipeline, stage by stage, with a closing summary.

warehouse up → ingest the shipped KOI snapshot → dbt build. Later stages (quality gates,
training, scoring, dashboards) are added here, in order, so `make demo` stays one command.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scoring import ingest, settings, transform, warehouse

# Tables the summary counts, in pipeline order.
SUMMARY_TABLES = (
    "raw.load_batches",
    "raw.koi_cumulative",
    "raw.koi_rejects",
    "staging.stg_kepler__koi",
    "marts.fct_koi_features",
    "marts.dim_star",
)


@dataclass
class RunReport:
    url: str
    timings: dict[str, float] = field(default_factory=dict)
    ingest: ingest.LoadResult | None = None
    row_counts: dict[str, int] = field(default_factory=dict)


@contextmanager
def _stage(report: RunReport, name: str, console: Console) -> Iterator[None]:
    console.rule(f"[bold]{name}")
    start = time.perf_counter()
    yield
    report.timings[name] = time.perf_counter() - start


def count_rows(url: str) -> dict[str, int]:
    counts = {}
    with warehouse.connect(url) as conn:
        for table in SUMMARY_TABLES:
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            counts[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
    return counts


def run(console: Console, koi_file: Path = settings.SHIPPED_KOI_FILE) -> RunReport:
    report = RunReport(url="")
    with _stage(report, "warehouse", console):
        report.url = warehouse.prepare()
        console.print(f"warehouse: {warehouse.mask_password(report.url)}")
    with _stage(report, "ingest", console):
        report.ingest = ingest.ingest_koi(koi_file, url=report.url, console=console)
    with (
        _stage(report, "transform", console),
        transform.dbt_progress(console, "dbt build") as on_line,
    ):
        transform.run_dbt(["build"], report.url, on_line=on_line)
    report.row_counts = count_rows(report.url)
    print_summary(report, console)
    return report


def print_summary(report: RunReport, console: Console) -> None:
    table = Table(title="ExoHunter pipeline summary", show_lines=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.row_counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.timings.items())
    console.print(f"timings: {timings} (total {sum(report.timings.values()):.1f} s)")
    if report.ingest is not None:
        console.print(f"ingest: {report.ingest.summary()}")
    console.print(
        "\nWhere to look:\n"
        '  psql "$(exohunter warehouse url --show-password)"   (schemas raw, staging, marts)\n'
        "  select * from marts.fct_koi_features limit 10;\n"
        "  exohunter dbt docs generate && exohunter dbt docs serve   (lineage, column units)"
    )
