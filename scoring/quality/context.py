"""The Great Expectations file context under ``expectations/``: opened for one warehouse, set up
get-or-create from :mod:`scoring.quality.suites`.

The committed context holds the datasource, the suites, one validation definition and one
checkpoint per suite, and no connection string or path of this machine: the warehouse URL and the
state directory (GX's validation results and the Data Docs, under ``$EXOHUNTER_HOME/dq``) are
substituted at run time from ``${EXOHUNTER_GX_DATABASE_URL}`` and ``${EXOHUNTER_GX_STATE_DIR}``.
:func:`setup` writes only what is missing or differs from the code, so it runs before every check
and running it twice changes nothing.

Great Expectations is imported on first use (it takes seconds), so that the pipeline's stage
timings include it and the CLI starts without it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoring import settings
from scoring.quality.errors import QualityError
from scoring.warehouse import server

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

    from scoring.quality.suites import Suite

EXPECTATIONS_DIR = settings.PROJECT_ROOT / "expectations"
DATASOURCE = "warehouse"
URL_VARIABLE = "EXOHUNTER_GX_DATABASE_URL"
STATE_VARIABLE = "EXOHUNTER_GX_STATE_DIR"
#: How many unexpected values a checkpoint keeps per expectation (and ``dq`` records).
UNEXPECTED_SAMPLE = 5
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": UNEXPECTED_SAMPLE}


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


@contextmanager
def opened(url: str) -> Iterator[FileDataContext]:
    """The committed context, set up; its database connections closed afterwards."""
    context = open_context(url)
    setup(context)
    try:
        yield context
    finally:
        datasource = context.data_sources.get(DATASOURCE)
        datasource.get_execution_engine().engine.dispose()


# -- get-or-create --------------------------------------------------------------------------------
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
