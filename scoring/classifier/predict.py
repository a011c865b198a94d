"""``exohunter score``: P(planet), the three class probabilities and explanations for every KOI.

Scores the latest batch in ``marts.fct_koi_features`` with the champion (or a given version) and
writes ``ml.koi_predictions`` and ``ml.koi_explanations`` in ONE transaction: the same model and
batch scored twice replaces its rows, and a failure part-way leaves the previous scores intact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scoring.errors import ExoHunterError
from scoring.ml import feature_mart, features, registry
from scoring.warehouse import writeback

PREDICTION_COLUMNS = (
    "model_version",
    "load_batch_id",
    "kepoi_name",
    "p_planet",
    "planet_log_odds",
    "p_confirmed",
    "p_candidate",
    "p_false_positive",
    "predicted_class",
    "candidate_rank",
    "scored_at",
)
EXPLANATION_COLUMNS = (
    "model_version",
    "load_batch_id",
    "kepoi_name",
    "feature",
    "feature_value",
    "contribution",
    "rank",
)


class ScoringError(ExoHunterError):
    pass


@dataclass
class Scores:
    """Predictions for a frame of KOIs, before they are written anywhere."""

    frame: pd.DataFrame  # kepoi_name, p_planet, planet_log_odds, p_<class>, predicted_class
    contributions: np.ndarray  # (n, n_features) TreeSHAP, raw log-odds of the P(planet) model
    values: np.ndarray  # (n, n_features) the feature values
    features: tuple[str, ...]


def predict(artifact: dict[str, Any], frame: pd.DataFrame) -> Scores:
    """Score KOIs (rows of the feature mart's shape) with a loaded artifact."""
    names = tuple(artifact["features"])
    X = features.matrix(frame, names)
    model = artifact["p_planet"]
    log_odds = model.log_odds(X)
    classes = artifact["three_class"].predict_proba(X)
    out = pd.DataFrame(
        {
            "kepoi_name": frame["kepoi_name"].to_numpy(),
            "p_planet": model.predict_proba(X)[:, 1],
            "planet_log_odds": log_odds,
        }
    )
    for k, name in enumerate(artifact["classes"]):
        out[f"p_{name.lower().replace(' ', '_')}"] = classes[:, k]
    out["predicted_class"] = np.asarray(artifact["classes"])[classes.argmax(axis=1)]
    return Scores(out, model.contributions(X, list(names)), X, names)


def candidate_ranks(is_candidate: pd.Series, planet_log_odds: pd.Series) -> pd.Series:
    """1 = the candidate most likely to be a planet; NULL for the rows that are not candidates.

    Ranked on the calibrated log-odds (float64, the order of P(planet) without the rounding of a
    probability near 1); only rows the model cannot tell apart share a score, and those are
    ordered as they come."""
    ranks = planet_log_odds.where(is_candidate).rank(ascending=False, method="first")
    return ranks.astype("Int64")


def _prediction_rows(
    version: str, batch: int, scores: Scores, ranks: pd.Series, scored_at: datetime
) -> Iterator[tuple[Any, ...]]:
    f = scores.frame
    for i in range(len(f)):
        rank = ranks.iloc[i]
        yield (
            version,
            batch,
            f["kepoi_name"].iloc[i],
            float(f["p_planet"].iloc[i]),
            float(f["planet_log_odds"].iloc[i]),
            float(f["p_confirmed"].iloc[i]),
            float(f["p_candidate"].iloc[i]),
            float(f["p_false_positive"].iloc[i]),
            f["predicted_class"].iloc[i],
            None if pd.isna(rank) else int(rank),
            scored_at,
        )


def explanation_rows(version: str, batch: int, scores: Scores) -> Iterator[tuple[Any, ...]]:
    """Long format: one row per KOI and feature, ranked by |contribution| within the KOI."""
    order = np.argsort(-np.abs(scores.contributions), axis=1, kind="stable")
    names = scores.frame["kepoi_name"].to_numpy()
    for i, kepoi_name in enumerate(names):
        for rank, j in enumerate(order[i], start=1):
            value = scores.values[i, j]
            yield (
                version,
                batch,
                kepoi_name,
                scores.features[j],
                None if np.isnan(value) else float(value),
                float(scores.contributions[i, j]),
                rank,
            )


@dataclass
class ScoreResult:
    model_version: str
    load_batch_id: int
    predictions: int
    explanations: int
    seconds: float

    def summary(self) -> str:
        explained = f"{self.explanations:,} explanation rows, " if self.explanations else ""
        return (
            f"model {self.model_version} scored batch {self.load_batch_id}: "
            f"{self.predictions:,} predictions, {explained}{self.seconds:.1f} s"
        )


def score(conn: psycopg.Connection, version: str | None = None) -> ScoreResult:
    start = time.perf_counter()
    version = version or registry.champion(conn, registry.KOI_CLASSIFIER)
    if version is None:
        raise ScoringError("no champion model yet: run `exohunter train` first")
    artifact = registry.load_artifact(conn, version)
    frame = feature_mart.load(conn)
    if frame.empty:
        raise ScoringError("marts.fct_koi_features is empty: run `exohunter run` first")
    batch = int(frame["load_batch_id"].iloc[0])
    scores = predict(artifact, frame)
    is_candidate = frame[features.LABEL] == "CANDIDATE"
    ranks = candidate_ranks(is_candidate, scores.frame["planet_log_odds"])
    key = {"model_version": version, "load_batch_id": batch}
    with conn.transaction():
        n_predictions = writeback.replace_rows(
            conn,
            "ml.koi_predictions",
            key,
            PREDICTION_COLUMNS,
            _prediction_rows(version, batch, scores, ranks, datetime.now(UTC)),
        )
        n_explanations = writeback.replace_rows(
            conn,
            "ml.koi_explanations",
            key,
            EXPLANATION_COLUMNS,
            explanation_rows(version, batch, scores),
        )
    return ScoreResult(version, batch, n_predictions, n_explanations, time.perf_counter() - start)
