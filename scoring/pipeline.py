"""``exohunter run``: the whole pipeline, stage by stage, with a closing summary.

warehouse up → (the pipeline lock) → ingest the shipped KOI snapshot → raw checks of every
batch waiting for them → ingest the shipped TOI snapshot → its raw checks →
dbt build → feature checks (the KOI mart's, and the TOI mart's once a TOI batch is loaded) →
train (the KOI classifier if its champion was not trained on this batch; the TOI classifier
once per TOI batch) → score (KOIs, then TOIs) → prediction checks (the KOIs', then the
TOIs' when TOIs were scored) → anomalies
(ensemble + Bayesian outlier model, refitted only for a new batch or configuration) → anomaly
checks → light curves (the shipped files loaded, the light-curve classifier trained once per
batch, every upload not yet analysed searched and scored) → dbt build of the marts over the
scores and the data-quality results (tags ``scored``, ``dq``). ``exohunter run --dashboards``
then serves Superset.

The checks are gates (:mod:`scoring.quality.gates`): a critical failure stops the run before
anything downstream changes — the failed batch is marked in ``raw``, the marts keep the last good
batch, the champion stays, the failure is recorded in ``dq`` and shown by
``marts.fct_data_quality``. The raw gate checks every batch still ``pending_checks``, whoever
loaded it, so a truncated export never reaches staging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from scoring import settings
from scoring.anomalies import detect
from scoring.classifier import predict, toi_predict, toi_training, training
from scoring.console import byte_progress, dbt_progress
from scoring.ingest import loader
from scoring.ml import registry
from scoring.progress import Say
from scoring.quality import context, gates
from scoring.quality.errors import QualityGateError
from scoring.warehouse import dbt_runner, locks, server

# Tables the summary counts, in pipeline order.
SUMMARY_TABLES = (
    "raw.load_batches",
    "raw.koi_cumulative",
    "raw.koi_rejects",
    "raw.toi",
    "raw.toi_rejects",
    "staging.stg_kepler__koi",
    "staging.stg_tess__toi",
    "marts.fct_koi_features",
    "marts.dim_star",
    "marts.fct_toi_features",
    "marts.dim_tess_star",
    "ml.model_registry",
    "ml.koi_predictions",
    "ml.koi_explanations",
    "marts.fct_koi_predictions",
    "marts.fct_discoveries",
    "ml.toi_predictions",
    "ml.koi_anomalies",
    "marts.fct_anomalies",
    "raw.lightcurves",
    "ml.lightcurve_signals",
    "marts.fct_lightcurve_uploads",
    "dq.validation_runs",
    "marts.fct_data_quality",
)
# dbt selections: the models read by training, and those over its outputs and the checks.
BEFORE_SCORING = ["build", "--exclude", "tag:scored", "tag:dq"]
AFTER_SCORING = ["build", "--select", "tag:scored", "tag:dq"]


def needs_training(conn: psycopg.Connection) -> bool:
    """True unless the champion is the version this configuration trains on the batch the
    feature mart holds now (a champion of an older configuration, or batch, is retrained)."""
    champion = registry.champion(conn, training.TASK)
    current = conn.execute("select max(load_batch_id) from marts.fct_koi_features").fetchone()[0]
    return champion != training.version_for(current)


def has_tois(conn: psycopg.Connection) -> bool:
    """Whether a TOI batch reached the TOI feature mart."""
    return conn.execute("select exists (select from marts.fct_toi_features)").fetchone()[0]


def lightcurve_stage(conn: psycopg.Connection, console: Console) -> None:
    """Load the shipped light curves, train the light-curve classifier (once per KOI batch and
    configuration), analyse every upload not yet analysed by this search and model."""
    from scoring.lightcurves import model, store

    new = [item for item in store.load_shipped(conn) if item.upload_id is not None]
    console.print(f"shipped light curves: {len(new)} new")
    trained = model.train(conn, console.status)
    console.print(
        f"light-curve classifier {trained.model_version}"
        + ("" if trained.created else " (already trained)")
    )
    pending = store.pending(conn)
    for upload_id in pending:
        store.analyse(conn, upload_id)
    console.print(f"light curves analysed: {len(pending)}")


@dataclass
class RunReport:
    url: str
    timings: dict[str, float] = field(default_factory=dict)
    ingest: loader.LoadResult | None = None
    toi_ingest: loader.LoadResult | None = None
    scoring: predict.ScoreResult | None = None
    toi_scoring: predict.ScoreResult | None = None
    anomalies: detect.DetectResult | None = None
    row_counts: dict[str, int] = field(default_factory=dict)


@contextmanager
def _stage(report: RunReport, name: str, console: Console) -> Iterator[None]:
    console.rule(f"[bold]{name}")
    start = time.perf_counter()
    yield
    report.timings[name] = time.perf_counter() - start


def _dbt_stage(report: RunReport, name: str, args: list[str], console: Console) -> None:
    with _stage(report, name, console), dbt_progress(console, "dbt build") as on_line:
        dbt_runner.run_dbt(args, report.url, on_line=on_line)


def _gate(
    report: RunReport,
    name: str,
    console: Console,
    check: Callable[[Say], object],
    *,
    restore: list[str] | None = None,
) -> None:
    """A quality gate (``check(say)`` raises on a critical failure): on a failure, put the marts
    back (``restore``: the dbt build of the last good batch), rebuild the data-quality marts so
    the failure shows, then stop."""
    try:
        with _stage(report, name, console):
            check(lambda line: console.print(line, highlight=False))
    except QualityGateError:
        if restore:
            _dbt_stage(report, "restore the marts", restore, console)
        _dbt_stage(report, "data-quality marts", ["build", "--select", "tag:dq"], console)
        raise


def count_rows(url: str) -> dict[str, int]:
    counts = {}
    with server.connect(url) as conn:
        for table in SUMMARY_TABLES:
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            counts[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
    return counts


def run(
    console: Console,
    koi_file: Path = settings.SHIPPED_KOI_FILE,
    toi_file: Path = settings.SHIPPED_TOI_FILE,
) -> RunReport:
    """The pipeline, holding the pipeline lock (:mod:`scoring.warehouse.locks`) from the first
    ingest to the last dbt build: a second run at once stops with one line naming this one."""
    report = RunReport(url="")
    with _stage(report, "warehouse", console):
        report.url = server.prepare()
        console.print(f"warehouse: {server.mask_password(report.url)}")
    with locks.pipeline_lock(report.url, "exohunter run"):
        _run_stages(report, console, koi_file, toi_file)
    report.row_counts = count_rows(report.url)
    print_summary(report, console)
    return report


def _run_stages(report: RunReport, console: Console, koi_file: Path, toi_file: Path) -> None:
    url = report.url
    with _stage(report, "ingest", console), byte_progress(console) as progress:
        report.ingest = loader.ingest_koi(koi_file, url=url, progress=progress, take_lock=False)
    # Every batch waiting for its checks, not only this file's: one whose gate never ran (a
    # crash, a library load) is checked here before staging may read it.
    _gate(report, "raw checks", console, lambda say: gates.gate_new_batches(url, say))
    # After the KOI gate: a refused KOI export stops the run before anything else is loaded.
    with _stage(report, "ingest (TOI)", console), byte_progress(console) as progress:
        report.toi_ingest = loader.ingest_toi(toi_file, url=url, progress=progress, take_lock=False)
    _gate(report, "raw checks (TOI)", console, lambda say: gates.gate_new_batches(url, say))
    _dbt_stage(report, "transform", BEFORE_SCORING, console)
    _gate(
        report,
        "feature checks",
        console,
        lambda say: gates.gate(url, "features", say),
        restore=BEFORE_SCORING,
    )
    with _stage(report, "train", console), server.connect(url, autocommit=True) as conn:
        if needs_training(conn):
            training.train(conn, console.print, console.status)
        else:
            console.print("the champion is this batch's model: no training needed")
        if has_tois(conn):
            toi_training.train(conn, console.print, console.status)
    with _stage(report, "score", console), server.connect(url, autocommit=True) as conn:
        scored = predict.score(conn)
        report.scoring = scored
        console.print(scored.summary())
        if has_tois(conn):
            report.toi_scoring = toi_predict.score(conn)
            console.print(f"TOIs: {report.toi_scoring.summary()}")
    _gate(
        report,
        "prediction checks",
        console,
        lambda say: gates.gate(
            url,
            "predictions",
            say,
            model_version=scored.model_version,
            batch_id=scored.load_batch_id,
        ),
    )
    if (toi_scored := report.toi_scoring) is not None:
        _gate(
            report,
            "prediction checks (TOI)",
            console,
            lambda say: gates.gate(
                url,
                "predictions",
                say,
                model_version=toi_scored.model_version,
                batch_id=toi_scored.load_batch_id,
            ),
        )
    with _stage(report, "anomalies", console), server.connect(url, autocommit=True) as conn:
        found = detect.detect(conn, console.print)
        report.anomalies = found
        console.print(found.summary())
    _gate(
        report,
        "anomaly checks",
        console,
        lambda say: gates.gate(
            url, "anomalies", say, model_version=found.model_version, batch_id=found.load_batch_id
        ),
    )
    with _stage(report, "light curves", console), server.connect(url, autocommit=True) as conn:
        lightcurve_stage(conn, console)
    _dbt_stage(report, "marts over the scores and checks", AFTER_SCORING, console)


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
    if report.toi_ingest is not None:
        console.print(f"ingest (TOI): {report.toi_ingest.summary()}")
    console.print(
        "\nWhere to look:\n"
        '  psql "$(exohunter warehouse url --show-password)"   (schemas raw, staging, marts)\n'
        "  select * from marts.fct_discoveries order by mission, candidate_rank limit 10;\n"
        f"  {context.data_docs_index()}   (Data Docs: what the data-quality checks found)\n"
        "  exohunter dbt docs generate && exohunter dbt docs serve   (lineage, column units)"
    )
