"""The TOI classifier on the real shipped snapshots: trained on CP+KP vs FP+FA grouped by TIC,
every TOI scored and the PCs strictly ranked; and the Kepler-TESS comparison stored under it."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import psycopg
import pytest

from scoring import settings
from scoring.classifier import mission_comparison, toi_predict, toi_training
from scoring.ml import features, registry
from scoring.warehouse import server
from tests.cli import exohunter
from tests.conftest import database_copy

pytestmark = pytest.mark.integration

ABLATIONS = {
    "ablation_follow_up_presence",
    "ablation_follow_up_median_filled",
    "ablation_follow_up_missingness_only",
}
COMPARISONS = {task for task, _ in mission_comparison.TASKS}


@pytest.fixture
def conn(toi_warehouse: str) -> Iterator[psycopg.Connection]:
    """The session's TOI warehouse: the shipped TOI snapshot trained on and scored."""
    with psycopg.connect(toi_warehouse, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def compared(pg_cluster: server.PostgresCluster, toi_warehouse: str) -> Iterator[str]:
    """A copy of the session's warehouse with the mission comparison measured once (by the CLI,
    as a user runs it)."""
    with database_copy(pg_cluster, toi_warehouse, "compared") as url:
        env = {**os.environ, "EXOHUNTER_DATABASE_URL": url}
        result = exohunter("compare-missions", env=env, timeout=3600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "| TESS | joint Kepler + TESS |" in result.stdout
        yield url


def figures(conn: psycopg.Connection, metric: str) -> dict[tuple[str, str], float]:
    rows = conn.execute(
        """select m.task, m.estimator, m.value from ml.model_metrics as m
           join ml.model_registry as r using (model_version)
           where r.is_champion and r.task = %s and m.metric = %s""",
        (registry.TOI_CLASSIFIER, metric),
    ).fetchall()
    return {(task, estimator): value for task, estimator, value in rows}


def test_the_toi_model_is_measured_grouped_by_tic_with_its_ablations(
    conn: psycopg.Connection,
) -> None:
    auc = figures(conn, "roc_auc")
    assert {task for task, _ in auc} == {"p_planet", *ABLATIONS}
    # A real model, not a coin: CP+KP vs FP+FA separate well out of fold...
    assert auc["p_planet", "xgboost"] > 0.85
    assert auc["p_planet", "xgboost"] > auc["p_planet", "logistic_regression"]
    # ...and not by reading what follow-up left missing: with the missing values filled, the
    # model keeps most of its skill, and the missingness alone is far weaker.
    filled = auc["ablation_follow_up_median_filled", "xgboost"]
    assert filled > auc["p_planet", "xgboost"] - 0.03
    assert auc["ablation_follow_up_missingness_only", "xgboost"] < filled - 0.1
    n = figures(conn, "n")
    assert n["p_planet", "xgboost"] == 684 + 583 + 1197 + 98  # CP + KP + FP + FA
    protocols = conn.execute(
        """select m.task, m.protocol, m.honest from ml.model_metrics as m
           join ml.model_registry as r using (model_version)
           where r.task = %s and m.metric = 'roc_auc'""",
        (registry.TOI_CLASSIFIER,),
    ).fetchall()
    assert all(honest for _, _, honest in protocols)
    assert all("grouped by TIC" in p for task, p, _ in protocols if task == "p_planet")
    registered = conn.execute(
        "select feature_list, training_rows from ml.model_registry where is_champion and task = %s",
        (registry.TOI_CLASSIFIER,),
    ).fetchone()
    assert registered == (list(features.TESS_HONEST_FEATURES), 2562)


def test_the_mission_comparison_is_stored_under_the_toi_champion(compared: str) -> None:
    with psycopg.connect(compared, autocommit=True) as conn:
        auc = figures(conn, "roc_auc")
        n = figures(conn, "n")
        path = conn.execute(
            "select model_card_path from ml.model_registry where is_champion and task = %s",
            (registry.TOI_CLASSIFIER,),
        ).fetchone()[0]
    assert {task for task, _ in auc} >= COMPARISONS
    assert n["kepler_on_tess", "xgboost"] == n["tess_on_tess", "xgboost"] == 2562
    assert n["tess_on_kepler", "xgboost"] == 2299 + 4841  # CONFIRMED + FALSE POSITIVE
    assert n["joint_on_kepler", "xgboost"] == n["kepler_on_kepler", "xgboost"]
    # Each mission's own model beats the other mission's on it: the transfer is the hard case.
    assert auc["tess_on_tess", "xgboost"] > auc["kepler_on_tess", "xgboost"]
    assert auc["kepler_on_kepler", "xgboost"] > auc["tess_on_kepler", "xgboost"]
    report = (settings.home() / path).parent / mission_comparison.REPORT
    text = report.read_text()
    assert "| Kepler | trained on TESS |" in text and "KOI batch " in text

    env = {**os.environ, "EXOHUNTER_DATABASE_URL": compared}
    again = exohunter("compare-missions", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout


def test_every_toi_is_scored_and_the_pcs_have_a_strict_order(conn: psycopg.Connection) -> None:
    n, tois = conn.execute(
        "select count(*), count(distinct toi) from ml.toi_predictions"
    ).fetchone()
    assert n == tois == 7703
    rows = conn.execute(
        """select p.candidate_rank, p.planet_log_odds, p.p_planet, f.label_disposition
           from ml.toi_predictions as p join marts.fct_toi_features as f using (toi)"""
    ).fetchall()
    ranked = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
    assert {r[3] for r in ranked} == {"PC"} and len(ranked) == 4679
    assert [r[0] for r in ranked] == list(range(1, 4680))
    log_odds = [r[1] for r in ranked]
    assert log_odds == sorted(log_odds, reverse=True)
    assert len(set(log_odds)) == len(log_odds)  # no ties
    assert sum(r[3] == "APC" for r in rows) == 462  # scored, not ranked
    assert all(abs(p - 1 / (1 + math.exp(-z))) < 1e-12 for _, z, p, _ in rows)


def test_training_and_scoring_again_change_nothing(conn: psycopg.Connection) -> None:
    before = conn.execute("select count(*) from ml.model_registry").fetchone()[0]
    again = toi_training.train(conn)
    assert not again.created
    assert conn.execute("select count(*) from ml.model_registry").fetchone()[0] == before
    first = conn.execute("select min(scored_at) from ml.toi_predictions").fetchone()[0]
    toi_predict.score(conn)
    count, scored_at = conn.execute(
        "select count(*), min(scored_at) from ml.toi_predictions"
    ).fetchone()
    assert count == 7703 and scored_at > first


def test_the_model_card_shows_the_protocol_and_the_ablations(
    conn: psycopg.Connection,
) -> None:
    path = conn.execute(
        "select model_card_path from ml.model_registry where is_champion and task = %s",
        (registry.TOI_CLASSIFIER,),
    ).fetchone()[0]
    card = (settings.home() / path).read_text()
    for needle in (
        "grouped by TIC",
        *ABLATIONS,
        "`exohunter compare-missions`",
        "`tfopwg_disp` (the label)",
    ):
        assert needle in card


def test_the_cli_scores_one_mission_and_refuses_a_version_without_it(
    toi_warehouse: str,
) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": toi_warehouse}
    scored = exohunter("score", "--mission", "tess", env=env)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "tess: model " in scored.stdout and "7,703 predictions" in scored.stdout
    refused = exohunter("score", "--model", "0123456789abcdef", env=env)
    assert refused.returncode == 1
    assert "--model names one version: give its --mission too" in refused.stdout + refused.stderr
