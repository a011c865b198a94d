"""``exohunter score --mission tess``: P(planet) for every TOI of the latest TOI batch.

Scores ``marts.fct_toi_features`` with the TOI champion (or a given version) and writes
``ml.toi_predictions`` in ONE transaction: the same model and batch scored twice replaces its
rows, and a failure part-way leaves the previous scores intact. The PCs are ranked on the
calibrated log-odds, a strict order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg

from scoring.classifier.predict import ScoreResult, ScoringError, candidate_ranks
from scoring.ml import feature_mart, features, registry
from scoring.warehouse import writeback

PREDICTION_COLUMNS = (
    "model_version",
    "load_batch_id",
    "toi",
    "tic_id",
    "p_planet",
    "planet_log_odds",
    "candidate_rank",
    "scored_at",
)


def predict(artifact: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """toi, tic_id, p_planet, planet_log_odds and the rank among the PCs, for TOIs of the
    TOI mart's shape."""
    model = artifact["p_planet"]
    X = features.matrix(frame, tuple(artifact["features"]))
    out = pd.DataFrame(
        {
            "toi": frame["toi"].to_numpy(),
            "tic_id": frame["tic_id"].to_numpy(),
            "p_planet": model.predict_proba(X)[:, 1],
            "planet_log_odds": model.log_odds(X),
        }
    )
    is_candidate = frame[features.TESS_LABEL].reset_index(drop=True) == "PC"
    out["candidate_rank"] = candidate_ranks(is_candidate, out["planet_log_odds"])
    return out


def _rows(version: str, batch: int, scored: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    scored_at = datetime.now(UTC)
    for row in scored.itertuples(index=False):
        rank = None if pd.isna(row.candidate_rank) else int(row.candidate_rank)
        yield (
            version,
            batch,
            row.toi,
            int(row.tic_id),
            float(row.p_planet),
            float(row.planet_log_odds),
            rank,
            scored_at,
        )


def score(conn: psycopg.Connection, version: str | None = None) -> ScoreResult:
    start = time.perf_counter()
    version = version or registry.champion(conn, registry.TOI_CLASSIFIER)
    if version is None:
        raise ScoringError("no TOI model yet: run `exohunter train --mission tess` first")
    artifact = registry.load_artifact(conn, version)
    frame = feature_mart.load_tois(conn)
    if frame.empty:
        raise ScoringError("marts.fct_toi_features is empty: run `exohunter ingest toi` first")
    batch = int(frame["load_batch_id"].iloc[0])
    scored = predict(artifact, frame)
    key = {"model_version": version, "load_batch_id": batch}
    with conn.transaction():
        n = writeback.replace_rows(
            conn, "ml.toi_predictions", key, PREDICTION_COLUMNS, _rows(version, batch, scored)
        )
    return ScoreResult(version, batch, n, 0, time.perf_counter() - start)
