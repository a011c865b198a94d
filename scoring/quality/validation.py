"""One suite run: the target's checkpoint run on its batch, and what each expectation found.

:func:`validate` runs a checkpoint of the set-up context (:mod:`scoring.quality.context`) and
reads GX's result into :class:`Outcome` rows, in the suite's order, with their sample values
as JSON holds them; :class:`SuiteRun` is what :mod:`scoring.quality.record` writes and the gates
judge.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scoring.quality.context import UNEXPECTED_SAMPLE
from scoring.quality.targets import Target

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.data_context import FileDataContext


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
        if high is None:
            return f"at least {_short(low)}"
        if low is None:
            return f"at most {_short(high)}"
        return f"{_short(low)} to {_short(high)}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class SuiteRun:
    """One suite's checkpoint run on one target, and what each expectation found."""

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


def _plain(value: Any) -> Any:
    """A value as JSON holds it: numbers, text, booleans; NaN and infinities spelled out."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return json_safe(value)
    return str(value)


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity (jsonb refuses them), and they are what a check may find."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value
