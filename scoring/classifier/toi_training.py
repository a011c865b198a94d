"""``exohunter train --mission tess``: the TOI classifier, measured honestly.

One run, on the latest TOI batch in ``marts.fct_toi_features``:
- P(planet) — CP+KP vs FP+FA — for XGBoost and the logistic baseline under the grouped nested
  protocol of ``scoring.ml.nested_cv``, grouped by TIC; PC and APC are scored, never trained on;
- three ablations on the features whose *presence* follows the follow-up
  (``features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP``): without them, with their missing values filled
  by the median (their values kept, their absence made silent), and their missingness alone.

The production model is XGBoost on every honest TESS feature; the version hashes the
configuration, the feature list and the training batch. How it compares with a Kepler or a joint
model is ``scoring.classifier.mission_comparison`` (``exohunter compare-missions``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scoring.classifier import toi_model_card
from scoring.classifier.results import TrainResult
from scoring.classifier.training import (
    SEED,
    THRESHOLD,
    CrossValidation,
    already_trained,
    frame_batch,
    publish_trained,
    timed_step,
)
from scoring.ml import feature_mart, features, nested_cv, registry
from scoring.ml.evaluation import Evaluation
from scoring.progress import NO_STATUS, Say, Status, quiet

TASK = registry.TOI_CLASSIFIER
GROUP_KEY = "tic_id"
PROTOCOL = nested_cv.protocol("TIC")


def config() -> dict[str, Any]:
    """Everything that defines the trained model (hashed into the version)."""
    return {
        "task": TASK,
        "seed": SEED,
        "threshold": THRESHOLD,
        "label": {"planet": features.TESS_PLANET, "not_planet": features.TESS_NOT_PLANET},
        "protocol": PROTOCOL,
        "p_planet": nested_cv.XGBOOST.config(),
        "baseline": nested_cv.LOGISTIC.config(),
    }


def labelled(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The TOIs the archive has resolved, and 1 for a planet (CP, KP), 0 for FP and FA."""
    resolved = frame[
        frame[features.TESS_LABEL].isin([*features.TESS_PLANET, *features.TESS_NOT_PLANET])
    ]
    return resolved, resolved[features.TESS_LABEL].isin(features.TESS_PLANET).to_numpy(int)


def median_filled(tois: pd.DataFrame, rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``rows`` with the missing values of ``names`` set to their median over every TOI (no
    label read): the values kept, what their absence says erased."""
    return rows.fillna(tois[names].median())


def evaluate(
    tois: pd.DataFrame, timings: dict[str, float], say: Say, status: Status
) -> tuple[list[Evaluation], nested_cv.CalibratedModel]:
    """Every evaluation, then the production model fitted on every labelled TOI."""
    honest = list(features.TESS_HONEST_FEATURES)
    rows, y = labelled(tois)
    X = features.matrix(rows, honest)
    protocol = f"{PROTOCOL}; CP+KP vs FP+FA, {len(y):,} TOIs"
    step = CrossValidation(y, rows[GROUP_KEY].to_numpy(), timings, say, status)
    evaluations = [
        step.evaluate("p_planet", candidate, X, protocol)
        for candidate in (nested_cv.XGBOOST, nested_cv.LOGISTIC)
    ]

    # Does the model read the follow-up in what is missing? Three ways to ask it.
    follow_up = list(features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP)
    these = f"the {len(follow_up)} features whose presence follows the follow-up"
    ablations = (
        (
            "ablation_follow_up_presence",
            features.matrix(rows, [f for f in honest if f not in follow_up]),
            f"without {these}",
        ),
        (
            "ablation_follow_up_median_filled",
            features.matrix(median_filled(tois, rows, follow_up), honest),
            f"{these} with their missing values filled by their median over every TOI",
        ),
        (
            "ablation_follow_up_missingness_only",
            rows[follow_up].isna().to_numpy(float),
            f"nothing but whether each of {these} is missing",
        ),
    )
    for task, X_ablation, change in ablations:
        evaluations.append(
            step.evaluate(
                task,
                nested_cv.XGBOOST,
                X_ablation,
                f"{protocol}; {change}",
                f"{task}, grouped nested CV",
            )
        )

    with timed_step("production model on every labelled TOI", timings, say, status):
        model = nested_cv.fit_calibrated(nested_cv.XGBOOST, X, y, step.groups, SEED)
    return evaluations, model


def version_for(batch_id: int) -> str:
    """The version a training run on TOI batch ``batch_id`` registers."""
    return registry.model_version(config(), list(features.TESS_HONEST_FEATURES), batch_id)


def train(
    conn: psycopg.Connection,
    say: Say = quiet,
    status: Status = NO_STATUS,
    force: bool = False,
    promote: bool = True,
) -> TrainResult:
    """Train and evaluate on the latest TOI batch and publish the version (a no-op if it
    exists)."""
    tois = feature_mart.load_tois(conn)
    batch_id, snapshot_at = frame_batch(tois, feature_mart.TOI_FEATURE_TABLE, "toi")
    version = version_for(batch_id)
    if not force and already_trained(conn, TASK, version, promote):
        say(f"TOI model {version} is already trained on TOI batch {batch_id}: nothing to do")
        return TrainResult(version, False, batch_id, snapshot_at, 0, len(tois), [], {})

    timings: dict[str, float] = {}
    evaluations, model = evaluate(tois, timings, say, status)
    n_labelled = len(labelled(tois)[1])
    result = TrainResult(
        version, True, batch_id, snapshot_at, n_labelled, len(tois), evaluations, timings
    )
    result.card_path = toi_model_card.write(result, model, THRESHOLD)
    artifact = {
        "features": features.TESS_HONEST_FEATURES,
        "threshold": THRESHOLD,
        "p_planet": model,
    }
    hyperparameters = {"p_planet": model.params, "config": config()}
    publish_trained(conn, result, TASK, artifact, hyperparameters, promote)
    return result
