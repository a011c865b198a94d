"""Data-quality gates: run the Great Expectations suites, record every result in ``dq``, and stop
the pipeline when a critical expectation fails.

- **The file context** is committed under ``expectations/``: the datasource, the suites of
  :mod:`scoring.quality.suites`, one validation definition and one checkpoint per suite. It holds no
  connection string and no path of this machine: the warehouse URL and the state directory
  (GX's validation results and the Data Docs, under ``$EXOHUNTER_HOME/dq``) are substituted at
  run time from ``${EXOHUNTER_GX_DATABASE_URL}`` and ``${EXOHUNTER_GX_STATE_DIR}``.
  :func:`setup` is get-or-create: it writes only what is missing or differs from the code, so it
  runs before every check and running it twice changes nothing.
- **One batch per run**: each suite validates one batch of its asset (a load batch, or a model
  version's scores of a load batch), chosen here with the values of the suite's parameters (the
  previous good batch's row count, the previous champion's figures, the anomaly budget).
- **Results in the warehouse**: every suite run writes one ``dq.validation_runs`` row and one
  ``dq.validation_results`` row per expectation, in one transaction.
- **Gates** (:func:`gate`, used by ``exohunter run``): a critical failure marks the raw batch
  ``failed_quality`` (staging then keeps reading the latest good batch) and raises
  :class:`QualityGateError`, whose message names the expectation, the column and sample values.
  Warnings are printed and recorded, never fatal. ``exohunter check`` (:func:`check`) reports
  and records without changing any batch's status.

Great Expectations is imported on first use (it takes seconds), so that the pipeline's stage
timings include it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb
from rich.console import Console

from scoring import settings
from scoring.errors import ExoHunterError
from scoring.ml import registry
from scoring.warehouse import server, writeback

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.data_context import FileDataContext

    from scoring.quality.suites import Suite

EXPECTATIONS_DIR = settings.PROJECT_ROOT / "expectations"
DATASOURCE = "warehouse"
URL_VARIABLE = "EXOHUNTER_GX_DATABASE_URL"
STATE_VARIABLE = "EXOHUNTER_GX_STATE_DIR"
STAGES = ("raw", "features", "predictions", "anomalies")
UNEXPECTED_SAMPLE = 5
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": UNEXPECTED_SAMPLE}
#: The anomaly detector's contamination budget: the share of KOIs it may flag (issue 4: 2 %).
ANOMALY_BUDGET = 0.02
FAILED_STATUS = "failed_quality"

RESULT_COLUMNS = (
    "validation_run_id",
    "expectation_key",
    "expectation_type",
    "column_name",
    "is_critical",
    "success",
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_values",
    "arguments",
    "description",
    "exception_message",
)


class QualityError(ExoHunterError):
    """A check cannot run: nothing to validate, or an unknown stage, batch or model."""


class QualityGateError(ExoHunterError):
    """A critical expectation failed; the message says which, on which column, with samples."""

    def __init__(self, message: str, runs: Sequence[SuiteRun]):
        super().__init__(message)
        self.runs = list(runs)


# -- what one run found -------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """The batch a suite validates and the values of the suite's parameters."""

    suite_name: str
    stage: str
    batch: dict[str, Any]  # GX batch parameters, e.g. {"load_batch_id": 2}
    parameters: dict[str, Any]  # GX suite parameters
    load_batch_id: int | None
    model_version: str | None = None

    def describe(self) -> str:
        if self.model_version is None:
            return f"load batch {self.load_batch_id}"
        return f"model {self.model_version} on load batch {self.load_batch_id}"


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, as recorded in ``dq.validation_results``."""

    key: str
    expectation_type: str
    column: str | None
    critical: bool
    success: bool
    observed_value: Any
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    unexpected_values: list[Any]
    arguments: dict[str, Any]
    description: str
    exception_message: str | None

    def summary(self) -> str:
        """One line: which expectation, which column, what was found."""
        where = f", column {self.column}" if self.column else ""
        return f"{self.key} ({self.expectation_type}{where}): {self.finding()}"

    def finding(self) -> str:
        if self.exception_message:
            return f"could not be evaluated: {self.exception_message.splitlines()[0]}"
        if self.unexpected_count is not None:
            share = f" ({self.unexpected_percent:.2f} %)" if self.unexpected_percent else ""
            # distinct values, in order; NULLs say nothing a not-null expectation has not said
            sample = ", ".join(
                dict.fromkeys(_short(v) for v in self.unexpected_values if v is not None)
            )
            return (
                f"{self.unexpected_count:,} of {self.element_count or 0:,} values unexpected"
                f"{share}" + (f", e.g. {sample}" if sample else "")
            )
        return f"observed {_short(self.observed_value)}, expected {self.expected()}"

    def expected(self) -> str:
        args = self.arguments
        if "value" in args:
            return _short(args["value"])
        if "threshold" in args:
            return f"below {_short(args['threshold'])}"
        low, high = args.get("min_value"), args.get("max_value")
        low_text = "-inf" if low is None else _short(low)
        high_text = "inf" if high is None else _short(high)
        return f"{low_text} to {high_text}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class SuiteRun:
    run_id: uuid.UUID
    target: Target
    relation: str
    started_at: datetime
    finished_at: datetime
    outcomes: list[Outcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def critical_success(self) -> bool:
        return not self.critical_failures

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.critical and not o.success]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.critical and not o.success]


@dataclass
class CheckReport:
    runs: list[SuiteRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a suite or stage did not run
    data_docs: Path | None = None

    @property
    def critical_success(self) -> bool:
        return all(run.critical_success for run in self.runs)


# -- the Great Expectations context -------------------------------------------------------------
def state_dir() -> Path:
    """Where GX keeps validation results and builds the Data Docs (never in git)."""
    path = settings.home() / "dq"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_docs_index() -> Path:
    return state_dir() / "data_docs" / "index.html"


def sqlalchemy_url(url: str) -> str:
    """The warehouse URL in SQLAlchemy's spelling, with the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise QualityError(f"not a PostgreSQL URL: {server.mask_password(url)}")
    return f"postgresql+psycopg://{rest}"


def open_context(url: str, root: Path = EXPECTATIONS_DIR) -> FileDataContext:
    """The file context under ``root``, its variables bound to this warehouse and home."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx.get_context(
        mode="file",
        context_root_dir=str(root),
        runtime_environment={URL_VARIABLE: sqlalchemy_url(url), STATE_VARIABLE: str(state_dir())},
    )


def setup(context: FileDataContext) -> list[str]:
    """Get-or-create the datasource, assets, suites, validation definitions and checkpoints.

    Writes only what is missing or differs from :mod:`scoring.quality.suites`; returns what it
    wrote.
    """
    from scoring.quality import suites

    written: list[str] = []
    datasource = _datasource(context, written)
    for spec in suites.SUITES:
        batch_definition = _batch_definition(datasource, spec, written)
        # a validation definition stores its batch definition's id: renew it with the latter
        new_batches = f"batch definition {spec.batch_definition_path}" in written
        suite = _suite(context, spec, written)
        validation = _validation_definition(
            context, spec.name, batch_definition, suite, new_batches, written
        )
        _checkpoint(context, spec.name, validation, written)
    return written


def _datasource(context: FileDataContext, written: list[str]) -> Any:
    try:
        return context.data_sources.get(DATASOURCE)
    except KeyError:
        written.append(f"datasource {DATASOURCE}")
        return context.data_sources.add_postgres(
            DATASOURCE, connection_string="${" + URL_VARIABLE + "}"
        )


def _batch_definition(datasource: Any, spec: Suite, written: list[str]) -> Any:
    from great_expectations.core.partitioners import (
        PartitionerColumnValue,
        PartitionerMultiColumnValue,
    )

    try:
        asset = datasource.get_asset(spec.asset_name)
    except LookupError:
        asset = None
    if asset is not None and getattr(asset, "query", None) != spec.query:
        datasource.delete_asset(spec.asset_name)
        asset = None
    if asset is None:
        asset = datasource.add_query_asset(spec.asset_name, query=spec.query)
        written.append(f"asset {spec.asset_name}")
    try:
        return asset.get_batch_definition(spec.batch_definition_name)
    except KeyError:
        written.append(f"batch definition {spec.batch_definition_path}")
    if not spec.batch_columns:
        return asset.add_batch_definition_whole_table(spec.batch_definition_name)
    # GX's SQL partitioners by column value: the convenience methods only offer date columns.
    partitioner = (
        PartitionerColumnValue(column_name=spec.batch_columns[0])
        if len(spec.batch_columns) == 1
        else PartitionerMultiColumnValue(column_names=list(spec.batch_columns))
    )
    return asset.add_batch_definition(
        spec.batch_definition_name, partitioner=partitioner, validate_partitioner=False
    )


def _suite(context: FileDataContext, spec: Suite, written: list[str]) -> Any:
    import great_expectations as gx

    wanted = gx.ExpectationSuite(
        name=spec.name, expectations=[copy.copy(e) for e in spec.expectations]
    )
    try:
        suite = context.suites.get(spec.name)
    except gx.exceptions.DataContextError:
        suite = None
    if suite is not None and _suite_shape(suite) == _suite_shape(wanted):
        return suite
    written.append(f"suite {spec.name}")
    return context.suites.add_or_update(wanted)


def _validation_definition(
    context: FileDataContext,
    name: str,
    batch_definition: Any,
    suite: Any,
    new_batches: bool,
    written: list[str],
) -> Any:
    import great_expectations as gx

    try:
        existing = context.validation_definitions.get(name)
    except gx.exceptions.DataContextError:
        existing = None
    if existing is not None and not new_batches and existing.suite.id == suite.id:
        return existing
    written.append(f"validation definition {name}")
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )


def _checkpoint(context: FileDataContext, name: str, validation: Any, written: list[str]) -> None:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    wanted = gx.Checkpoint(
        name=name,
        validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="update_data_docs")],
        result_format=RESULT_FORMAT,
    )
    try:
        existing = context.checkpoints.get(name)
    except gx.exceptions.DataContextError:
        existing = None
    if existing is None or _checkpoint_shape(existing) != _checkpoint_shape(wanted):
        written.append(f"checkpoint {name}")
        context.checkpoints.add_or_update(wanted)


def _suite_shape(suite: Any) -> list[str]:
    """A suite's expectations, without the ids GX gives them (its own equality compares ids)."""
    return sorted(
        json.dumps(_without_id(e.configuration.to_json_dict()), sort_keys=True)
        for e in suite.expectations
    )


def _without_id(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "id"}


def _checkpoint_shape(checkpoint: Any) -> tuple[Any, ...]:
    """What a checkpoint does, without the ids GX gives it."""
    return (
        [v.name for v in checkpoint.validation_definitions],
        [(a.type, a.name) for a in checkpoint.actions],
        checkpoint.result_format,
    )


# -- which batch each suite validates -----------------------------------------------------------
def _latest_good_batch(conn: psycopg.Connection) -> int | None:
    """The KOI batch staging reads: status loaded, latest snapshot, then latest load."""
    row = conn.execute(
        """select load_batch_id from raw.load_batches
            where source_table = 'koi_cumulative' and status = 'loaded'
            order by snapshot_at desc, load_batch_id desc limit 1"""
    ).fetchone()
    return row[0] if row else None


def _batch_rows(conn: psycopg.Connection, batch_id: int) -> int:
    row = conn.execute(
        "select rows_loaded from raw.load_batches where load_batch_id = %s", (batch_id,)
    ).fetchone()
    if row is None:
        raise QualityError(f"there is no load batch {batch_id}: see raw.load_batches")
    return row[0]


def raw_target(conn: psycopg.Connection, batch_id: int | None = None) -> Target:
    """A KOI batch (default: the one staging reads), sized against the previous good batch."""
    from scoring.quality import suites

    if batch_id is None:
        batch_id = _latest_good_batch(conn)
        if batch_id is None:
            raise QualityError("no KOI batch loaded yet: run `exohunter ingest koi` first")
    row = conn.execute(
        "select source_table from raw.load_batches where load_batch_id = %s", (batch_id,)
    ).fetchone()
    if row is None or row[0] != "koi_cumulative":
        raise QualityError(f"load batch {batch_id} is not a KOI cumulative batch")
    previous = conn.execute(
        """select load_batch_id, rows_loaded + rows_rejected from raw.load_batches
            where source_table = 'koi_cumulative' and status = 'loaded' and load_batch_id < %s
            order by load_batch_id desc limit 1""",
        (batch_id,),
    ).fetchone()
    if previous is None:
        parameters: dict[str, Any] = {"min_rows": 1, "max_rows": None}
    else:
        tolerance = suites.ROW_COUNT_TOLERANCE
        parameters = {
            "previous_load_batch_id": previous[0],
            "min_rows": math.floor(previous[1] * (1 - tolerance)),
            "max_rows": math.ceil(previous[1] * (1 + tolerance)),
        }
    return Target("raw_koi_batch", "raw", {"load_batch_id": batch_id}, parameters, batch_id)


def features_target(conn: psycopg.Connection) -> Target:
    """The feature mart as it stands (one batch, the latest good one)."""
    if conn.execute("select to_regclass('marts.fct_koi_features')").fetchone()[0] is None:
        raise QualityError("marts.fct_koi_features does not exist yet: run `exohunter transform`")
    row = conn.execute("select max(load_batch_id) from marts.fct_koi_features").fetchone()
    if row[0] is None:
        raise QualityError("marts.fct_koi_features is empty: run `exohunter run` first")
    batch_id = row[0]
    return Target(
        "koi_features", "features", {}, {"batch_rows": _batch_rows(conn, batch_id)}, batch_id
    )


def prediction_targets(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> tuple[list[Target], list[str]]:
    """The predictions suite and, when there is a previous champion, the drift suite.

    Default: the champion's scores of the batch the feature mart holds (else its latest).
    Returns the targets and why a suite was left out.
    """
    model_version = model_version or registry.champion(conn, registry.KOI_CLASSIFIER)
    if model_version is None:
        raise QualityError("no champion model yet: run `exohunter train` first")
    batch_id = batch_id or _scored_batch(conn, model_version)
    stats = _prediction_stats(conn, model_version, batch_id)
    if stats is None:
        raise QualityError(f"model {model_version} has no predictions for load batch {batch_id}")
    batch = {"model_version": model_version, "load_batch_id": batch_id}
    targets = [
        Target(
            "koi_predictions",
            "predictions",
            batch,
            {"batch_rows": _batch_rows(conn, batch_id)},
            batch_id,
            model_version,
        )
    ]
    reference = _previous_champion(conn, model_version, batch_id)
    if reference is None:
        return targets, [f"koi_prediction_drift: no model before {model_version} to compare with"]
    targets.append(
        Target(
            "koi_prediction_drift",
            "predictions",
            batch,
            _drift_parameters(conn, *reference),
            batch_id,
            model_version,
        )
    )
    return targets, []


def _scored_batch(conn: psycopg.Connection, model_version: str) -> int:
    row = conn.execute(
        """select p.load_batch_id
             from ml.koi_predictions as p
             left join (select max(load_batch_id) as load_batch_id
                          from marts.fct_koi_features) as f using (load_batch_id)
            where p.model_version = %s
            group by p.load_batch_id, f.load_batch_id
            order by f.load_batch_id is not null desc, p.load_batch_id desc
            limit 1""",
        (model_version,),
    ).fetchone()
    if row is None:
        raise QualityError(f"model {model_version} has scored nothing yet: run `exohunter score`")
    return row[0]


def _prediction_stats(
    conn: psycopg.Connection, model_version: str, batch_id: int
) -> dict[str, Any] | None:
    """Figures the drift suite compares: the candidate planet share, mean and histogram of
    P(planet) (equal bins on [0, 1], the last one closed)."""
    from scoring.quality import suites

    rows = conn.execute(
        """select least(width_bucket(p_planet, 0, 1, %(bins)s), %(bins)s) as bin, count(*),
                  sum(candidate_predicted_planet), count(candidate_predicted_planet),
                  sum(p_planet)
             from dq.koi_prediction_records
            where model_version = %(model)s and load_batch_id = %(batch)s
            group by 1""",
        {"bins": suites.P_PLANET_BINS, "model": model_version, "batch": batch_id},
    ).fetchall()
    n = sum(row[1] for row in rows)
    if not n:
        return None
    counts = dict.fromkeys(range(1, suites.P_PLANET_BINS + 1), 0)
    counts.update({row[0]: row[1] for row in rows})
    candidates = sum(row[3] for row in rows)
    return {
        "candidate_planet_share": sum(row[2] or 0 for row in rows) / candidates
        if candidates
        else 0.0,
        "p_planet_mean": sum(row[4] for row in rows) / n,
        "histogram": {
            "bins": [i / suites.P_PLANET_BINS for i in range(suites.P_PLANET_BINS + 1)],
            "weights": [counts[i] / n for i in sorted(counts)],
        },
    }


def _previous_champion(
    conn: psycopg.Connection, model_version: str, batch_id: int
) -> tuple[str, int] | None:
    """The latest model of the same task registered before this one that has scores (its
    scores of the same batch if it has them): the champion this one replaced."""
    row = conn.execute(
        """select p.model_version, p.load_batch_id
             from ml.koi_predictions as p
             join ml.model_registry as r using (model_version)
             join ml.model_registry as current
               on current.model_version = %s and current.task = r.task
            where r.created_at < current.created_at
            group by p.model_version, p.load_batch_id, r.created_at
            order by r.created_at desc, p.load_batch_id = %s desc, p.load_batch_id desc
            limit 1""",
        (model_version, batch_id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def _drift_parameters(
    conn: psycopg.Connection, reference_version: str, reference_batch: int
) -> dict[str, Any]:
    from scoring.quality import suites

    stats = _prediction_stats(conn, reference_version, reference_batch)
    assert stats is not None  # the reference was chosen among models with predictions

    def around(value: float, tolerance: float) -> tuple[float, float]:
        return max(0.0, value - tolerance), min(1.0, value + tolerance)

    share = stats["candidate_planet_share"]
    share_min, share_max = around(share, suites.CANDIDATE_PLANET_SHARE_LIMIT)
    warn_min, warn_max = around(share, suites.CANDIDATE_PLANET_SHARE_TOLERANCE)
    mean_min, mean_max = around(stats["p_planet_mean"], suites.P_PLANET_MEAN_LIMIT)
    return {
        "reference_model_version": reference_version,
        "reference_load_batch_id": reference_batch,
        "candidate_planet_share_min": share_min,
        "candidate_planet_share_max": share_max,
        "candidate_planet_share_warn_min": warn_min,
        "candidate_planet_share_warn_max": warn_max,
        "p_planet_mean_min": mean_min,
        "p_planet_mean_max": mean_max,
        "p_planet_reference_histogram": stats["histogram"],
    }


def anomaly_target(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> Target:
    """An anomaly model's scores of a batch (default: the latest scored)."""
    from scoring.quality import suites

    row = conn.execute(
        """select model_version, load_batch_id from ml.koi_anomalies
            where (%(model)s::text is null or model_version = %(model)s)
              and (%(batch)s::bigint is null or load_batch_id = %(batch)s)
            order by scored_at desc limit 1""",
        {"model": model_version, "batch": batch_id},
    ).fetchone()
    if row is None:
        raise QualityError("no anomaly scores to validate in ml.koi_anomalies")
    return Target(
        "koi_anomalies",
        "anomalies",
        {"model_version": row[0], "load_batch_id": row[1]},
        {
            "flagged_share_min": max(0.0, ANOMALY_BUDGET - suites.ANOMALY_SHARE_TOLERANCE),
            "flagged_share_max": ANOMALY_BUDGET + suites.ANOMALY_SHARE_TOLERANCE,
        },
        row[1],
        row[0],
    )


def targets_for(
    conn: psycopg.Connection,
    stage: str,
    batch_id: int | None = None,
    model_version: str | None = None,
) -> tuple[list[Target], list[str]]:
    """The suites a stage runs, with their batches; and why a suite was left out."""
    if stage == "raw":
        return [raw_target(conn, batch_id)], []
    if stage == "features":
        return [features_target(conn)], []
    if stage == "predictions":
        return prediction_targets(conn, model_version, batch_id)
    if stage == "anomalies":
        return [anomaly_target(conn, model_version, batch_id)], []
    raise QualityError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")


# -- running a suite ----------------------------------------------------------------------------
def validate(context: FileDataContext, target: Target) -> SuiteRun:
    """Run the target's checkpoint on its batch (also updating the Data Docs)."""
    from scoring.quality import suites

    spec = suites.suite(target.suite_name)
    checkpoint = context.checkpoints.get(spec.name)
    started = datetime.now(UTC)
    result = checkpoint.run(batch_parameters=target.batch, expectation_parameters=target.parameters)
    finished = datetime.now(UTC)
    (validation,) = result.run_results.values()
    order = {suites.key_of(e): i for i, e in enumerate(spec.expectations)}
    outcomes = sorted(
        (_outcome(r) for r in validation.results), key=lambda o: order.get(o.key, len(order))
    )
    return SuiteRun(uuid.uuid4(), target, spec.relation, started, finished, outcomes)


def _outcome(result: ExpectationValidationResult) -> Outcome:
    data = result.to_json_dict()
    config = data["expectation_config"]
    arguments = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    found = data.get("result") or {}
    # the raw values: GX's JSON turns NaN, the very thing a finiteness check finds, into null
    unexpected = (result.result or {}).get("partial_unexpected_list") or []
    exception = data.get("exception_info") or {}
    return Outcome(
        key=config["meta"]["key"],
        expectation_type=config["type"],
        column=arguments.get("column"),
        critical=config.get("severity", "critical") == "critical",
        success=bool(data["success"]),
        observed_value=found.get("observed_value"),
        element_count=found.get("element_count"),
        unexpected_count=found.get("unexpected_count"),
        unexpected_percent=found.get("unexpected_percent"),
        unexpected_values=[_plain(v) for v in unexpected[:UNEXPECTED_SAMPLE]],
        arguments=arguments,
        description=config.get("description") or "",
        exception_message=exception.get("exception_message")
        if exception.get("raised_exception")
        else None,
    )


def record(conn: psycopg.Connection, run: SuiteRun, triggered_by: str) -> None:
    """Write the run and its results in one transaction."""
    target = run.target
    with conn.transaction():
        conn.execute(
            """insert into dq.validation_runs (validation_run_id, stage, suite_name, data_asset,
                   load_batch_id, model_version, parameters, triggered_by, started_at,
                   finished_at, success, critical_success)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                run.run_id,
                target.stage,
                target.suite_name,
                run.relation,
                target.load_batch_id,
                target.model_version,
                Jsonb(target.parameters),
                triggered_by,
                run.started_at,
                run.finished_at,
                run.success,
                run.critical_success,
            ),
        )
        writeback.replace_rows(
            conn,
            "dq.validation_results",
            {"validation_run_id": run.run_id},
            RESULT_COLUMNS,
            (_result_row(run.run_id, outcome) for outcome in run.outcomes),
        )


def _result_row(run_id: uuid.UUID, o: Outcome) -> tuple[Any, ...]:
    return (
        run_id,
        o.key,
        o.expectation_type,
        o.column,
        o.critical,
        o.success,
        None if o.observed_value is None else Jsonb(_json_safe(o.observed_value)),
        o.element_count,
        o.unexpected_count,
        o.unexpected_percent,
        Jsonb(_json_safe(o.unexpected_values)) if o.unexpected_count is not None else None,
        Jsonb(_json_safe(o.arguments)),
        o.description,
        o.exception_message,
    )


def _plain(value: Any) -> Any:
    """A value as JSON holds it: numbers, text, booleans; NaN and infinities spelled out."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return _json_safe(value)
    return str(value)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity (jsonb refuses them), and they are what a check may find."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


@contextmanager
def _context(url: str) -> Iterator[FileDataContext]:
    """The set-up context; its database connections closed afterwards."""
    context = open_context(url)
    setup(context)
    try:
        yield context
    finally:
        datasource = context.data_sources.get(DATASOURCE)
        datasource.get_execution_engine().engine.dispose()


def check(
    url: str,
    stages: Sequence[str] | None = None,
    *,
    batch_id: int | None = None,
    model_version: str | None = None,
    triggered_by: str = "check",
    console: Console | None = None,
) -> CheckReport:
    """Validate and record the given stages (default: every stage that has data)."""
    console = console or Console(quiet=True)
    report = CheckReport()
    with server.connect(url, autocommit=True) as conn:
        targets: list[Target] = []
        for stage in stages or STAGES:
            try:
                found, skipped = targets_for(conn, stage, batch_id, model_version)
            except QualityError as exc:
                if stages:
                    raise
                report.skipped.append(f"{stage}: {exc}")
                continue
            targets += found
            report.skipped += skipped
        if not targets:
            return report
        with _context(url) as context:
            for target in targets:
                run = validate(context, target)
                record(conn, run, triggered_by)
                report.runs.append(run)
                print_run(run, console)
    report.data_docs = data_docs_index()
    return report


def print_run(run: SuiteRun, console: Console) -> None:
    failed_critical, warnings = run.critical_failures, run.warnings
    verdict = (
        "[bold red]FAILED[/]"
        if failed_critical
        else ("[yellow]passed with warnings[/]" if warnings else "[green]passed[/]")
    )
    seconds = (run.finished_at - run.started_at).total_seconds()
    console.print(
        f"{run.target.suite_name} on {run.target.describe()}: {verdict} — "
        f"{len(run.outcomes) - len(failed_critical) - len(warnings)}/{len(run.outcomes)} "
        f"expectations met, {len(failed_critical)} critical failed, {len(warnings)} warnings "
        f"({seconds:.1f} s)"
    )
    for outcome in failed_critical:
        console.print(f"  [red]critical[/] {outcome.summary()}", highlight=False)
    for outcome in warnings:
        console.print(f"  [yellow]warning[/]  {outcome.summary()}", highlight=False)


# -- gates --------------------------------------------------------------------------------------
#: What stays in place when a stage's gate fails, for the message.
_KEPT = {
    "raw": "staging, the marts and the predictions keep reading the last good batch",
    "features": "the marts are rebuilt from the last good batch; the predictions are untouched",
    "predictions": "the marts over the scores are not rebuilt: the dashboards keep the "
    "previous predictions",
    "anomalies": "the marts over the anomaly scores are not rebuilt",
}


def gate(
    url: str,
    stage: str,
    console: Console,
    *,
    batch_id: int | None = None,
    model_version: str | None = None,
) -> CheckReport:
    """Validate a stage for ``exohunter run``; raise :class:`QualityGateError` on a critical
    failure. A raw or feature batch that fails is marked ``failed_quality``; one that passes
    (again) is ``loaded``."""
    report = check(
        url,
        [stage],
        batch_id=batch_id,
        model_version=model_version,
        triggered_by="run",
        console=console,
    )
    failed = [run for run in report.runs if not run.critical_success]
    if stage in ("raw", "features"):
        (run,) = report.runs
        with server.connect(url, autocommit=True) as conn:
            _set_batch_status(
                conn, run.target.load_batch_id, _status_reason(run) if failed else None
            )
    if failed:
        raise QualityGateError(gate_message(stage, failed, report.data_docs), failed)
    return report


def _set_batch_status(conn: psycopg.Connection, batch_id: int | None, reason: str | None) -> None:
    """The gate's verdict on a raw batch: the one write outside ``dq``, in the status column
    ingest reserves for it (staging reads only batches that are ``loaded``)."""
    conn.execute(
        """update raw.load_batches set status = %(status)s, status_reason = %(reason)s
            where load_batch_id = %(batch)s
              and (status, status_reason) is distinct from (%(status)s, %(reason)s)""",
        {"status": FAILED_STATUS if reason else "loaded", "reason": reason, "batch": batch_id},
    )


def _status_reason(run: SuiteRun) -> str:
    failed = ", ".join(
        f"{o.key} ({o.column})" if o.column else o.key for o in run.critical_failures
    )
    return f"{run.target.suite_name}: {failed} (dq.validation_runs {run.run_id})"


def gate_message(stage: str, failed: Sequence[SuiteRun], data_docs: Path | None) -> str:
    lines = []
    for run in failed:
        count = len(run.critical_failures)
        lines.append(
            f"data-quality gate failed: {run.target.suite_name} on {run.target.describe()}, "
            f"{count} critical expectation{'s' if count > 1 else ''} failed:"
        )
        lines += [f"  {outcome.summary()}" for outcome in run.critical_failures]
    run = failed[0]
    if stage in ("raw", "features"):
        lines.append(
            f"Load batch {run.target.load_batch_id} stays in raw, marked {FAILED_STATUS}; "
            f"{_KEPT[stage]}."
        )
    else:
        lines.append(f"The pipeline stopped: {_KEPT[stage]}.")
    ids = ", ".join(f"'{r.run_id}'" for r in failed)
    lines.append(f"Details: select * from dq.validation_results where validation_run_id in ({ids})")
    if data_docs is not None:
        lines.append(f"Data Docs: {data_docs}")
    return "\n".join(lines)
