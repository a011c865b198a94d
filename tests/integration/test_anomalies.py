"""The anomaly lenses on the real warehouse and the real shipped data: what they store, what
their validation measured (fixed seed), and that a non-converged Bayesian fit is never stored."""

from __future__ import annotations

import math
from collections.abc import Iterator

import psycopg
import pytest

from scoring import settings
from scoring.anomalies import detect, outlier_model
from scoring.ml import registry

pytestmark = pytest.mark.integration

N_KOIS = 9564
FLAGGED = math.ceil(0.02 * N_KOIS)


@pytest.fixture
def conn(scored_warehouse: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(scored_warehouse, autocommit=True) as connection:
        yield connection


def figure(conn: psycopg.Connection, task: str, lens: str, metric: str, label: str = "") -> float:
    row = conn.execute(
        """select m.value from ml.model_metrics as m
           join ml.model_registry as r using (model_version)
           where r.task = 'koi_anomaly' and r.is_champion
             and m.task = %s and m.estimator = %s and m.metric = %s and m.class_label = %s""",
        (task, lens, metric, label),
    ).fetchone()
    assert row is not None, (task, lens, metric, label)
    return row[0]


def test_every_koi_is_scored_once_and_the_budget_is_flagged(conn: psycopg.Connection) -> None:
    total, flagged, ranks, bayes = conn.execute(
        """select count(*), count(*) filter (where is_anomaly), count(distinct anomaly_rank),
                  count(p_outlier)
           from ml.koi_anomalies"""
    ).fetchone()
    assert (total, flagged, ranks) == (N_KOIS, FLAGGED, N_KOIS)
    assert bayes > 0.8 * N_KOIS  # every KOI with a density ratio
    worst = conn.execute(
        "select max(ensemble_score), min(ensemble_score) from ml.koi_anomalies where is_anomaly"
    ).fetchone()
    best_unflagged = conn.execute(
        "select max(ensemble_score) from ml.koi_anomalies where not is_anomaly"
    ).fetchone()[0]
    assert worst[1] >= best_unflagged
    reasons = conn.execute(
        """select count(distinct r.kepoi_name), count(*), bool_and(a.is_anomaly)
           from ml.koi_anomaly_reasons as r join ml.koi_anomalies as a using (kepoi_name)"""
    ).fetchone()
    assert reasons == (FLAGGED, 3 * FLAGGED, True)


def test_injected_inconsistent_kois_are_found_by_the_lens_that_can_see_them(
    conn: psycopg.Connection,
) -> None:
    # The ensemble reads the depth; the Bayesian model reads the density relation.
    assert figure(conn, "injection", "ensemble", "recall", "oversized_occulter") >= 0.8
    assert figure(conn, "injection", "bayesian", "recall", "long_duration") >= 0.8


def test_the_ensemble_top_100_is_stable_across_seeds(conn: psycopg.Connection) -> None:
    assert figure(conn, "stability", "ensemble", "top100_overlap_min") >= 0.8


def test_anomalies_are_enriched_in_false_positives(conn: psycopg.Connection) -> None:
    for lens in ("ensemble", "bayesian"):
        assert figure(conn, "meaning", lens, "false_positive_enrichment") > 1.2
        fp = figure(conn, "meaning", lens, "flagged_share", "FALSE POSITIVE")
        assert fp > figure(conn, "meaning", lens, "flagged_share", "CONFIRMED")


def test_the_converged_fit_is_stored_with_its_diagnostics(conn: psycopg.Connection) -> None:
    assert figure(conn, "convergence", "bayesian", "r_hat_max") <= outlier_model.MAX_R_HAT
    assert figure(conn, "convergence", "bayesian", "ess_bulk_min") >= outlier_model.MIN_ESS
    assert figure(conn, "convergence", "bayesian", "divergences") == 0


def test_a_non_converged_fit_is_rejected_and_nothing_is_stored(
    conn: psycopg.Connection,
) -> None:
    champion = registry.champion(conn, detect.TASK)
    before = conn.execute("select count(*) from ml.koi_anomalies").fetchone()[0]
    starved = outlier_model.SamplerConfig(warmup=10, samples=20)
    with pytest.raises(detect.DetectError, match="did not converge"):
        detect.detect(conn, sampler=starved)
    assert conn.execute("select count(*) from ml.koi_anomalies").fetchone()[0] == before
    assert registry.champion(conn, detect.TASK) == champion
    assert (
        conn.execute(
            "select count(*) from ml.model_registry where task = 'koi_anomaly'"
        ).fetchone()[0]
        == 1
    )


def test_detecting_again_on_the_same_batch_changes_nothing(conn: psycopg.Connection) -> None:
    before = conn.execute("select min(scored_at), count(*) from ml.koi_anomalies").fetchone()
    result = detect.detect(conn)
    assert not result.trained
    assert (
        conn.execute("select min(scored_at), count(*) from ml.koi_anomalies").fetchone() == before
    )


def test_the_leaderboard_mart_lists_the_flagged_kois_first_with_reasons(
    conn: psycopg.Connection,
) -> None:
    rows = conn.execute(
        "select anomaly_rank, is_anomaly, anomaly_reasons, label_disposition "
        "from marts.fct_anomalies order by anomaly_rank"
    ).fetchall()
    assert len(rows) == N_KOIS
    assert [r[0] for r in rows[:3]] == [1, 2, 3]
    assert all(r[1] and r[2] for r in rows[:FLAGGED])
    assert not any(r[1] or r[2] for r in rows[FLAGGED:])


def test_the_model_card_says_what_an_outlier_means(conn: psycopg.Connection) -> None:
    path = conn.execute(
        "select model_card_path from ml.model_registry where task = 'koi_anomaly'"
    ).fetchone()[0]
    card = (settings.home() / path).read_text()
    for words in ("What an outlier means", "eclipsing binary", "R-hat max", "oversized_occulter"):
        assert words in card
