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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from rich.console import Console

from scoring.classifier import model_card
from scoring.ml import features, metrics, nested_cv, registry
from scoring.warehouse import writeback

TASK = registry.KOI_CLASSIFIER
SEED = 0
THRESHOLD = 0.5  # on calibrated P(planet): "more likely a planet than not"
PROTOCOL = (
    "5-fold StratifiedGroupKFold grouped by kepid (seed 0), out-of-fold predictions; "
    "hyper-parameters and isotonic calibration chosen inside each training fold by 3-fold "
    "grouped CV"
)


@dataclass
class Evaluation:
    """Out-of-fold figures of one estimator on one task."""

    task: str
    estimator: str
    honest: bool
    protocol: str
    metrics: list[tuple[str, str, float]]  # (metric, class_label, value)
    curves: list[metrics.CurvePoint] = field(default_factory=list)
    chosen_params: list[dict[str, Any]] = field(default_factory=list)

    def value(self, metric: str, class_label: str = "") -> float:
        return next(v for m, c, v in self.metrics if m == metric and c == class_label)


@dataclass
class TrainResult:
    model_version: str
    created: bool
    load_batch_id: int
    snapshot_at: Any
    n_labelled: int
    n_all: int
    evaluations: list[Evaluation]
    timings: dict[str, float]
    card_path: str | None = None

    def evaluation(self, task: str, estimator: str) -> Evaluation:
        return next(e for e in self.evaluations if e.task == task and e.estimator == estimator)


def config() -> dict[str, Any]:
    """Everything that defines the trained models (hashed into the model version)."""
    return {
        "task": TASK,
        "seed": SEED,
        "threshold": THRESHOLD,
        "outer_folds": nested_cv.N_OUTER_FOLDS,
        "inner_folds": nested_cv.N_INNER_FOLDS,
        "calibration": "isotonic on inner out-of-fold scores",
        "class_weights": "balanced",
        "p_planet": nested_cv.XGBOOST.config(),
        "three_class": nested_cv.XGBOOST.config(),
        "baselines": [c.config() for c in nested_cv.CANDIDATES if c is not nested_cv.XGBOOST],
    }


def _binary_evaluation(
    task: str,
    estimator: str,
    y: np.ndarray,
    p: np.ndarray,
    honest: bool,
    protocol: str,
    chosen: list[dict[str, Any]] | None = None,
) -> Evaluation:
    figures = metrics.binary_metrics(y, p, THRESHOLD)
    return Evaluation(
        task,
        estimator,
        honest,
        protocol,
        [(name, "", value) for name, value in figures.items()],
        metrics.binary_curves(y, p),
        chosen or [],
    )


@contextmanager
def _step(name: str, timings: dict[str, float], console: Console) -> Iterator[None]:
    start = time.perf_counter()
    with console.status(f"{name} …"):
        yield
    timings[name] = time.perf_counter() - start
    console.print(f"  {name}: {timings[name]:.1f} s")


def _frame_batch(frame: pd.DataFrame) -> tuple[int, Any]:
    batches = frame["load_batch_id"].unique()
    if len(frame) == 0:
        raise registry.RegistryError(
            "marts.fct_koi_features is empty: run `exohunter ingest koi` and `exohunter transform`"
        )
    if len(batches) != 1:
        raise registry.RegistryError(f"the feature mart mixes load batches {sorted(batches)}")
    return int(batches[0]), frame["snapshot_at"].iloc[0]


def evaluate(
    frame: pd.DataFrame, console: Console, timings: dict[str, float]
) -> tuple[list[Evaluation], dict[str, nested_cv.CalibratedModel]]:
    """All out-of-fold evaluations, then the production models fitted on all rows."""
    honest = list(features.HONEST_FEATURES)
    labelled = frame[frame[features.LABEL].isin([features.PLANET, features.NOT_PLANET])]
    X = features.matrix(labelled, honest)
    y = (labelled[features.LABEL] == features.PLANET).to_numpy(int)
    groups = labelled["kepid"].to_numpy()
    protocol = f"{PROTOCOL}; CONFIRMED vs FALSE POSITIVE, {len(y):,} KOIs"
    evaluations = []
    for candidate in nested_cv.CANDIDATES:
        with _step(f"P(planet) {candidate.name}, grouped nested CV", timings, console):
            cv = nested_cv.cross_validate(candidate, X, y, groups, SEED)
        evaluations.append(
            _binary_evaluation(
                "p_planet", candidate.name, y, cv.proba[:, 1], True, protocol, cv.chosen_params
            )
        )

    with _step("ablation: XGBoost + vetting flags (not honest)", timings, console):
        X_leaky = features.matrix(labelled, [*honest, *features.VETTING_FLAGS])
        cv = nested_cv.cross_validate(nested_cv.XGBOOST, X_leaky, y, groups, SEED)
    evaluations.append(
        _binary_evaluation(
            "ablation_with_vetting_flags",
            "xgboost",
            y,
            cv.proba[:, 1],
            False,
            f"NOT HONEST — reads koi_fpflag_*; {protocol}",
        )
    )

    scored = labelled[features.LEAKY_SCORE].notna().to_numpy()
    evaluations.append(
        _binary_evaluation(
            "leaky_ceiling",
            "koi_score",
            y[scored],
            labelled[features.LEAKY_SCORE].to_numpy()[scored],
            False,
            f"NOT HONEST — koi_score alone, no model; {int(scored.sum()):,} labelled KOIs with a "
            "score",
        )
    )

    X_all = features.matrix(frame, honest)
    y_all = frame[features.LABEL].map({c: i for i, c in enumerate(features.CLASSES)}).to_numpy()
    groups_all = frame["kepid"].to_numpy()
    with _step("three classes, XGBoost, grouped nested CV", timings, console):
        cv = nested_cv.cross_validate(nested_cv.XGBOOST, X_all, y_all, groups_all, SEED)
    evaluations.append(
        Evaluation(
            "three_class",
            "xgboost",
            True,
            f"{PROTOCOL}; argmax of calibrated probabilities; all {len(y_all):,} KOIs",
            metrics.multiclass_metrics(y_all, cv.proba, features.CLASSES),
            [],
            cv.chosen_params,
        )
    )

    with _step("production models on all rows", timings, console):
        models = {
            "p_planet": nested_cv.fit_calibrated(nested_cv.XGBOOST, X, y, groups, SEED),
            "three_class": nested_cv.fit_calibrated(
                nested_cv.XGBOOST, X_all, y_all, groups_all, SEED
            ),
        }
    return evaluations, models


def train(
    conn: psycopg.Connection, console: Console, force: bool = False, promote: bool = True
) -> TrainResult:
    frame = features.load_features(conn, with_vetting=True)
    batch_id, snapshot_at = _frame_batch(frame)
    version = registry.model_version(config(), list(features.HONEST_FEATURES), batch_id)
    if registry.exists(conn, version) and not force:
        console.print(f"model {version} is already trained on batch {batch_id}: nothing to do")
        if promote and registry.champion(conn, TASK) is None:
            registry.promote(conn, version)
        return TrainResult(version, False, batch_id, snapshot_at, 0, len(frame), [], {})

    timings: dict[str, float] = {}
    evaluations, models = evaluate(frame, console, timings)
    n_labelled = int(frame[features.LABEL].isin([features.PLANET, features.NOT_PLANET]).sum())
    result = TrainResult(
        version, True, batch_id, snapshot_at, n_labelled, len(frame), evaluations, timings
    )
    artifact = {
        "features": features.HONEST_FEATURES,
        "classes": features.CLASSES,
        "threshold": THRESHOLD,
        **models,
    }
    artifact_path, artifact_sha = registry.save_artifact(version, artifact)
    result.card_path = model_card.write(result, models, THRESHOLD)
    with conn.transaction():
        conn.execute("delete from ml.model_registry where model_version = %s", (version,))
        registry.register(
            conn,
            registry.ModelEntry(
                model_version=version,
                task=TASK,
                algorithm=nested_cv.XGBOOST.algorithm,
                hyperparameters={
                    "p_planet": models["p_planet"].params,
                    "three_class": models["three_class"].params,
                    "config": config(),
                },
                feature_list=list(features.HONEST_FEATURES),
                training_load_batch_id=batch_id,
                training_snapshot_at=snapshot_at,
                training_rows=n_labelled,
                artifact_path=artifact_path,
                artifact_sha256=artifact_sha,
                model_card_path=result.card_path,
            ),
        )
        _store_evaluations(conn, version, evaluations)
        if promote:
            registry.promote(conn, version)
    return result


def _store_evaluations(
    conn: psycopg.Connection, version: str, evaluations: list[Evaluation]
) -> None:
    metric_rows = [
        (version, e.task, e.estimator, metric, label, value, e.protocol, e.honest)
        for e in evaluations
        for metric, label, value in e.metrics
    ]
    writeback.replace_rows(
        conn,
        "ml.model_metrics",
        {"model_version": version},
        [
            "model_version",
            "task",
            "estimator",
            "metric",
            "class_label",
            "value",
            "protocol",
            "honest",
        ],
        metric_rows,
    )
    curve_rows = []
    for e in evaluations:
        index: dict[str, int] = {}
        for point in e.curves:
            index[point.curve] = index.get(point.curve, -1) + 1
            curve_rows.append(
                (
                    version,
                    e.task,
                    e.estimator,
                    point.curve,
                    index[point.curve],
                    point.x,
                    point.y,
                    point.threshold,
                    point.n,
                )
            )
    writeback.replace_rows(
        conn,
        "ml.model_curves",
        {"model_version": version},
        ["model_version", "task", "estimator", "curve", "point_index", "x", "y", "threshold", "n"],
        curve_rows,
    )
