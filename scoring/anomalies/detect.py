"""``exohunter anomalies``: both anomaly lenses on the latest KOI batch, validated and written back.

The ensemble and the Bayesian outlier model are fitted on the batch, validated (injection recall,
stability, meaning), registered as one model version of the task ``koi_anomaly`` and written to
``ml.koi_anomalies`` / ``ml.koi_anomaly_reasons`` / ``ml.model_metrics`` in one transaction:
readers see the previous results or the new ones, never a mix. A version is a hash of the
configuration and the batch, so re-running on the same batch changes nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from scoring.anomalies import anomaly_card, outlier_model, pyod_ensemble
from scoring.anomalies.results import DetectResult
from scoring.anomalies.validation import injection_recall, meaning, stability
from scoring.errors import ExoHunterError
from scoring.ml import feature_mart, features, registry
from scoring.ml.evaluation import Figure
from scoring.progress import Say, quiet
from scoring.warehouse import writeback

TASK = registry.KOI_ANOMALY
SEED = 0
UNCERTAINTY_COLUMNS = (
    "stellar_logg_cgs_err1",
    "stellar_logg_cgs_err2",
    "stellar_radius_solar_err1",
    "stellar_radius_solar_err2",
    "transit_duration_rel_unc",
)
ANOMALY_COLUMNS = [
    "model_version",
    "load_batch_id",
    "kepoi_name",
    "score_iforest",
    "score_ecod",
    "score_copod",
    "score_knn",
    "ensemble_score",
    "anomaly_rank",
    "is_anomaly",
    "density_log_ratio",
    "p_outlier",
    "p_outlier_low",
    "p_outlier_high",
    "is_bayes_outlier",
    "scored_at",
]
REASON_COLUMNS = [
    "model_version",
    "load_batch_id",
    "kepoi_name",
    "feature",
    "feature_value",
    "deviation",
    "rank",
]


class DetectError(ExoHunterError):
    pass


def config(budget: float, sampler: outlier_model.SamplerConfig) -> dict[str, Any]:
    return {
        "detectors": list(pyod_ensemble.DETECTORS),
        "combination": "mean of per-detector percentiles",
        "budget": budget,
        "seed": SEED,
        "knn_reference_rows": pyod_ensemble.KNN_REFERENCE_ROWS,
        "bayesian_relation": outlier_model.RELATION,
        "sampler": dataclasses.asdict(sampler),
    }


def load_frame(conn: psycopg.Connection) -> pd.DataFrame:
    """Every KOI of the latest batch with what both lenses and their validation read."""
    columns = list(
        dict.fromkeys(
            [
                "kepoi_name",
                "load_batch_id",
                "snapshot_at",
                features.LABEL,
                *features.HONEST_FEATURES,
                *UNCERTAINTY_COLUMNS,
            ]
        )
    )
    query = sql.SQL("select {} from {} order by kepoi_name").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(feature_mart.FEATURE_TABLE)
    )
    with conn.cursor() as cursor:
        cursor.execute(query)
        frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    numeric = [c for c in columns if c in features.HONEST_FEATURES or c in UNCERTAINTY_COLUMNS]
    frame[numeric] = frame[numeric].astype("float64")
    return frame


def _already_scored(conn: psycopg.Connection, version: str, batch: int) -> bool:
    row = conn.execute(
        "select 1 from ml.koi_anomalies where model_version = %s and load_batch_id = %s limit 1",
        (version, batch),
    ).fetchone()
    return row is not None


def detect(
    conn: psycopg.Connection,
    say: Say = quiet,
    budget: float = pyod_ensemble.DEFAULT_BUDGET,
    sampler: outlier_model.SamplerConfig = outlier_model.DEFAULT_SAMPLER,
    force: bool = False,
) -> DetectResult:
    frame = load_frame(conn)
    if frame.empty:
        raise DetectError("marts.fct_koi_features is empty: run `exohunter run` first")
    batch = int(frame["load_batch_id"].iloc[0])
    version = registry.model_version(
        config(budget, sampler), list(pyod_ensemble.ANOMALY_FEATURES), batch
    )
    if not force and _already_scored(conn, version, batch):
        return DetectResult(version, batch, trained=False)
    result = DetectResult(version, batch, trained=True)
    with _timed(result, "ensemble", say):
        ensemble = pyod_ensemble.score_batch(frame, SEED, budget)
    with _timed(result, "bayesian fit", say):
        try:
            bayes = outlier_model.score_frame(frame, budget, sampler)
        except outlier_model.NotConverged as exc:
            raise DetectError(f"{exc}; nothing was stored") from exc
    result.diagnostics = bayes.fit.diagnostics()
    with _timed(result, "validation", say):
        result.figures = [
            *injection_recall(frame, budget, sampler),
            *stability(frame, budget),
            *meaning(frame, ensemble.is_anomaly, "ensemble"),
            *meaning(frame, bayes.flagged, "bayesian"),
        ]
    reason_rows = pyod_ensemble.reasons(frame, ensemble)
    artifact = {"config": config(budget, sampler), "posterior": bayes.fit.draws}
    path, sha = registry.save_artifact(version, artifact)
    result.card_path = anomaly_card.write(result, frame, ensemble, bayes, reason_rows)
    with conn.transaction():  # the version and its scores, or neither
        _publish(conn, result, frame, budget, sampler, path, sha)
        key = {"model_version": version, "load_batch_id": batch}
        scored_at = datetime.now(UTC)
        result.rows = writeback.replace_rows(
            conn,
            "ml.koi_anomalies",
            key,
            ANOMALY_COLUMNS,
            _anomaly_rows(version, batch, frame, ensemble, bayes, scored_at),
        )
        result.reasons = writeback.replace_rows(
            conn,
            "ml.koi_anomaly_reasons",
            key,
            REASON_COLUMNS,
            [(version, batch, frame["kepoi_name"].iloc[r], *rest) for r, *rest in reason_rows],
        )
    result.flagged = int(ensemble.is_anomaly.sum())
    return result


@contextmanager
def _timed(result: DetectResult, name: str, say: Say) -> Iterator[None]:
    say(f"anomalies: {name} …")
    start = time.perf_counter()
    yield
    result.timings[name] = time.perf_counter() - start


def _publish(
    conn: psycopg.Connection,
    result: DetectResult,
    frame: pd.DataFrame,
    budget: float,
    sampler: outlier_model.SamplerConfig,
    path: str,
    sha: str,
) -> None:
    protocol = (
        "NUTS, {chains} chains x {samples} draws after {warmup} warm-up; R-hat <= "
        f"{outlier_model.MAX_R_HAT}, bulk ESS >= {outlier_model.MIN_ESS}, no divergence required"
    ).format(**dataclasses.asdict(sampler))
    convergence = [
        Figure("convergence", "bayesian", metric, "", value, protocol)
        for metric, value in result.diagnostics.items()
    ]
    registry.publish(
        conn,
        registry.ModelEntry(
            model_version=result.model_version,
            task=TASK,
            algorithm="PyOD ensemble + NumPyro outlier mixture",
            hyperparameters=config(budget, sampler),
            feature_list=list(pyod_ensemble.ANOMALY_FEATURES),
            training_load_batch_id=result.load_batch_id,
            training_snapshot_at=frame["snapshot_at"].iloc[0],
            training_rows=len(frame),
            artifact_path=path,
            artifact_sha256=sha,
            model_card_path=result.card_path,
        ),
        figures=[*result.figures, *convergence],
    )


def _anomaly_rows(
    version: str,
    batch: int,
    frame: pd.DataFrame,
    ensemble: pyod_ensemble.EnsembleScores,
    bayes: outlier_model.BayesianScores,
    scored_at: datetime,
) -> Iterator[tuple[Any, ...]]:
    n = len(frame)
    p, low, high = (np.full(n, np.nan) for _ in range(3))
    p[bayes.rows], low[bayes.rows], high[bayes.rows] = (
        bayes.scores.p_outlier,
        bayes.scores.low,
        bayes.scores.high,
    )
    density = frame[outlier_model.RELATION].to_numpy(dtype="float64", na_value=np.nan)
    detectors = ensemble.detector_scores.to_numpy()
    has_density = np.isfinite(density)

    def nullable(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    for i, name in enumerate(frame["kepoi_name"]):
        yield (
            version,
            batch,
            name,
            *map(float, detectors[i]),
            float(ensemble.ensemble_score[i]),
            int(ensemble.rank[i]),
            bool(ensemble.is_anomaly[i]),
            nullable(density[i]),
            nullable(p[i]),
            nullable(low[i]),
            nullable(high[i]),
            bool(bayes.flagged[i]) if has_density[i] else None,
            scored_at,
        )
