"""The data-quality gates on real data: the shipped snapshot passes every critical expectation;
corrupted copies of it stop ``exohunter run`` before scoring, leave the marts and predictions as
they were and are recorded in ``dq``.

Each test works on a copy (``CREATE DATABASE ... TEMPLATE``) of the session's scored warehouse
(ingested, built, trained, scored), so no test retrains the classifier: the pipeline trains only
when the champion was not trained on the feature mart's batch, and a refused batch never
reaches the mart.
"""

from __future__ import annotations

import csv
import filecmp
import io
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from rich.console import Console

from scoring import pipeline, settings
from scoring.quality import context, errors, gates, suites, targets
from scoring.warehouse import server
from tests.conftest import database_copy

pytestmark = pytest.mark.integration

# What the rest of the platform reads: a gate failure must leave all of it exactly as it was.
STATE_TABLES = {
    "marts.fct_koi_features": "kepoi_name",
    "marts.dim_star": "kepid",
    "marts.fct_koi_predictions": "kepoi_name",
    "marts.fct_discoveries": "mission, candidate_rank",
    "ml.model_registry": "model_version",
    "ml.koi_predictions": "model_version, load_batch_id, kepoi_name",
}
# The shipped snapshot's two explained warnings (scoring/quality/suites.py, docs/data-quality.md).
SHIPPED_WARNINGS = {
    ("raw_koi_batch", "koi_depth_below_full_flux"): [1541400.0],  # K06413.01, a false positive
    ("raw_koi_batch", "koi_fpflag_nt_binary"): [465],  # K00477.01, a corrupt vetting flag
}


@pytest.fixture
def good_warehouse(
    pg_cluster: server.PostgresCluster,
    scored_warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A copy of the scored warehouse, exported as EXOHUNTER_DATABASE_URL: the last good state."""
    with database_copy(pg_cluster, scored_warehouse, "dq") as url:
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        yield url


def state(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row, per table the platform reads."""
    found = {}
    with psycopg.connect(url) as conn:
        for table, order in STATE_TABLES.items():
            found[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, '|' order by {order}), ''))"
                f" from {table} as t"
            ).fetchone()
    return found


# -- corrupted copies of the real file ----------------------------------------------------------
Rows = list[dict[str, str]]


def _scale(columns: tuple[str, ...], factor: float) -> Callable[[Rows], Rows]:
    def corrupt(rows: Rows) -> Rows:
        for row in rows:
            for column in columns:
                if row[column]:
                    row[column] = repr(float(row[column]) * factor)
        return rows

    return corrupt


def _negative_periods(rows: Rows) -> Rows:
    for row in rows[:50]:
        row["koi_period"] = f"-{row['koi_period']}"
    return rows


def _unknown_disposition(rows: Rows) -> Rows:
    for row in rows[:5]:
        row["koi_disposition"] = "VALIDATED"
    return rows


def _ra_out_of_range(rows: Rows) -> Rows:
    for row in rows[:10]:
        row["ra"] = repr(float(row["ra"]) + 360)
    return rows


# case: (corruption, the expectation that must fail, its column, text of the finding)
CORRUPTIONS: dict[str, tuple[Callable[[Rows], Rows], str, str | None, str]] = {
    "negative_periods": (_negative_periods, "koi_period_positive", "koi_period", "-9.48804"),
    "duplicated_koi": (
        lambda rows: [*rows, dict(rows[0])],
        "kepoi_name_unique",
        "kepoi_name",
        "'K00752.01'",
    ),
    "unknown_disposition": (
        _unknown_disposition,
        "koi_disposition_known",
        "koi_disposition",
        "'VALIDATED'",
    ),
    "ra_out_of_range": (_ra_out_of_range, "ra_in_range", "ra", "651.934"),
    "depth_in_the_wrong_unit": (
        _scale(("koi_depth", "koi_depth_err1", "koi_depth_err2"), 1e6),
        "koi_depth_median_in_ppm",
        "koi_depth",
        "observed 421,100,000, expected 50 to 5,000",
    ),
    "half_the_rows_missing": (
        lambda rows: rows[: len(rows) // 2],
        "row_count_near_previous_batch",
        None,
        "observed 4,782, expected 7,651 to 11,477",
    ),
}


def corrupted_copy(corrupt: Callable[[Rows], Rows], folder: Path) -> Path:
    """The shipped export, header comments kept, with its data rows corrupted."""
    text = settings.SHIPPED_KOI_FILE.read_text()
    comments = "".join(line for line in text.splitlines(True) if line.startswith("#"))
    reader = csv.DictReader(line for line in text.splitlines(True) if not line.startswith("#"))
    rows = corrupt(list(reader))
    out = io.StringIO()
    writer = csv.DictWriter(out, reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = folder / "koi_cumulative_corrupted.csv"
    path.write_text(comments + out.getvalue())
    return path


def failed_critical_keys(conn: psycopg.Connection, batch_id: int, suite: str) -> set[str]:
    rows = conn.execute(
        """select r.expectation_key from dq.validation_runs as v
             join dq.validation_results as r using (validation_run_id)
            where v.load_batch_id = %s and v.suite_name = %s and v.triggered_by = 'run'
              and r.is_critical and not r.success""",
        (batch_id, suite),
    ).fetchall()
    return {row[0] for row in rows}


def assert_refused(url: str, failure: errors.QualityGateError, suite: str, key: str) -> None:
    """The new batch is marked failed in raw, dq has the failed run, the mart shows it."""
    with psycopg.connect(url) as conn:
        batch_id, status, reason = conn.execute(
            "select load_batch_id, status, status_reason from raw.load_batches"
            " where source_table = 'koi_cumulative' order by load_batch_id desc limit 1"
        ).fetchone()
        assert batch_id == 2
        assert status == "failed_quality" and key in reason
        assert key in failed_critical_keys(conn, batch_id, suite)
        assert conn.execute(
            "select distinct load_batch_id from staging.stg_kepler__koi"
        ).fetchall() == [(1,)]
        shown = conn.execute(
            """select run_status, batch_status from marts.fct_data_quality
                where suite_name = %s and is_latest_run and expectation_key = %s""",
            (suite, key),
        ).fetchone()
        assert shown == ("failed", "failed_quality")
    assert f"Load batch {batch_id} stays in raw, marked failed_quality" in str(failure)


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_a_corrupted_export_stops_the_run_before_scoring(
    case: str, good_warehouse: str, tmp_path: Path
) -> None:
    corrupt, key, column, finding = CORRUPTIONS[case]
    path = corrupted_copy(corrupt, tmp_path)
    before = state(good_warehouse)
    with pytest.raises(errors.QualityGateError) as failure:
        pipeline.run(Console(quiet=True), path)
    message = str(failure.value)
    assert message.startswith("data-quality gate failed: raw_koi_batch on load batch 2")
    assert f"{key} (" in message and finding in message
    if column:
        assert f"column {column})" in message
    assert state(good_warehouse) == before  # marts, predictions, registry: nothing retrained
    assert_refused(good_warehouse, failure.value, "raw_koi_batch", key)
    with psycopg.connect(good_warehouse) as conn:
        # exactly the right expectation, and the sample values are in dq
        assert failed_critical_keys(conn, 2, "raw_koi_batch") == {key}


def test_durations_in_minutes_pass_raw_and_fail_the_feature_physics(
    good_warehouse: str, tmp_path: Path
) -> None:
    """Every raw column is plausible on its own; only the features show that the durations no
    longer agree with the periods and the stars. The marts are rebuilt from the last good
    batch."""
    path = corrupted_copy(
        _scale(("koi_duration", "koi_duration_err1", "koi_duration_err2"), 60), tmp_path
    )
    before = state(good_warehouse)
    with pytest.raises(errors.QualityGateError) as failure:
        pipeline.run(Console(quiet=True), path)
    assert str(failure.value).startswith("data-quality gate failed: koi_features on load batch 2")
    assert "duration_ratio_median_physical (expect_column_median_to_be_between, column " in str(
        failure.value
    )
    assert state(good_warehouse) == before
    assert_refused(good_warehouse, failure.value, "koi_features", "duration_ratio_median_physical")
    with psycopg.connect(good_warehouse) as conn:
        assert not failed_critical_keys(conn, 2, "raw_koi_batch")


def test_a_model_calling_every_candidate_a_planet_never_reaches_the_dashboards(
    good_warehouse: str,
) -> None:
    """Drift against the previous champion: here it called no candidate a planet."""
    with psycopg.connect(good_warehouse) as conn:
        conn.execute(
            """insert into ml.model_registry (model_version, task, algorithm, hyperparameters,
                   feature_list, training_load_batch_id, training_snapshot_at, training_rows,
                   artifact_path, artifact_sha256, created_at)
               select 'previous00000000', task, algorithm, hyperparameters, feature_list,
                      training_load_batch_id, training_snapshot_at, training_rows,
                      artifact_path, artifact_sha256, created_at - interval '1 day'
                 from ml.model_registry where is_champion and task = 'koi_classifier'"""
        )
        conn.execute(
            """insert into ml.koi_predictions
               select 'previous00000000', load_batch_id, kepoi_name,
                      case when candidate_rank is null then p_planet else 0.01 end,
                      p_confirmed, p_candidate, p_false_positive, predicted_class,
                      candidate_rank, scored_at
                 from ml.koi_predictions"""
        )
    dashboards = {t: v for t, v in state(good_warehouse).items() if t.startswith("marts.")}
    with pytest.raises(errors.QualityGateError) as failure:
        pipeline.run(Console(quiet=True))
    message = str(failure.value)
    assert "koi_prediction_drift on model " in message
    assert "candidate_planet_share_plausible (expect_column_mean_to_be_between" in message
    assert "the dashboards keep the previous predictions" in message
    after = state(good_warehouse)
    assert {t: v for t, v in after.items() if t.startswith("marts.")} == dashboards
    with psycopg.connect(good_warehouse) as conn:
        parameters, critical_success = conn.execute(
            """select parameters, critical_success from dq.validation_runs
                where suite_name = 'koi_prediction_drift'"""
        ).fetchone()
        assert parameters["reference_model_version"] == "previous00000000"
        assert parameters["candidate_planet_share_max"] == pytest.approx(0.25)
        assert critical_success is False


def test_the_shipped_snapshot_passes_every_critical_expectation_twice(
    good_warehouse: str,
) -> None:
    for _ in range(2):
        report = gates.check(good_warehouse)
        assert [run.target.suite_name for run in report.runs] == [
            "raw_koi_batch",
            "koi_features",
            "koi_predictions",
            "koi_anomalies",
        ]
        assert report.critical_success
        warnings = {
            (run.target.suite_name, o.key): o.unexpected_values
            for run in report.runs
            for o in run.warnings
        }
        assert warnings == SHIPPED_WARNINGS
        assert any(reason.startswith("koi_prediction_drift: no model") for reason in report.skipped)
        assert report.data_docs is not None and report.data_docs.exists()
    with psycopg.connect(good_warehouse) as conn:
        runs = conn.execute(
            """select suite_name, triggered_by, count(*), bool_and(critical_success)
                 from dq.validation_runs group by 1, 2 order by 1, 2"""
        ).fetchall()
        assert runs == [
            ("koi_anomalies", "check", 2, True),
            ("koi_features", "check", 2, True),
            ("koi_predictions", "check", 2, True),
            ("raw_koi_batch", "check", 2, True),
            ("raw_koi_batch", "run", 1, True),  # the fixture's load, gated before its build
        ]
        results = conn.execute(
            """select distinct expectation_key, observed_value from dq.validation_results
                where expectation_key in ('koi_depth_median_in_ppm', 'every_koi_scored')
                order by 1"""
        ).fetchall()
        assert results == [("every_koi_scored", 9564), ("koi_depth_median_in_ppm", 421.1)]
        # the gate's verdict is not changed by a check
        assert conn.execute("select status from raw.load_batches").fetchall() == [("loaded",)]


def test_anomaly_scores_within_budget_pass_and_a_flood_or_a_nan_fails(
    database_url: str, conn: psycopg.Connection
) -> None:
    batch = conn.execute(
        """insert into raw.load_batches (source_table, source_uri, file_sha256, file_bytes,
               snapshot_at, snapshot_source, rows_loaded, rows_rejected, status, started_at,
               finished_at)
           values ('koi_cumulative', 'test', 'sha', 1, now(), 'load_time', 1000, 0, 'loaded',
                   now(), now())
           returning load_batch_id"""
    ).fetchone()[0]

    def scores(version: str, flagged: int, nan_at: int | None = None) -> None:
        conn.execute(
            """insert into ml.model_registry (model_version, task, algorithm, hyperparameters,
                   feature_list, training_load_batch_id, training_snapshot_at, training_rows,
                   artifact_path, artifact_sha256)
               values (%s, 'koi_anomaly', 'ensemble', '{}', '{}', %s, now(), 1000, 'x', 'x')""",
            (version, batch),
        )
        with conn.cursor().copy(
            """copy ml.koi_anomalies (model_version, load_batch_id, kepoi_name, score_iforest,
                   score_ecod, score_copod, score_knn, ensemble_score, anomaly_rank, is_anomaly,
                   density_log_ratio, p_outlier, p_outlier_low, p_outlier_high,
                   is_bayes_outlier, scored_at) from stdin"""
        ) as copy:
            for i in range(1000):
                share = 1 - i / 1000
                ecod = math.nan if i == nan_at else share
                copy.write_row(
                    (
                        version,
                        batch,
                        f"K{i:05d}.01",
                        share,
                        ecod,
                        share,
                        share,
                        share,
                        i + 1,
                        i < flagged,
                        0.1,
                        share,
                        share * 0.9,
                        share,
                        i < flagged,
                        "now",
                    )
                )

    scores("anomalies_good", flagged=20)
    report = gates.check(database_url, ["anomalies"])
    (run,) = report.runs
    assert run.target.model_version == "anomalies_good" and run.success

    scores("anomalies_bad", flagged=100, nan_at=7)
    with pytest.raises(errors.QualityGateError) as failure:
        gates.gate(database_url, "anomalies", model_version="anomalies_bad")
    (run,) = failure.value.runs
    assert {o.key for o in run.critical_failures} == {
        "flagged_share_within_budget",
        "score_ecod_finite",
    }
    by_key = {o.key: o for o in run.critical_failures}
    assert by_key["flagged_share_within_budget"].observed_value == pytest.approx(0.1)
    assert by_key["score_ecod_finite"].unexpected_count == 1
    with psycopg.connect(database_url) as check:  # NaN recorded as JSON can hold it
        assert check.execute(
            """select unexpected_values from dq.validation_results
                where expectation_key = 'score_ecod_finite' and not success"""
        ).fetchone() == (["NaN"],)
    assert (
        "flagged_share_within_budget (expect_column_mean_to_be_between, column anomaly_flag)"
        in str(failure.value)
    )


# -- the file context ---------------------------------------------------------------------------
def test_setup_creates_the_context_once_and_then_changes_nothing(
    good_warehouse: str, tmp_path: Path
) -> None:
    config = yaml.safe_load((context.EXPECTATIONS_DIR / "great_expectations.yml").read_text())
    config.pop("fluent_datasources")
    root = tmp_path / "expectations"
    root.mkdir()
    (root / "great_expectations.yml").write_text(yaml.safe_dump(config))
    first = context.setup(context.open_context(good_warehouse, root))
    assert "datasource warehouse" in first
    assert {f"checkpoint {spec.name}" for spec in suites.SUITES} <= set(first)
    assert context.setup(context.open_context(good_warehouse, root)) == []
    assert context.setup(context.open_context(good_warehouse, root)) == []


def test_the_committed_context_is_what_setup_writes_and_holds_no_secret(
    good_warehouse: str, tmp_path: Path
) -> None:
    copy = shutil.copytree(context.EXPECTATIONS_DIR, tmp_path / "expectations")
    assert context.setup(context.open_context(good_warehouse, copy)) == []
    comparison = filecmp.dircmp(context.EXPECTATIONS_DIR, copy)
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files
    for sub in comparison.subdirs.values():
        assert not sub.left_only and not sub.right_only and not sub.diff_files
    config = (context.EXPECTATIONS_DIR / "great_expectations.yml").read_text()
    assert "connection_string: ${EXOHUNTER_GX_DATABASE_URL}" in config
    password = urlsplit(good_warehouse).password
    for path in context.EXPECTATIONS_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "postgresql://" not in text and "postgresql+psycopg://" not in text
            assert password not in text and str(settings.home()) not in text


def test_exohunter_check_twice_prints_where_the_data_docs_are(good_warehouse: str) -> None:
    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scoring", "check", *args],
            env={**os.environ, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=1800,
        )

    for _ in range(2):
        result = check()
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "raw_koi_batch on load batch 1: passed with warnings" in result.stdout
        assert "koi_fpflag_nt_binary" in result.stdout
        assert f"Data Docs: {context.data_docs_index()}" in result.stdout
        assert context.data_docs_index().exists()
    with psycopg.connect(good_warehouse) as conn:
        assert conn.execute(
            "select count(distinct validation_run_id) from marts.fct_data_quality"
        ).fetchone() == (2 * len(targets.STAGES) + 1,)  # and the fixture's raw gate
        conn.execute("truncate ml.koi_anomalies cascade")
    wrong = check("planets")
    assert wrong.returncode == 1 and "unknown stage 'planets'" in wrong.stdout
    empty = check("anomalies")
    assert empty.returncode == 1 and "no anomaly scores to validate" in empty.stdout
