"""The TOI classifier on the real shipped snapshots: trained on CP+KP vs FP+FA grouped by TIC,
compared with Kepler (joint and transferred), every TOI scored and the PCs strictly ranked."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import psycopg
import pytest

from scoring import settings
from scoring.classifier import toi_predict, toi_training
from scoring.ingest import loader
from scoring.ml import features, registry
from scoring.quality import gates
from scoring.warehouse import dbt_runner, server
from tests.cli import exohunter
from tests.conftest import database_copy

pytestmark = pytest.mark.integration

COMPARISONS = {
    "tess_on_tess",
    "kepler_on_kepler",
    "joint_on_tess",
    "joint_on_kepler",
    "kepler_on_tess",
    "tess_on_kepler",
}


@pytest.fixture(scope="module")
def toi_scored(pg_cluster: server.PostgresCluster, scored_warehouse: str) -> Iterator[str]:
    """The scored KOI warehouse plus the shipped 2025 TOI snapshot, its marts, the TOI model
    trained and every TOI scored — once for this module."""
    with database_copy(pg_cluster, scored_warehouse, "toimodel") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            loader.load_toi_file(conn, settings.SHIPPED_TOI_FILE)
        gates.gate_new_batches(url)
        lines: list[str] = []
        try:
            dbt_runner.run_dbt(
                [
                    "build",
                    "--select",
                    "+fct_toi_features",
                    "+dim_tess_star",
                    "--exclude",
                    "tag:scored",
                ],
                url,
                on_line=lines.append,
            )
        except dbt_runner.TransformError as exc:
            raise AssertionError("\n".join(lines[-40:])) from exc
        with psycopg.connect(url, autocommit=True) as conn:
            toi_training.train(conn)
            toi_predict.score(conn)
        yield url


@pytest.fixture
def conn(toi_scored: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(toi_scored, autocommit=True) as connection:
        yield connection


def figures(conn: psycopg.Connection, metric: str) -> dict[tuple[str, str], float]:
    rows = conn.execute(
        """select m.task, m.estimator, m.value from ml.model_metrics as m
           join ml.model_registry as r using (model_version)
           where r.is_champion and r.task = %s and m.metric = %s""",
        (registry.TOI_CLASSIFIER, metric),
    ).fetchall()
    return {(task, estimator): value for task, estimator, value in rows}


def test_the_toi_model_is_measured_grouped_by_tic_beside_the_mission_comparison(
    conn: psycopg.Connection,
) -> None:
    auc = figures(conn, "roc_auc")
    tasks = {task for task, _ in auc}
    assert tasks == {"p_planet", "ablation_follow_up_presence", *COMPARISONS}
    # A real model, not a coin: CP+KP vs FP+FA separate well out of fold...
    assert auc["p_planet", "xgboost"] > 0.85
    assert auc["p_planet", "xgboost"] > auc["p_planet", "logistic_regression"]
    # ...every comparison is measured on a real number of rows, and the figures are honest
    n = figures(conn, "n")
    assert n["p_planet", "xgboost"] == 684 + 583 + 1197 + 98  # CP + KP + FP + FA
    assert n["kepler_on_tess", "xgboost"] == n["p_planet", "xgboost"]
    assert n["tess_on_kepler", "xgboost"] == 2299 + 4841  # CONFIRMED + FALSE POSITIVE
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


def test_the_model_card_shows_the_protocol_the_ablation_and_the_mission_table(
    conn: psycopg.Connection,
) -> None:
    path = conn.execute(
        "select model_card_path from ml.model_registry where is_champion and task = %s",
        (registry.TOI_CLASSIFIER,),
    ).fetchone()[0]
    card = (settings.home() / path).read_text()
    for needle in (
        "grouped by TIC",
        "ablation_follow_up_presence",
        "## Kepler and TESS: one model or two?",
        "| TESS | joint Kepler + TESS |",
        "| Kepler | trained on TESS |",
        "`tfopwg_disp` (the label)",
    ):
        assert needle in card


def test_the_cli_scores_one_mission_and_refuses_a_version_without_it(toi_scored: str) -> None:
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": toi_scored}
    scored = exohunter("score", "--mission", "tess", env=env)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "tess: model " in scored.stdout and "7,703 predictions" in scored.stdout
    refused = exohunter("score", "--model", "0123456789abcdef", env=env)
    assert refused.returncode == 1
    assert "--model names one version: give its --mission too" in refused.stdout + refused.stderr
