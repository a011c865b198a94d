"""``exohunter train``: measure every candidate honestly, fit the production models, register them.

One run trains and evaluates, on the latest KOI batch in ``marts.fct_koi_features``:
- P(planet) — CONFIRMED vs FALSE POSITIVE — for XGBoost, a random forest and a logistic
  baseline, under the grouped nested protocol of ``scoring.ml.nested_cv``;
- the three archive classes (CONFIRMED / CANDIDATE / FALSE POSITIVE) with XGBoost;
- two comparisons that are NOT honest and are stored with ``honest = false``: the same XGBoost
  with the four vetting flags added (ablation), and ``koi_score`` alone (the leaky ceiling).

The production model is XGBoost (exact TreeSHAP explanations, native missing values); the
baselines are there to show what it is worth. The model version is a hash of the configuration,
the feature list and the training batch: retraining the same thing is a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scoring.classifier import model_card
from scoring.classifier.results import TrainResult
from scoring.ml import feature_mart, features, metrics, nested_cv, registry
from scoring.ml.evaluation import Evaluation, binary_evaluation
from scoring.progress import NO_STATUS, Say, Status, quiet

TASK = registry.KOI_CLASSIFIER
SEED = 0
THRESHOLD = 0.5  # on calibrated P(planet): "more likely a planet than not"


def config() -> dict[str, Any]:
    """Everything that defines the trained models (hashed into the model version)."""
    return {
        "task": TASK,
        "seed": SEED,
        "threshold": THRESHOLD,
        "outer_folds": nested_cv.N_OUTER_FOLDS,
        "inner_folds": nested_cv.N_INNER_FOLDS,
        "calibration": "Platt scaling of the mean log-odds of the refit and the inner-fold models",
        "class_weights": "balanced",
        "p_planet": nested_cv.XGBOOST.config(),
        "three_class": nested_cv.XGBOOST.config(),
        "baselines": [c.config() for c in nested_cv.CANDIDATES if c is not nested_cv.XGBOOST],
    }


def version_for(batch_id: int | None) -> str:
    """The version this configuration trains on KOI batch ``batch_id``."""
    return registry.model_version(config(), list(features.HONEST_FEATURES), batch_id)


@contextmanager
def timed_step(name: str, timings: dict[str, float], say: Say, status: Status) -> Iterator[None]:
    start = time.perf_counter()
    with status(f"{name} …"):
        yield
    timings[name] = time.perf_counter() - start
    say(f"  {name}: {timings[name]:.1f} s")


def frame_batch(
    frame: pd.DataFrame, table: str = feature_mart.FEATURE_TABLE, table_name: str = "koi"
) -> tuple[int, Any]:
    """The one load batch a feature mart's rows come from, and its snapshot time."""
    batches = frame["load_batch_id"].unique()
    if len(frame) == 0:
        raise registry.RegistryError(
            f"{table} is empty: run `exohunter ingest {table_name}` and `exohunter transform`"
        )
    if len(batches) != 1:
        raise registry.RegistryError(f"{table} mixes load batches {sorted(map(int, batches))}")
    return int(batches[0]), frame["snapshot_at"].iloc[0]


def resolved(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The KOIs the archive has resolved, and 1 for CONFIRMED, 0 for FALSE POSITIVE."""
    rows = frame[frame[features.LABEL].isin([features.PLANET, features.NOT_PLANET])]
    return rows, (rows[features.LABEL] == features.PLANET).to_numpy(int)


@dataclass(frozen=True)
class CrossValidation:
    """One labelled set's grouped nested CV runs, each timed and kept as an out-of-fold
    evaluation of P(planet)."""

    y: np.ndarray
    groups: np.ndarray
    timings: dict[str, float]
    say: Say
    status: Status

    def evaluate(
        self,
        task: str,
        candidate: nested_cv.Candidate,
        X: np.ndarray,
        protocol: str,
        step: str | None = None,
        honest: bool = True,
    ) -> Evaluation:
        step = step or f"P(planet) {candidate.name}, grouped nested CV"
        with timed_step(step, self.timings, self.say, self.status):
            cv = nested_cv.cross_validate(candidate, X, self.y, self.groups, SEED)
        return binary_evaluation(
            task,
            candidate.name,
            self.y,
            cv.proba[:, 1],
            THRESHOLD,
            honest,
            protocol,
            cv.chosen_params,
        )


def evaluate(
    frame: pd.DataFrame, timings: dict[str, float], say: Say, status: Status
) -> tuple[list[Evaluation], dict[str, nested_cv.CalibratedModel]]:
    """All out-of-fold evaluations, then the production models fitted on all rows."""
    honest = list(features.HONEST_FEATURES)
    labelled, y = resolved(frame)
    X = features.matrix(labelled, honest)
    groups = labelled["kepid"].to_numpy()
    protocol = f"{nested_cv.PROTOCOL}; CONFIRMED vs FALSE POSITIVE, {len(y):,} KOIs"
    step = CrossValidation(y, groups, timings, say, status)
    evaluations = [
        step.evaluate("p_planet", candidate, X, protocol) for candidate in nested_cv.CANDIDATES
    ]
    evaluations.append(
        step.evaluate(
            "ablation_with_vetting_flags",
            nested_cv.XGBOOST,
            features.matrix(labelled, [*honest, *features.VETTING_FLAGS]),
            f"NOT HONEST — reads koi_fpflag_*; {protocol}",
            "ablation: XGBoost + vetting flags (not honest)",
            honest=False,
        )
    )

    scored = labelled[features.LEAKY_SCORE].notna().to_numpy()
    evaluations.append(
        binary_evaluation(
            "leaky_ceiling",
            "koi_score",
            y[scored],
            labelled[features.LEAKY_SCORE].to_numpy()[scored],
            THRESHOLD,
            False,
            f"NOT HONEST — koi_score alone, no model; {int(scored.sum()):,} labelled KOIs with a "
            "score",
        )
    )

    X_all = features.matrix(frame, honest)
    y_all = frame[features.LABEL].map({c: i for i, c in enumerate(features.CLASSES)}).to_numpy()
    groups_all = frame["kepid"].to_numpy()
    with timed_step("three classes, XGBoost, grouped nested CV", timings, say, status):
        cv = nested_cv.cross_validate(nested_cv.XGBOOST, X_all, y_all, groups_all, SEED)
    evaluations.append(
        Evaluation(
            "three_class",
            "xgboost",
            True,
            f"{nested_cv.PROTOCOL}; argmax of calibrated probabilities; all {len(y_all):,} KOIs",
            metrics.multiclass_metrics(y_all, cv.proba, features.CLASSES),
            [],
            cv.chosen_params,
        )
    )

    with timed_step("production models on all rows", timings, say, status):
        models = {
            "p_planet": nested_cv.fit_calibrated(nested_cv.XGBOOST, X, y, groups, SEED),
            "three_class": nested_cv.fit_calibrated(
                nested_cv.XGBOOST, X_all, y_all, groups_all, SEED
            ),
        }
    return evaluations, models


def train(
    conn: psycopg.Connection,
    say: Say = quiet,
    status: Status = NO_STATUS,
    force: bool = False,
    promote: bool = True,
) -> TrainResult:
    """Train and evaluate on the latest batch and publish the version (a no-op if it exists)."""
    frame = feature_mart.load(conn, with_vetting=True)
    batch_id, snapshot_at = frame_batch(frame)
    version = version_for(batch_id)
    if not force and already_trained(conn, TASK, version, promote):
        say(f"model {version} is already trained on batch {batch_id}: nothing to do")
        return TrainResult(version, False, batch_id, snapshot_at, 0, len(frame), [], {})

    timings: dict[str, float] = {}
    evaluations, models = evaluate(frame, timings, say, status)
    n_labelled = len(resolved(frame)[1])
    result = TrainResult(
        version, True, batch_id, snapshot_at, n_labelled, len(frame), evaluations, timings
    )
    result.card_path = model_card.write(result, models, THRESHOLD)
    artifact = {
        "features": features.HONEST_FEATURES,
        "classes": features.CLASSES,
        "threshold": THRESHOLD,
        **models,
    }
    hyperparameters = {
        "p_planet": models["p_planet"].params,
        "three_class": models["three_class"].params,
        "config": config(),
    }
    publish_trained(conn, result, TASK, artifact, hyperparameters, promote)
    return result


def already_trained(conn: psycopg.Connection, task: str, version: str, promote: bool) -> bool:
    """Whether ``version`` is registered (retraining it would change nothing); if so and
    ``promote``, it becomes the champion of a ``task`` that has none."""
    if not registry.exists(conn, version):
        return False
    if promote and registry.champion(conn, task) is None:
        registry.promote(conn, version)
    return True


def publish_trained(
    conn: psycopg.Connection,
    result: TrainResult,
    task: str,
    artifact: dict[str, Any],
    hyperparameters: dict[str, Any],
    promote: bool,
) -> None:
    """Save ``artifact`` (its ``features`` are the model's) and register ``result``'s version
    with its evaluations, as ``task``'s champion if ``promote``."""
    artifact_path, artifact_sha = registry.save_artifact(result.model_version, artifact)
    registry.publish(
        conn,
        registry.ModelEntry(
            model_version=result.model_version,
            task=task,
            algorithm=nested_cv.XGBOOST.algorithm,
            hyperparameters=hyperparameters,
            feature_list=list(artifact["features"]),
            training_load_batch_id=result.load_batch_id,
            training_snapshot_at=result.snapshot_at,
            training_rows=result.n_labelled,
            artifact_path=artifact_path,
            artifact_sha256=artifact_sha,
            model_card_path=result.card_path,
        ),
        evaluations=result.evaluations,
        make_champion=promote,
    )
