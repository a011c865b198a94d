"""Every suite run in the warehouse: one ``dq.validation_runs`` row and one
``dq.validation_results`` row per expectation, written in one transaction.

The two tables are written only here; ``marts.fct_data_quality`` (dbt) is what Superset shows
of them.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scoring.quality.validation import Outcome, SuiteRun, json_safe
from scoring.warehouse import writeback

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
        None if o.observed_value is None else Jsonb(json_safe(o.observed_value)),
        o.element_count,
        o.unexpected_count,
        o.unexpected_percent,
        Jsonb(json_safe(o.unexpected_values)) if o.unexpected_count is not None else None,
        Jsonb(json_safe(o.arguments)),
        o.description,
        o.exception_message,
    )
