"""``exohunter train --mission tess``: the TOI classifier, measured honestly, and how Kepler and
TESS models transfer.

One run, on the latest TOI batch in ``marts.fct_toi_features`` (and, for the mission comparison,
the latest KOI batch in ``marts.fct_koi_features``):
- P(planet) — CP+KP vs FP+FA — for XGBoost and the logistic baseline under the grouped nested
  protocol of ``scoring.ml.nested_cv``, grouped by TIC; PC and APC are scored, never trained on;
- an ablation without the features whose *presence* follows the follow-up
  (``features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP``): what the model is worth if missing values told
  it nothing;
- the mission comparison on the features both marts share (``SHARED_FEATURES``): each mission
  alone, one joint Kepler + TESS model with the mission as a feature, and the transfer in both
  directions (train on one mission's labelled rows, score the other's). All out of fold except
  the transfers, whose test rows the model never saw.

The production model is the per-mission XGBoost on every honest TESS feature. The version
hashes the configuration, the feature list and both training batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scoring.classifier import toi_model_card
from scoring.classifier.results import TrainResult
from scoring.classifier.training import SEED, THRESHOLD, frame_batch, timed_step
from scoring.ml import feature_mart, features, nested_cv, registry
from scoring.ml.evaluation import Evaluation, binary_evaluation
from scoring.progress import NO_STATUS, Say, Status, quiet

TASK = registry.TOI_CLASSIFIER
GROUP_KEY = "tic_id"
PROTOCOL = nested_cv.protocol("TIC")

# The features of both marts, under one name (the magnitudes are different bands: a tree can
# tell them apart by the mission flag).
SHARED_FEATURES: tuple[str, ...] = (
    *(f for f in features.HONEST_FEATURES if f in features.TESS_HONEST_FEATURES),
    "host_magnitude",
    "is_tess",
)
MAGNITUDE = {"kepler": "kepler_magnitude", "tess": "tess_magnitude"}


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
        "shared_features": list(SHARED_FEATURES),
    }


def labelled(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The TOIs the archive has resolved, and 1 for a planet (CP, KP), 0 for FP and FA."""
    resolved = frame[
        frame[features.TESS_LABEL].isin([*features.TESS_PLANET, *features.TESS_NOT_PLANET])
    ]
    return resolved, resolved[features.TESS_LABEL].isin(features.TESS_PLANET).to_numpy(int)


def shared_matrix(frame: pd.DataFrame, mission: str) -> np.ndarray:
    """A mart's rows as ``SHARED_FEATURES``."""
    shared = frame.assign(
        host_magnitude=frame[MAGNITUDE[mission]], is_tess=float(mission == "tess")
    )
    return features.matrix(shared, SHARED_FEATURES)


@dataclass(frozen=True)
class Labelled:
    """One mission's labelled rows as the shared matrix, labels and star groups."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray


def kepler_labelled(kois: pd.DataFrame) -> Labelled:
    rows = kois[kois[features.LABEL].isin([features.PLANET, features.NOT_PLANET])]
    y = (rows[features.LABEL] == features.PLANET).to_numpy(int)
    return Labelled(
        shared_matrix(rows, "kepler"), y, ("kepid:" + rows["kepid"].astype(str)).to_numpy()
    )


def tess_labelled(tois: pd.DataFrame) -> Labelled:
    rows, y = labelled(tois)
    return Labelled(
        shared_matrix(rows, "tess"), y, ("tic:" + rows[GROUP_KEY].astype(str)).to_numpy()
    )


def mission_comparison(
    kepler: Labelled, tess: Labelled, timings: dict[str, float], say: Say, status: Status
) -> list[Evaluation]:
    """Per-mission, joint and transferred XGBoost on the shared features, each measured on the
    rows of the mission it is named after (task ``<trained>_on_<tested>``)."""

    def evaluation(task: str, y: np.ndarray, p: np.ndarray, protocol: str) -> Evaluation:
        return binary_evaluation(task, "xgboost", y, p, THRESHOLD, True, protocol)

    shared = f"{len(SHARED_FEATURES)} shared features"
    out = []
    for name, data, group in (("tess", tess, "TIC"), ("kepler", kepler, "kepid")):
        with timed_step(f"{name} alone, shared features, grouped nested CV", timings, say, status):
            cv = nested_cv.cross_validate(nested_cv.XGBOOST, data.X, data.y, data.groups, SEED)
        out.append(
            evaluation(
                f"{name}_on_{name}",
                data.y,
                cv.proba[:, 1],
                f"{nested_cv.protocol(group)}; {shared}",
            )
        )

    X = np.vstack([kepler.X, tess.X])
    y = np.concatenate([kepler.y, tess.y])
    groups = np.concatenate([kepler.groups, tess.groups])
    with timed_step(
        "joint Kepler + TESS, shared features, grouped nested CV", timings, say, status
    ):
        cv = nested_cv.cross_validate(nested_cv.XGBOOST, X, y, groups, SEED)
    joint = f"{nested_cv.protocol('star (kepid or TIC)')}; {shared}, the mission a feature"
    n_kepler = len(kepler.y)
    out.append(evaluation("joint_on_tess", tess.y, cv.proba[n_kepler:, 1], joint))
    out.append(evaluation("joint_on_kepler", kepler.y, cv.proba[:n_kepler, 1], joint))

    for trained, tested, train, test in (
        ("kepler", "tess", kepler, tess),
        ("tess", "kepler", tess, kepler),
    ):
        with timed_step(f"transfer {trained} → {tested}", timings, say, status):
            model = nested_cv.fit_calibrated(
                nested_cv.XGBOOST, train.X, train.y, train.groups, SEED
            )
            p = model.predict_proba(test.X)[:, 1]
        protocol = (
            f"trained on every labelled {trained} row (hyper-parameters and calibration by "
            f"3-fold grouped CV inside it), tested on every labelled {tested} row; {shared}"
        )
        out.append(evaluation(f"{trained}_on_{tested}", test.y, p, protocol))
    return out


def evaluate(
    tois: pd.DataFrame,
    kois: pd.DataFrame | None,
    timings: dict[str, float],
    say: Say,
    status: Status,
) -> tuple[list[Evaluation], nested_cv.CalibratedModel]:
    """Every evaluation, then the production model fitted on every labelled TOI."""
    honest = list(features.TESS_HONEST_FEATURES)
    rows, y = labelled(tois)
    groups = rows[GROUP_KEY].to_numpy()
    X = features.matrix(rows, honest)
    protocol = f"{PROTOCOL}; CP+KP vs FP+FA, {len(y):,} TOIs"
    evaluations = []
    for candidate in (nested_cv.XGBOOST, nested_cv.LOGISTIC):
        with timed_step(f"P(planet) {candidate.name}, grouped nested CV", timings, say, status):
            cv = nested_cv.cross_validate(candidate, X, y, groups, SEED)
        evaluations.append(
            binary_evaluation(
                "p_planet",
                candidate.name,
                y,
                cv.proba[:, 1],
                THRESHOLD,
                True,
                protocol,
                cv.chosen_params,
            )
        )

    kept = [f for f in honest if f not in features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP]
    with timed_step("ablation: without the follow-up-filled features", timings, say, status):
        cv = nested_cv.cross_validate(
            nested_cv.XGBOOST, features.matrix(rows, kept), y, groups, SEED
        )
    evaluations.append(
        binary_evaluation(
            "ablation_follow_up_presence",
            "xgboost",
            y,
            cv.proba[:, 1],
            THRESHOLD,
            True,
            f"{protocol}; without the {len(honest) - len(kept)} features whose presence follows "
            "the follow-up",
        )
    )

    if kois is not None and len(kois):
        evaluations += mission_comparison(
            kepler_labelled(kois), tess_labelled(tois), timings, say, status
        )

    with timed_step("production model on every labelled TOI", timings, say, status):
        model = nested_cv.fit_calibrated(nested_cv.XGBOOST, X, y, groups, SEED)
    return evaluations, model


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
    kois = feature_mart.load(conn)
    koi_batch = frame_batch(kois)[0] if len(kois) else None
    version = registry.model_version(
        {**config(), "kepler_batch": koi_batch}, list(features.TESS_HONEST_FEATURES), batch_id
    )
    if registry.exists(conn, version) and not force:
        say(f"TOI model {version} is already trained on TOI batch {batch_id}: nothing to do")
        if promote and registry.champion(conn, TASK) is None:
            registry.promote(conn, version)
        return TrainResult(version, False, batch_id, snapshot_at, 0, len(tois), [], {})

    timings: dict[str, float] = {}
    evaluations, model = evaluate(tois, kois, timings, say, status)
    n_labelled = len(labelled(tois)[1])
    result = TrainResult(
        version, True, batch_id, snapshot_at, n_labelled, len(tois), evaluations, timings
    )
    artifact = {
        "features": features.TESS_HONEST_FEATURES,
        "threshold": THRESHOLD,
        "p_planet": model,
    }
    artifact_path, artifact_sha = registry.save_artifact(version, artifact)
    result.card_path = toi_model_card.write(result, model, THRESHOLD, SHARED_FEATURES, koi_batch)
    registry.publish(
        conn,
        registry.ModelEntry(
            model_version=version,
            task=TASK,
            algorithm=nested_cv.XGBOOST.algorithm,
            hyperparameters={"p_planet": model.params, "config": config()},
            feature_list=list(features.TESS_HONEST_FEATURES),
            training_load_batch_id=batch_id,
            training_snapshot_at=snapshot_at,
            training_rows=n_labelled,
            artifact_path=artifact_path,
            artifact_sha256=artifact_sha,
            model_card_path=result.card_path,
        ),
        evaluations=evaluations,
        make_champion=promote,
    )
    return result
