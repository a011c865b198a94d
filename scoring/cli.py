"""The ``exohunter`` command line."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from scoring import settings
from scoring.errors import ExoHunterError

if TYPE_CHECKING:
    import click
    import psycopg

    from scoring.ingest.loader import LoadResult
    from scoring.ingest.tables import TableSpec
    from scoring.lightcurves.store import Analysis, Loaded
    from scoring.ml.track_record import Record

console = Console()


class _Commands(typer.core.TyperGroup):
    """Every command's user errors end here: one line, exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ExoHunterError as exc:
            raise _fail(str(exc)) from exc
        except Exception as exc:
            # A database killed or restarted under a command is a fault, not a bug. psycopg is
            # imported only by the commands that use it: without it, this cannot be its error.
            psycopg = sys.modules.get("psycopg")
            if psycopg is None or not isinstance(exc, psycopg.OperationalError):
                raise
            from scoring.warehouse import server

            raise _fail(str(server.database_failure(exc))) from exc


app = typer.Typer(
    cls=_Commands,
    help="ExoHunter: rank exoplanet signals from NASA Kepler/TESS data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
warehouse_app = typer.Typer(
    help="The PostgreSQL warehouse (embedded unless EXOHUNTER_DATABASE_URL is set).",
    no_args_is_help=True,
)
app.add_typer(warehouse_app, name="warehouse")


def _fail(message: str) -> typer.Exit:
    # One line, whatever the terminal's width; the message is text, not rich markup.
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=1)


@warehouse_app.command("up")
def warehouse_up() -> None:
    """Start the warehouse (initialising it on first use) and apply pending migrations."""
    from scoring.warehouse import migrate, server

    url = server.database_url()
    with server.connect(url) as conn:
        applied = migrate.apply(conn)
    for migration in applied:
        console.print(f"applied migration {migration.version}_{migration.name}")
    console.print(f"warehouse ready: {server.mask_password(url)}")


@warehouse_app.command("down")
def warehouse_down() -> None:
    """Stop the embedded warehouse (the data stays)."""
    from scoring.warehouse import server

    if settings.external_database_url():
        raise _fail(
            "EXOHUNTER_DATABASE_URL points at an external PostgreSQL; ExoHunter does not stop it"
        )
    stopped = server.embedded().down()
    console.print("warehouse stopped" if stopped else "warehouse was not running")


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say whether the warehouse runs, where its data lives and which schema version it has."""
    from scoring.warehouse import migrate, server

    external = settings.external_database_url()
    if external:
        console.print(f"external warehouse: {server.mask_password(external)}")
    else:
        status = server.embedded().status()
        state = (
            "running"
            if status.running
            else ("stopped" if status.initialised else "not initialised")
        )
        console.print(f"embedded warehouse: {state}")
        console.print(f"  data directory: {status.data_dir}")
        console.print(f"  port:           {status.port or '-'}")
        console.print(f"  log:            {status.log_file}")
        if not status.running:
            raise typer.Exit(code=3)
    with server.connect(server.database_url(start=False)) as conn:
        version = conn.info.parameter_status("server_version")
        done = migrate.applied(conn)
    pending = [m for m in migrate.available() if m.version not in done]
    console.print(f"  server:         PostgreSQL {version}")
    console.print(f"  migrations:     {len(done)} applied, {len(pending)} pending")


@warehouse_app.command("url")
def warehouse_url(
    show_password: bool = typer.Option(False, help="Print the password too."),
    reader: bool = typer.Option(
        False,
        "--reader",
        help="The read-only role's URL (SELECT on marts only); gives the role its login and "
        "password (EXOHUNTER_WAREHOUSE_READER_PASSWORD or generated).",
    ),
) -> None:
    """Print the warehouse connection URL (for psql, dbt or a BI tool)."""
    from scoring.warehouse import server

    # The reader role exists once the migrations ran; its password is set in the server.
    url = server.reader_url(server.prepare()) if reader else server.database_url(start=False)
    print(url if show_password else server.mask_password(url))


def _run_dbt(args: list[str]) -> None:
    from scoring.console import dbt_progress
    from scoring.warehouse import dbt_runner, server

    url = server.prepare()
    if args[:1] in (["build"], ["run"], ["test"]):
        with dbt_progress(console, f"dbt {args[0]}") as on_line:
            dbt_runner.run_dbt(args, url, on_line=on_line)
    else:
        dbt_runner.run_dbt(args, url, on_line=lambda line: console.print(line, markup=False))


@app.command()
def transform() -> None:
    """Check every batch still waiting for its raw checks (KOI and TOI), then build the dbt
    models (staging → intermediate → marts) and run their tests."""
    from scoring.quality import gates
    from scoring.warehouse import locks, server

    url = server.prepare()
    with locks.pipeline_lock(url, "exohunter transform"):
        gates.gate_new_batches(url, lambda line: console.print(line, highlight=False))
        _run_dbt(["build"])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context) -> None:
    """Any dbt command against the current warehouse, e.g. `exohunter dbt docs generate`."""
    _run_dbt(list(ctx.args))


@app.command()
def run(
    dashboards: bool = typer.Option(
        False, "--dashboards", help="Then serve the Superset dashboards until Ctrl-C."
    ),
) -> None:
    """The whole pipeline: warehouse → ingest → checks → dbt build → checks → train → score →
    checks → anomalies → checks → light curves → marts."""
    from scoring import pipeline
    from scoring.dashboards import service as superset
    from scoring.warehouse import server

    # Ctrl-C stops what this command started; a warehouse that already ran keeps running.
    started_warehouse = not settings.external_database_url() and not (
        server.embedded().status().running
    )
    try:
        report = pipeline.run(console)
        if dashboards:
            with superset.served(report.url, superset.DEFAULT_PORT, console.print):
                superset.wait_until_interrupted(console.print)
    finally:
        if dashboards and started_warehouse:
            server.embedded().down()
            console.print("warehouse stopped (the data stays)")


@app.command()
def check(
    stage: str = typer.Argument(
        None,
        help="raw, features, predictions or anomalies (default: every stage that has data).",
        show_default=False,
    ),
    batch: int = typer.Option(
        None,
        help="Load batch to validate (default: the one the marts read; for predictions and "
        "anomalies, the one scored).",
    ),
    model: str = typer.Option(
        None, help="Model version (predictions: default the champion; anomalies: the latest)."
    ),
) -> None:
    """Run the data-quality checks (Great Expectations), record them in dq, build the Data Docs.

    Reports only: a failure changes no batch's status (the gates of `exohunter ingest` and
    `exohunter run` do). Exits with 1 when a critical expectation fails.
    """
    from scoring.console import dbt_progress
    from scoring.quality import gates, targets
    from scoring.warehouse import dbt_runner, locks, server

    if stage is not None and stage not in targets.STAGES:
        raise _fail(f"unknown stage {stage!r}: choose one of {', '.join(targets.STAGES)}")
    url = server.prepare()
    with locks.pipeline_lock(url, "exohunter check"):
        report = gates.check(
            url,
            [stage] if stage else None,
            batch_id=batch,
            model_version=model,
            say=lambda line: console.print(line, highlight=False),
        )
        if report.runs:
            with dbt_progress(console, "dbt build (data-quality marts)") as on_line:
                dbt_runner.run_dbt(["build", "--select", "tag:dq"], url, on_line=on_line)
    for reason in report.skipped:
        console.print(f"not checked: {reason}")
    if not report.runs:
        raise _fail("nothing to check yet: run `exohunter run` first")
    console.print(f"Data Docs: {report.data_docs}")
    console.print("Results: marts.fct_data_quality (dq.validation_runs, dq.validation_results)")
    if not report.critical_success:
        raise typer.Exit(code=1)


# -- ingest -------------------------------------------------------------------------------------
ingest_app = typer.Typer(
    help="Load NASA Exoplanet Archive exports into the warehouse's raw schema.",
    no_args_is_help=True,
)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("koi")
def ingest_koi(
    path_or_url: str | None = typer.Argument(
        None, help="A KOI cumulative table export (CSV), or an http(s) URL of one."
    ),
    from_archive: bool = typer.Option(
        False,
        "--from-archive",
        help="Download the whole table from the NASA Exoplanet Archive's TAP service.",
    ),
) -> None:
    """Load a KOI cumulative table export into raw.koi_cumulative as one load batch."""
    from scoring.ingest import tables

    _ingest_table(tables.KOI, path_or_url, from_archive)


@ingest_app.command("toi")
def ingest_toi(
    path_or_url: str | None = typer.Argument(
        None, help="A TESS Objects of Interest (TOI) table export (CSV), or an http(s) URL of one."
    ),
    from_archive: bool = typer.Option(
        False,
        "--from-archive",
        help="Download the whole table from the NASA Exoplanet Archive's TAP service.",
    ),
) -> None:
    """Load a TESS Objects of Interest table export into raw.toi as one load batch."""
    from scoring.ingest import tables

    _ingest_table(tables.TOI, path_or_url, from_archive)


def _ingest_table(table: TableSpec, path_or_url: str | None, from_archive: bool) -> None:
    """`exohunter ingest koi|toi`: load one export of ``table`` and say what was written."""
    from scoring.console import byte_progress
    from scoring.ingest import loader
    from scoring.warehouse import locks, server

    if from_archive == (path_or_url is not None):
        raise _fail("give either PATH_OR_URL or --from-archive (one of the two)")
    source = table.tap_url if from_archive else str(path_or_url)
    url = server.prepare()
    # The load and its raw checks under one hold of the lock: a run never sees the batch between.
    with locks.pipeline_lock(url, f"exohunter ingest {table.command}", shared=True):
        with byte_progress(console) as progress:
            result = loader.ingest(table, source, url=url, progress=progress, take_lock=False)
        if result.already_loaded:
            console.print(result.summary())
        else:
            _say_loaded(table, result)
        _gate_batch(url, result.batch_id)


def _say_loaded(table: TableSpec, result: LoadResult) -> None:
    how = {"copy": "COPY fast path", "checked": "row-checked path"}[result.method]
    snapshot = "from the file header" if result.snapshot_source == "header" else "load time"
    console.print(f"[bold green]loaded[/] batch {result.batch_id} from {result.source_uri}")
    console.print(f"  rows loaded:   {result.rows_loaded:,}")
    console.print(f"  rows rejected: {result.rows_rejected:,}")
    console.print(f"  snapshot:      {result.snapshot_at.isoformat()} ({snapshot})")
    if result.columns_missing:
        console.print(f"  missing, NULL: {', '.join(result.columns_missing)}")
    if result.columns_extra:
        console.print(f"  extra, kept in extra_columns: {', '.join(result.columns_extra)}")
    console.print(f"  time:          {result.seconds:.2f} s ({how})")
    if result.rows_rejected:
        console.print(
            f"  rejects:       select source_line, reason from raw.{table.rejects}"
            f" where load_batch_id = {result.batch_id}"
        )


def _gate_batch(url: str, batch_id: int) -> None:
    """The raw checks of a batch still waiting for them (the one just loaded, or a twin whose
    gate never ran): staging reads it only once they pass; a failure marks it failed_quality
    and exits 1."""
    from scoring.quality import gates, targets
    from scoring.warehouse import server

    with server.connect(url) as conn:
        if batch_id not in targets.ungated_batches(conn):
            return
    gates.gate(url, "raw", lambda line: console.print(line, highlight=False), batch_id=batch_id)
    console.print(
        f"[green]checked[/]: batch {batch_id} passed the raw checks; the next `exohunter "
        "transform` (or `run`) reads it if it is the table's latest snapshot"
    )


@ingest_app.command("lightcurve")
def ingest_lightcurve(
    files: Annotated[
        list[Path], typer.Argument(help="Kepler/K2/TESS FITS, CSV or JSON-lines files.")
    ],
    star_id: str = typer.Option(None, help="The star, e.g. 'KIC 8462852' (links KOIs)."),
    time_system: str = typer.Option(None, help="CSV time system: BKJD, BTJD, BJD, MJD."),
    analyse: bool = typer.Option(True, help="Search and score what was loaded."),
    separate: bool = typer.Option(
        False, "--separate", help="Several files: load each on its own instead of stitching."
    ),
) -> None:
    """Load light curves into raw (idempotent by sha256), then search and score them. Several
    files of one star (Kepler quarters, TESS sectors) are stitched into one light curve and one
    upload, each file normalised by its median flux; --separate loads each on its own."""
    from scoring.lightcurves import readers, stitch, store
    from scoring.warehouse import server

    if len(files) > 1 and not separate:
        named = [(str(path), readers.read_file(path)) for path in files]
        try:
            stitched = stitch.read_segments(named, time_system)
        except readers.LightCurveError as exc:
            raise readers.LightCurveError(
                f"{exc} (--separate loads each file on its own)"
            ) from None
        star = store.StarInput(star_id=star_id)
        with server.connect(server.prepare(), autocommit=True) as conn:
            if analyse:
                item, analysis = store.load_and_analyse_stitched(conn, stitched, "cli", star)
            else:
                item, analysis = store.load_stitched(conn, stitched, "cli", star), None
        _report_stitched(item, analysis)
        return
    with server.connect(server.prepare(), autocommit=True) as conn:
        for path in files:
            data = readers.read_file(path)
            star = store.StarInput(star_id=star_id)
            if analyse:
                done = store.load_and_analyse(conn, data, str(path), "cli", star, time_system)
            else:
                done = [
                    (item, None)
                    for item in store.load(conn, data, str(path), "cli", star, time_system)
                ]
            for item, analysis in done:
                _report_loaded(path, item, analysis)


def _report_loaded(path: Path, item: Loaded, analysis: Analysis | None) -> None:
    lc = item.lightcurve
    what = f"{path.name}{' ' + lc.series_key if lc.series_key else ''}"
    if item.upload_id is None:
        console.print(f"{what}: already loaded as light curve {item.lightcurve_id}: nothing to do")
        return
    console.print(
        f"[bold green]loaded[/] {what}: light curve {item.lightcurve_id}, {lc.mission} "
        f"{lc.target_id or ''} {lc.section or ''}, {lc.n_points:,} points "
        f"({lc.n_dropped_quality:,} flagged, {lc.n_dropped_nonfinite:,} NaN dropped), "
        f"{lc.span_days:.1f} d, {lc.flux_column}, {lc.time_system}"
    )
    if analysis is not None:
        _print_analysis(analysis)


def _report_stitched(item: Loaded, analysis: Analysis | None) -> None:
    lc, n = item.lightcurve, len(item.segments)
    if item.upload_id is None:
        console.print(
            f"these {n} files: already loaded as stitched light curve {item.lightcurve_id}: "
            "nothing to do"
        )
        return
    console.print(
        f"[bold green]stitched[/] {n} files into one light curve ({item.lightcurve_id}), one "
        f"upload ({item.upload_id}): {lc.mission} {lc.target_id or ''} {lc.section or ''}, "
        f"{lc.n_points:,} points ({lc.n_dropped_quality:,} flagged, {lc.n_dropped_nonfinite:,} "
        f"NaN dropped), {lc.span_days:.1f} d, {lc.time_system}; each file divided by its median"
    )
    for g in item.segments:
        console.print(
            f"  {g.number:>2}. {g.file_name} {g.section or ''}: {g.n_points:,} points, "
            f"{g.time_start:.2f}-{g.time_end:.2f}, median flux {g.median_flux:,.1f}"
        )
    if analysis is not None:
        _print_analysis(analysis)


def _print_analysis(a: Analysis) -> None:
    console.print(
        f"  searched in {a.search.timings['total_s']:.2f} s ({a.search.mode}, "
        f"{a.search.n_periods:,} trial periods); stellar parameters: {a.star.source}; "
        f"anomaly score {a.anomaly.score:.3f}"
    )
    for s, x, c in zip(a.search.signals, a.assessments, a.cnn_scores, strict=True):
        p = "-" if x.p_planet is None else f"{x.p_planet:.3f}"
        cnn = f"{c.p_pc:.3f}" if c.p_pc is not None else f"- ({c.note})"
        if x.p_planet is None:
            verdict = "no light-curve model yet (`exohunter lightcurves train`)"
        elif x.likely_planet:
            verdict = "LIKELY PLANET"
        else:
            verdict = "; ".join(x.flags) or "P(planet) < 0.5"
        console.print(
            f"  #{s.number} P = {s.period_days:.5f} d, depth {s.depth_ppm:,.0f} ppm, "
            f"{s.duration_hours:.2f} h, SNR {s.snr:.1f}, SDE {s.sde:.1f}: P(planet) {p} — {verdict}"
            f" (CNN P(PC) {cnn}, not in the verdict)"
        )


lightcurves_app = typer.Typer(
    help="Light curves: the signal classifier, analyses, the anomaly ranking.",
    no_args_is_help=True,
)
app.add_typer(lightcurves_app, name="lightcurves")


@lightcurves_app.command("train")
def lightcurves_train(
    force: bool = typer.Option(False, help="Retrain even if this exists."),
) -> None:
    """Train the light-curve P(planet) model on the KOI table (grouped nested CV), register it."""
    from scoring.lightcurves import model
    from scoring.warehouse import locks, server

    url = server.prepare()
    with (
        locks.pipeline_lock(url, "exohunter lightcurves train"),
        server.connect(url, autocommit=True) as conn,
    ):
        result = model.train(conn, console.status, force=force)
    if not result.created:
        console.print(f"model {result.model_version} is already trained: nothing to do")
        return
    for e in result.evaluations:
        console.print(f"{e.task}: ROC AUC {e.value('roc_auc'):.3f}, PR AUC {e.value('pr_auc'):.3f}")
    console.print(f"model {result.model_version}; card: {settings.home() / result.card_path}")


@lightcurves_app.command("analyse")
def lightcurves_analyse(
    every: bool = typer.Option(False, "--all", help="Re-analyse every upload, not only pending."),
) -> None:
    """Search and score the uploads not yet analysed by this search and model version."""
    from scoring.lightcurves import store
    from scoring.warehouse import locks, server

    url = server.prepare()
    with (
        locks.pipeline_lock(url, "exohunter lightcurves analyse"),
        server.connect(url, autocommit=True) as conn,
    ):
        ids = store.every_upload(conn) if every else store.pending(conn)
        for upload_id in ids:
            console.print(f"upload {upload_id}:")
            _print_analysis(store.analyse(conn, upload_id))
    console.print(f"{len(ids)} upload(s) analysed")


@lightcurves_app.command("ranking")
def lightcurves_ranking(limit: int = typer.Option(10, help="Rows to show.")) -> None:
    """Light curves by anomaly score, and the margin of the first star over the second."""
    from rich.table import Table

    from scoring.lightcurves import store
    from scoring.warehouse import server

    with server.connect(server.prepare()) as conn:
        rows = sorted(store.anomaly_ranking(conn), key=lambda r: -r["anomaly_score"])
    table = Table("rank", "score", "target", "file", "why")
    for rank, row in enumerate(rows[:limit], 1):
        table.add_row(
            str(rank),
            f"{row['anomaly_score']:.3f}",
            row["target"] or "-",
            f"{row['file_name']} {row['series_key']}".strip(),
            "; ".join(row["anomaly_reasons"][:2]),
        )
    console.print(table)
    first, margin = store.star_margin(rows)
    if first is not None:
        console.print(f"most anomalous star: {first}, ahead of the next star by {margin:.3f}")


cnn_app = typer.Typer(
    help="The light-curve CNN: AstroNet-style vetting of folded views (docs/cnn.md).",
    no_args_is_help=True,
)
app.add_typer(cnn_app, name="cnn")


@cnn_app.command("train")
def cnn_train(
    force: bool = typer.Option(False, help="Retrain even if this version exists."),
) -> None:
    """Train the CNN on the Yu et al. 2019 TESS views (paper and TIC-grouped splits), register
    it as the champion of lightcurve_cnn with its figures and model card."""
    from scoring.cnn import model_card, publish
    from scoring.warehouse import locks, server

    url = server.prepare()
    with (
        locks.pipeline_lock(url, "exohunter cnn train"),
        server.connect(url, autocommit=True) as conn,
    ):
        result = publish.train(conn, console.status, force=force)
    if not result.created:
        console.print(f"model {result.model_version} is already trained: nothing to do")
        return
    console.print(model_card.metrics_table(result.evaluations))
    console.print(f"model {result.model_version}; card: {settings.home() / result.card_path}")


bench_app = typer.Typer(
    help="Benchmarks, as ratios against baselines measured in the same run (scratch databases)."
)
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    scale_rows: int = typer.Option(1_000_000, help="Rows of the synthetic scale case."),
) -> None:
    """Benchmarks, as ratios against baselines measured in the same run (scratch databases).
    Without a subcommand: every benchmark."""
    if ctx.invoked_subcommand is not None:
        return
    from scoring.bench import runner as benchmarks

    benchmarks.run_all(scale_rows=scale_rows)


@bench_app.command("lightcurves")
def bench_lightcurves(
    only: Annotated[
        list[str] | None,
        typer.Option(help="Only the items whose name or file contains this (repeatable)."),
    ] = None,
) -> None:
    """ExoHunter's transit search, lightkurve's default BLS and TLS on the public light-curve
    benchmark, in one run: recovery first, then time."""
    from scoring.bench import lightcurves

    lightcurves.bench_lightcurves(only=only)


# -- models -------------------------------------------------------------------------------------
class Mission(StrEnum):
    kepler = "kepler"
    tess = "tess"


def _loaded_missions(conn: psycopg.Connection) -> list[Mission]:
    """The missions whose feature mart holds rows (in pipeline order)."""
    marts = {Mission.kepler: "marts.fct_koi_features", Mission.tess: "marts.fct_toi_features"}
    loaded = []
    for mission, table in marts.items():
        exists = conn.execute("select to_regclass(%s)", (table,)).fetchone()[0]
        if exists and conn.execute(f"select exists (select from {table})").fetchone()[0]:
            loaded.append(mission)
    return loaded


MISSION_OPTION = typer.Option(
    None, help="Only this mission's model (default: every mission whose table is loaded)."
)


@app.command()
def train(
    mission: Mission | None = MISSION_OPTION,
    force: bool = typer.Option(False, help="Retrain even if this version exists."),
    promote: bool = typer.Option(True, help="Make the new model the champion."),
) -> None:
    """Evaluate the candidates (grouped nested CV), fit and register the KOI classifier and the
    TOI classifier."""
    from scoring.classifier import toi_training, training
    from scoring.warehouse import locks, server

    url = server.prepare()
    with locks.pipeline_lock(url, "exohunter train"), server.connect(url, autocommit=True) as conn:
        missions = [mission] if mission else _loaded_missions(conn)
        if not missions:
            raise ExoHunterError(
                "no feature mart holds rows: run `exohunter ingest koi|toi` and "
                "`exohunter transform` first"
            )
        for each in missions:
            module = training if each is Mission.kepler else toi_training
            result = module.train(conn, console.print, console.status, force=force, promote=promote)
            if result.created:
                xgb = result.evaluation("p_planet", "xgboost")
                console.print(
                    f"{each.value} model {result.model_version}: ROC AUC "
                    f"{xgb.value('roc_auc'):.4f}, recall at precision ≥ 0.90 "
                    f"{xgb.value('recall_at_precision_0.90'):.3f} (grouped CV)"
                )
                console.print(f"model card: {settings.home() / result.card_path}")


@app.command("compare-missions")
def compare_missions(
    force: bool = typer.Option(False, help="Measure again even if these batches are compared."),
) -> None:
    """One model for Kepler and TESS, or two? Each mission alone, a joint model and the transfer
    both ways on the shared features; stored under the TOI champion (a few minutes)."""
    from scoring.classifier import mission_comparison
    from scoring.warehouse import locks, server

    url = server.prepare()
    with (
        locks.pipeline_lock(url, "exohunter compare-missions"),
        server.connect(url, autocommit=True) as conn,
    ):
        result = mission_comparison.compare(conn, console.print, console.status, force=force)
    if result.created:
        console.print(mission_comparison.table(result.evaluations))
        console.print(f"written: {settings.home() / result.report_path}")


@app.command()
def score(
    mission: Mission | None = MISSION_OPTION,
    model: str = typer.Option(None, help="Model version (default: the mission's champion)."),
) -> None:
    """Score every KOI (and TOI) of the latest batch; write predictions (and the KOIs'
    explanations) to ml."""
    from scoring.classifier import predict, toi_predict
    from scoring.warehouse import locks, server

    url = server.prepare()
    with locks.pipeline_lock(url, "exohunter score"), server.connect(url, autocommit=True) as conn:
        missions = [mission] if mission else _loaded_missions(conn)
        if model and len(missions) != 1:
            raise ExoHunterError("--model names one version: give its --mission too")
        for each in missions:
            module = predict if each is Mission.kepler else toi_predict
            console.print(f"{each.value}: {module.score(conn, model).summary()}")


@app.command()
def anomalies(
    budget: float = typer.Option(0.02, min=0.001, max=0.5, help="Share of KOIs to flag."),
    force: bool = typer.Option(False, help="Refit even if this version scored this batch."),
) -> None:
    """Flag unusual KOIs: the PyOD ensemble and the Bayesian outlier model, validated, into ml."""
    from scoring.anomalies import detect
    from scoring.warehouse import locks, server

    url = server.prepare()
    with (
        locks.pipeline_lock(url, "exohunter anomalies"),
        server.connect(url, autocommit=True) as conn,
    ):
        result = detect.detect(conn, console.print, budget=budget, force=force)
    console.print(result.summary())
    if result.card_path:
        console.print(f"model card: {settings.home() / result.card_path}")


@app.command()
def models() -> None:
    """List registered model versions with their headline metrics."""
    from rich.table import Table

    from scoring.ml import registry
    from scoring.warehouse import server

    with server.connect(server.prepare()) as conn:
        rows = registry.versions(conn)
    table = Table(
        "version", "task", "algorithm", "batch", "champion", "created", "ROC AUC", "recall @ P≥0.90"
    )
    for version, task, algorithm, batch, champion, created, auc, recall in rows:
        table.add_row(
            version,
            task,
            algorithm,
            str(batch),
            "★" if champion else "",
            f"{created:%Y-%m-%d %H:%M}",
            f"{auc:.4f}" if auc else "-",
            f"{recall:.3f}" if recall else "-",
        )
    console.print(table)


MISSION_NAMES = {Mission.kepler: "Kepler", Mission.tess: "TESS"}
TRACK_RECORD_MISSION = typer.Option(Mission.tess, help="Whose snapshots to compare.")


@app.command("track-record")
def track_record(
    mission: Mission = TRACK_RECORD_MISSION,
    model: str = typer.Option(None, help="Only this model version (default: every one)."),
) -> None:
    """How each model's old scores fared in the later snapshots: resolved since, ROC AUC,
    average precision, precision among the old top K, reliability (marts.fct_track_record)."""
    from scoring.ml import track_record as records
    from scoring.warehouse import server

    with server.connect(server.prepare()) as conn:
        found = records.load(conn, MISSION_NAMES[mission], model)
    for record in found:
        _print_track_record(record)


def _share(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_track_record(record: Record) -> None:
    from rich.table import Table

    console.print(
        f"[bold]{record.mission} model {record.model_version}[/] (trained on the "
        f"{record.training_snapshot_at:%Y-%m-%d} snapshot): its scores of the "
        f"{record.scored_snapshot_at:%Y-%m-%d} snapshot, judged by the "
        f"{record.later_snapshot_at:%Y-%m-%d} one"
    )
    figures = Table("figure", "value", show_header=False)
    figures.add_row("signals scored", f"{record.n_signals_scored:,}")
    figures.add_row("… unresolved then (counted)", f"{record.n_unresolved_scored:,}")
    figures.add_row("resolved since: planet", f"{record.n_resolved_planet:,}")
    figures.add_row("resolved since: false positive", f"{record.n_resolved_false_positive:,}")
    figures.add_row("still unresolved", f"{record.n_still_unresolved:,}")
    figures.add_row("absent from the later snapshot", f"{record.n_absent:,}")
    figures.add_row("ROC AUC on the resolved", _share(record.roc_auc, 4))
    figures.add_row("average precision on the resolved", _share(record.average_precision, 4))
    for k, among_resolved in record.precision_among_resolved.items():
        as_not = record.precision_unresolved_as_not_confirmed[k]
        figures.add_row(
            f"precision @ top {k}: among the resolved | unresolved as not confirmed",
            f"{_share(among_resolved)} | {_share(as_not)}",
        )
    console.print(figures)
    bins = Table("old P(planet)", "signals", "resolved", "confirmed", "mean P", "share confirmed")
    for b in record.reliability:
        bins.add_row(
            f"{b.p_planet_from:.1f} to {b.p_planet_to:.1f}",
            f"{b.n_signals:,}",
            f"{b.n_resolved:,}",
            f"{b.n_confirmed:,}",
            _share(b.mean_old_p_planet_resolved),
            _share(b.share_confirmed),
        )
    console.print(bins)


# -- reports ------------------------------------------------------------------------------------
@app.command()
def report(
    kois: Annotated[
        list[str] | None,
        typer.Argument(
            help="KOI names, e.g. K00752.01 (with --mission tess: TOIs, 1234.01 or TOI-1234.01).",
            show_default=False,
        ),
    ] = None,
    top: int = typer.Option(
        0, min=0, max=500, help="Also the N best-ranked CANDIDATE KOIs (PC TOIs for tess)."
    ),
    mission: Annotated[Mission, typer.Option(help="Kepler KOIs or TESS TOIs.")] = Mission.kepler,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the PDFs (default: $EXOHUNTER_HOME/reports).")
    ] = None,
) -> None:
    """Write a PDF discovery report per KOI (or TOI): P(planet) and its reasons, the star and the
    signal, the known population, anomaly and data-quality status, the light curve when there is
    one."""
    from scoring.reports import content, pdf
    from scoring.warehouse import server

    reader = content.READERS[mission.value]
    if not kois and not top:
        raise _fail(f"name at least one {reader.mission.kind}, or use --top N")
    folder = (out or settings.home() / "reports").resolve()
    try:
        with server.connect(server.prepare()) as conn:
            # Every name is checked before the first PDF is written: a typo makes nothing.
            names = reader.resolve(conn, list(kois or []))
            names += [n for n in reader.top(conn, top) if n not in names]
            if not names:
                raise _fail(
                    f"no {reader.mission.kind} is ranked yet (the {reader.mission.ranked}): run "
                    "`exohunter run` first"
                )
            for name in names:
                path = pdf.write(reader.load(conn, name), folder)
                console.print(f"[bold green]wrote[/] {path}")
    except OSError as exc:  # an unwritable --out: the reports written before it stay whole
        raise _fail(f"cannot write the report into {folder}: {exc.strerror or exc}") from exc


# -- API ----------------------------------------------------------------------------------------
@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0: all of them)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
) -> None:
    """Serve the scoring API (predictions, discoveries, live scoring); docs at /docs."""
    import uvicorn

    from scoring.warehouse import server
    from scoring.web import security
    from scoring.web.app import create_app

    server.database_url()  # starts the embedded warehouse; an external one is left alone
    console.print(f"ExoHunter API on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    # It answers to the name it listens on too, beside 127.0.0.1, localhost and
    # EXOHUNTER_ALLOWED_HOSTS.
    uvicorn.run(create_app(allowed_hosts=security.allowed_hosts(host)), host=host, port=port)


# -- dashboards ---------------------------------------------------------------------------------
dashboards_app = typer.Typer(
    help="Superset serving the dashboards kept as YAML in superset/assets.",
    no_args_is_help=True,
)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("up")
def dashboards_up(
    port: int = typer.Option(8088, help="TCP port on 127.0.0.1."),
) -> None:
    """Install Superset if missing, bootstrap it, import the dashboards and serve them."""
    from scoring.dashboards import service
    from scoring.warehouse import server

    service.up(server.prepare(), port, console.print)


@dashboards_app.command("down")
def dashboards_down() -> None:
    """Stop Superset (its metadata and the warehouse stay)."""
    from scoring.dashboards import service

    console.print("Superset stopped" if service.stop() else "Superset was not running")


@dashboards_app.command("status")
def dashboards_status() -> None:
    """Say whether Superset runs and answers /health."""
    from scoring.dashboards import service

    status = service.status()
    if not status.running:
        console.print("Superset: stopped")
        raise typer.Exit(code=3)
    health = "answers /health" if status.healthy else "does NOT answer /health"
    console.print(f"Superset: running (pid {status.pid}), {status.url}/ {health}")
    console.print(f"  log: {status.log_file}")
    if not status.healthy:
        raise typer.Exit(code=1)


@dashboards_app.command("export")
def dashboards_export(
    target: str | None = typer.Argument(
        None, help="Folder to write the YAML bundle into (default: superset/assets)."
    ),
) -> None:
    """Export the dashboards as Superset holds them now (after editing them in the UI)."""
    from scoring.dashboards import service

    folder = Path(target).resolve() if target else service.ASSETS_DIR
    service.export(folder, console.print)
