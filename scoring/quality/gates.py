"""Data-quality gates: run a stage's suites, record every result in ``dq``, and stop the pipeline
when a critical expectation fails.

- :func:`check` (``exohunter check``) validates the stages' targets
  (:mod:`scoring.quality.targets`) with the set-up file context (:mod:`scoring.quality.context`),
  records each run (:mod:`scoring.quality.record`) and says one line per run and per failed
  expectation; it changes no batch's status.
- :func:`gate` (used by ``exohunter run``): a critical failure marks the raw batch
  ``failed_quality`` (staging then keeps reading the latest good batch) and raises
  :class:`~scoring.quality.errors.QualityGateError`, whose message names the expectation, the
  column and sample values. Warnings are said and recorded, never fatal.
- :func:`gate_new_batches`: the raw gate on every batch waiting for it (KOI and TOI, status
  ``pending_checks``), whoever loaded it, before staging may read it.

Presentation is the caller's: ``say`` (:mod:`scoring.progress`) gets each line in rich console
markup (``[red]...[/]``); the CLI and the pipeline print it without rich's highlighting, so the
sample values keep their plain colour. By default nothing is said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from scoring.progress import Say, quiet
from scoring.quality import context, record, targets
from scoring.quality.errors import QualityError, QualityGateError
from scoring.quality.validation import SuiteRun, validate
from scoring.warehouse import server

FAILED_STATUS = "failed_quality"
#: What stays in place when a stage's gate fails, for the message.
_KEPT = {
    "raw": "staging, the marts and the predictions keep reading the last good batch",
    "features": "the marts are rebuilt from the last good batch; the predictions are untouched",
    "predictions": "the marts over the scores are not rebuilt: the dashboards keep the "
    "previous predictions",
    "anomalies": "the marts over the anomaly scores are not rebuilt",
}


@dataclass
class CheckReport:
    runs: list[SuiteRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a suite or stage did not run
    data_docs: Path | None = None

    @property
    def critical_success(self) -> bool:
        return all(run.critical_success for run in self.runs)


def check(
    url: str,
    stages: Sequence[str] | None = None,
    *,
    batch_id: int | None = None,
    model_version: str | None = None,
    triggered_by: str = "check",
    say: Say = quiet,
) -> CheckReport:
    """Validate and record the given stages (default: every stage that has data)."""
    report = CheckReport()
    with server.connect(url, autocommit=True) as conn:
        found: list[targets.Target] = []
        for stage in stages or targets.STAGES:
            try:
                stage_targets, skipped = targets.targets_for(conn, stage, batch_id, model_version)
            except QualityError as exc:
                if stages:
                    raise
                report.skipped.append(f"{stage}: {exc}")
                continue
            found += stage_targets
            report.skipped += skipped
        if not found:
            return report
        with context.opened(url) as gx_context:
            for target in found:
                run = validate(gx_context, target)
                record.record(conn, run, triggered_by)
                report.runs.append(run)
                for line in run_lines(run):
                    say(line)
    report.data_docs = context.data_docs_index()
    return report


def run_lines(run: SuiteRun) -> list[str]:
    """What a run found, in console markup: the verdict, then each failed expectation."""
    failed_critical, warnings = run.critical_failures, run.warnings
    verdict = (
        "[bold red]FAILED[/]"
        if failed_critical
        else ("[yellow]passed with warnings[/]" if warnings else "[green]passed[/]")
    )
    seconds = (run.finished_at - run.started_at).total_seconds()
    lines = [
        f"{run.target.suite_name} on {run.target.describe()}: {verdict} — "
        f"{len(run.outcomes) - len(failed_critical) - len(warnings)}/{len(run.outcomes)} "
        f"expectations met, {len(failed_critical)} critical failed, {len(warnings)} warnings "
        f"({seconds:.1f} s)"
    ]
    lines += [f"  [red]critical[/] {outcome.summary()}" for outcome in failed_critical]
    lines += [f"  [yellow]warning[/]  {outcome.summary()}" for outcome in warnings]
    return lines


def gate(
    url: str,
    stage: str,
    say: Say = quiet,
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
        say=say,
    )
    failed = [run for run in report.runs if not run.critical_success]
    if stage in ("raw", "features"):
        # one run per batch: raw checks one batch; features the KOI mart's, and the TOI mart's
        # once a TOI batch is loaded (each failure marks its own batch)
        with server.connect(url, autocommit=True) as conn:
            for run in report.runs:
                _set_batch_status(
                    conn,
                    run.target.load_batch_id,
                    None if run.critical_success else _status_reason(run),
                )
    if failed:
        raise QualityGateError(gate_message(stage, failed, report.data_docs), failed)
    return report


def gate_new_batches(url: str, say: Say = quiet) -> list[CheckReport]:
    """The raw gate on every batch waiting for it (status ``pending_checks``, KOI and TOI),
    oldest first, whoever loaded it: ``exohunter ingest`` gates its own batch, ``exohunter run``
    any left over (a gate that crashed, a batch loaded by a library call). Each batch is sized
    against an earlier good one of its table, so a truncated export fails its row count.
    Stops at the first failure (:class:`QualityGateError`; that batch is then
    ``failed_quality`` and never read)."""
    with server.connect(url, autocommit=True) as conn:
        pending = targets.ungated_batches(conn)
    if not pending:
        say("raw checks: every loaded batch has passed them already")
    return [gate(url, "raw", say, batch_id=batch_id) for batch_id in pending]


def _set_batch_status(conn: psycopg.Connection, batch_id: int | None, reason: str | None) -> None:
    """The gate's verdict on a raw batch: the one write outside ``dq``, in the status column
    ingest leaves ``pending_checks`` for it (staging reads only batches that are ``loaded``)."""
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
