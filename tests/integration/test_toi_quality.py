"""The TOI prediction gate on real data: the TOI champion's scores of the shipped 2025 snapshot
pass ``toi_predictions``; corrupted copies of them (a duplicated TOI, a rank on a non-PC, ranks
out of order, a log-odds that is not the probability's, a TOI left out, a model with its classes
swapped) fail it with the expectation that names the fault, are recorded in ``dq``, and
``exohunter run`` stops at the TOI prediction checks before the marts over the scores change.

Each test works on a copy of the session's TOI warehouse (KOIs and TOIs scored), corrupted in
SQL: the predictions table's own key would refuse a duplicate, so that case drops it first —
the suite does not lean on the writer's constraints.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import psycopg
import pytest
from rich.console import Console

from scoring import pipeline
from scoring.classifier import toi_predict
from scoring.ml import registry
from scoring.quality import errors, gates, suites
from scoring.warehouse import server
from tests.conftest import database_copy

pytestmark = pytest.mark.integration

TOIS, PCS = 7703, 4679  # the shipped 2025-10-04 snapshot


@pytest.fixture
def toi_copy(
    pg_cluster: server.PostgresCluster, toi_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A copy of the TOI warehouse, exported as EXOHUNTER_DATABASE_URL."""
    with database_copy(pg_cluster, toi_warehouse, "dqtoi") as url:
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        yield url


def champion(url: str) -> str:
    with psycopg.connect(url) as conn:
        version = registry.champion(conn, registry.TOI_CLASSIFIER)
    assert version is not None
    return version


def _first(disposition: str, order: str = "toi") -> str:
    """The first TOI (by ``order``) of a disposition in the scored batch, as a SQL subquery."""
    return (
        "(select p.toi from ml.toi_predictions as p join raw.toi as r using (load_batch_id, toi)"
        f" where r.tfopwg_disp = '{disposition}' order by {order} limit 1)"
    )


# case: (SQL that corrupts the champion's scores, expectations that must fail, a finding)
CORRUPTIONS: dict[str, tuple[list[str], set[str], str]] = {
    "duplicated_toi": (
        [
            "alter table ml.toi_predictions drop constraint toi_predictions_pkey",
            "insert into ml.toi_predictions select * from ml.toi_predictions"
            f" where toi = {_first('FP')}",
        ],
        {"one_prediction_per_toi", "every_toi_scored"},
        f"observed {TOIS + 1:,}, expected {TOIS:,}",
    ),
    "rank_on_a_non_pc": (
        [
            f"update ml.toi_predictions set candidate_rank = {PCS + 1}"
            f" where toi = {_first('FP', 'p.planet_log_odds')}"  # after the last PC's, in order
        ],
        {"candidate_rank_exactly_for_pcs", "candidate_rank_within_pcs"},
        f"(FP, rank {PCS + 1})",
    ),
    "ranks_out_of_order": (
        [
            "update ml.toi_predictions set candidate_rank = 3 - candidate_rank"
            " where candidate_rank in (1, 2)"
        ],
        {"candidate_rank_follows_log_odds"},
        "(rank 2)",
    ),
    "log_odds_not_the_probability": (
        [
            f"update ml.toi_predictions set planet_log_odds = planet_log_odds + 1"
            f" where toi = {_first('FP')}"
        ],
        {"planet_log_odds_matches_p_planet"},
        "1 of 7,703 values unexpected",
    ),
    "a_toi_left_out": (
        [f"delete from ml.toi_predictions where toi = {_first('KP')}"],
        {"every_toi_scored"},
        f"observed {TOIS - 1:,}, expected {TOIS:,}",
    ),
    "classes_swapped": (
        [
            "update ml.toi_predictions"
            " set p_planet = 1 - p_planet, planet_log_odds = -planet_log_odds"
        ],
        {
            "known_planets_scored_high",
            "false_positives_scored_low",
            "candidate_rank_follows_log_odds",
        },
        "known_planets_scored_high (expect_column_mean_to_be_between, column known_planet_",
    ),
}


# What the Discoveries dashboard shows of the TOI ranking.
RANKING_SHOWN = (
    "select count(*), md5(string_agg(toi || ':' || coalesce(candidate_rank::text, '-'), ','"
    " order by toi)) from marts.fct_toi_predictions"
)


# A false positive ranked after the last PC fails the rank order too when it scores above that
# PC: a consequence, which the model of the day decides.
MAY_ALSO_FAIL = {"rank_on_a_non_pc": {"candidate_rank_follows_log_odds"}}


def failed_critical_keys(url: str, run_id: object) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select expectation_key from dq.validation_results
                where validation_run_id = %s and is_critical and not success""",
            (run_id,),
        ).fetchall()
    return {row[0] for row in rows}


def test_the_shipped_toi_predictions_pass_and_are_recorded(toi_copy: str) -> None:
    version = champion(toi_copy)
    report = gates.gate(toi_copy, "predictions", model_version=version)
    (run,) = report.runs
    assert run.target.suite_name == "toi_predictions" and run.target.model_version == version
    assert run.target.parameters == {"batch_rows": TOIS, "pc_count": PCS}
    assert len(run.outcomes) == len(suites.suite("toi_predictions").expectations)
    assert run.success, [o.summary() for o in run.outcomes if not o.success]
    observed = {o.key: o.observed_value for o in run.outcomes}
    assert observed["every_toi_scored"] == TOIS
    assert observed["known_planets_scored_high"] > suites.KNOWN_PLANET_MEAN_MIN
    assert observed["false_positives_scored_low"] < suites.FALSE_POSITIVE_MEAN_MAX
    # `exohunter check` (every stage) checks the TOI champion's scores beside the KOI suites
    checked = gates.check(toi_copy)
    assert [r.target.suite_name for r in checked.runs] == [
        "raw_koi_batch",
        "raw_toi_batch",
        "koi_features",
        "toi_features",
        "koi_predictions",
        "toi_predictions",
        "koi_anomalies",
    ]
    assert checked.critical_success
    with psycopg.connect(toi_copy) as conn:
        runs = conn.execute(
            """select triggered_by, stage, data_asset, load_batch_id, model_version,
                      critical_success
                 from dq.validation_runs where suite_name = 'toi_predictions'
                order by started_at"""
        ).fetchall()
        toi_batch = run.target.load_batch_id
        assert runs == [
            ("run", "predictions", "dq.toi_prediction_records", toi_batch, version, True),
            ("check", "predictions", "dq.toi_prediction_records", toi_batch, version, True),
        ]


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupted_toi_predictions_fail_the_gate(case: str, toi_copy: str) -> None:
    statements, keys, finding = CORRUPTIONS[case]
    with psycopg.connect(toi_copy, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    version = champion(toi_copy)
    with pytest.raises(errors.QualityGateError) as failure:
        gates.gate(toi_copy, "predictions", model_version=version)
    message = str(failure.value)
    assert message.startswith(f"data-quality gate failed: toi_predictions on model {version}")
    assert finding in message
    assert "the dashboards keep the previous predictions" in message
    (run,) = failure.value.runs
    failed = {o.key for o in run.critical_failures}
    assert keys <= failed <= keys | MAY_ALSO_FAIL.get(case, set())
    assert failed_critical_keys(toi_copy, run.run_id) == failed


def test_exohunter_run_stops_at_the_toi_prediction_checks(
    toi_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TOI scorer that ranks a false positive: the run scores, the TOI gate stops it before
    the anomalies and the marts over the scores (the dashboards keep the previous ranking)."""
    real = toi_predict.predict

    def ranks_a_false_positive(artifact: dict, frame: pd.DataFrame) -> pd.DataFrame:
        out = real(artifact, frame)
        is_fp = (frame["label_disposition"] == "FP").to_numpy()
        least_fp = out["planet_log_odds"].where(is_fp).idxmin()  # ranked after the last PC
        out.loc[least_fp, "candidate_rank"] = PCS + 1
        return out

    monkeypatch.setattr(toi_predict, "predict", ranks_a_false_positive)
    with psycopg.connect(toi_copy) as conn:
        shown = conn.execute(RANKING_SHOWN).fetchone()
        anomalies = conn.execute("select count(*), max(scored_at) from ml.koi_anomalies").fetchone()
    with pytest.raises(errors.QualityGateError) as failure:
        pipeline.run(Console(quiet=True))
    (run,) = failure.value.runs
    assert run.target.suite_name == "toi_predictions"
    failed = {o.key for o in run.critical_failures}
    ranked = {"candidate_rank_exactly_for_pcs", "candidate_rank_within_pcs"}
    assert ranked <= failed <= ranked | MAY_ALSO_FAIL["rank_on_a_non_pc"]
    with psycopg.connect(toi_copy) as conn:
        assert conn.execute(
            "select critical_success from dq.validation_runs"
            " where suite_name = 'toi_predictions' and triggered_by = 'run'"
        ).fetchall() == [(False,)]
        # the KOI prediction gate passed before it; nothing after the TOI gate ran
        assert conn.execute(
            "select bool_and(critical_success) from dq.validation_runs"
            " where suite_name = 'koi_predictions' and triggered_by = 'run'"
        ).fetchone() == (True,)
        assert conn.execute("select count(*), max(scored_at) from ml.koi_anomalies").fetchone() == (
            anomalies
        )
        assert conn.execute(RANKING_SHOWN).fetchone() == shown
