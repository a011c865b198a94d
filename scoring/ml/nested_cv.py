"""Calibrated classifiers and the grouped, nested cross-validation that measures them.

Protocol (the same for every candidate):
- outer: 5-fold ``StratifiedGroupKFold`` grouped by ``kepid`` — KOIs of one star never sit on
  both sides; every reported figure is computed on the out-of-fold predictions;
- inner, inside each outer training fold only: 3-fold grouped CV picks the hyper-parameters
  (lowest log-loss over a small grid) and yields out-of-fold scores on which an isotonic
  calibrator is fitted; the chosen estimator is then refitted on the whole training fold.

A model is therefore one fitted estimator plus isotonic calibrators: its probabilities are
calibrated, and its raw estimator stays available for exact TreeSHAP explanations.
Class imbalance is handled with balanced class weights; calibration then restores the true
class frequencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.class_weight import compute_sample_weight
from xgboost import XGBClassifier

N_OUTER_FOLDS = 5
N_INNER_FOLDS = 3
PROTOCOL = (
    "5-fold StratifiedGroupKFold grouped by kepid (seed 0), out-of-fold predictions; "
    "hyper-parameters and isotonic calibration chosen inside each training fold by 3-fold "
    "grouped CV"
)

XGB_BASE = {
    "n_estimators": 200,
    "learning_rate": 0.1,
    "max_depth": 5,
    "min_child_weight": 2,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}


@dataclass(frozen=True)
class Candidate:
    """An estimator family and the hyper-parameter grid searched inside the folds."""

    name: str
    algorithm: str
    grid: tuple[dict[str, Any], ...]
    build: Callable[[dict[str, Any], int, int], Any] = field(repr=False, compare=False)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "algorithm": self.algorithm, "grid": list(self.grid)}


def _build_xgb(params: dict[str, Any], seed: int, n_classes: int) -> XGBClassifier:
    objective = "binary:logistic" if n_classes == 2 else "multi:softprob"
    return XGBClassifier(
        **params,
        objective=objective,
        tree_method="hist",
        n_jobs=2,
        random_state=seed,
        eval_metric="logloss",
    )


def _build_random_forest(params: dict[str, Any], seed: int, n_classes: int) -> Any:
    return make_pipeline(
        SimpleImputer(strategy="median"),
        RandomForestClassifier(**params, class_weight="balanced", n_jobs=2, random_state=seed),
    )


def _build_logistic(params: dict[str, Any], seed: int, n_classes: int) -> Any:
    # Quantile-normalising tames the heavy tails (depths, SNRs) a linear model cannot.
    return make_pipeline(
        SimpleImputer(strategy="median"),
        QuantileTransformer(output_distribution="normal", n_quantiles=200, random_state=seed),
        LogisticRegression(**params, class_weight="balanced", max_iter=2000),
    )


XGBOOST = Candidate(
    "xgboost",
    "XGBClassifier",
    ({**XGB_BASE, "max_depth": 3}, {**XGB_BASE, "max_depth": 5}),
    _build_xgb,
)
RANDOM_FOREST = Candidate(
    "random_forest",
    "RandomForestClassifier",
    ({"n_estimators": 200, "min_samples_leaf": 2, "max_features": "sqrt", "max_samples": 0.7},),
    _build_random_forest,
)
LOGISTIC = Candidate(
    "logistic_regression",
    "LogisticRegression",
    ({"C": 1.0},),
    _build_logistic,
)
CANDIDATES = (XGBOOST, RANDOM_FOREST, LOGISTIC)


def _fit(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    if isinstance(estimator, XGBClassifier):
        estimator.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    else:
        estimator.fit(X, y)
    return estimator


def _calibrate(raw: np.ndarray, calibrators: list[IsotonicRegression]) -> np.ndarray:
    if len(calibrators) == 1:  # binary: calibrate P(positive)
        positive = calibrators[0].predict(raw[:, 1])
        return np.column_stack([1.0 - positive, positive])
    calibrated = np.column_stack([c.predict(raw[:, k]) for k, c in enumerate(calibrators)])
    totals = calibrated.sum(axis=1, keepdims=True)
    # One-vs-rest isotonic maps can all say 0 for an extreme row: fall back to the raw row.
    calibrated = np.where(totals > 0, calibrated, raw)
    return calibrated / calibrated.sum(axis=1, keepdims=True)


@dataclass
class CalibratedModel:
    """A fitted estimator and the isotonic calibrators fitted on its inner out-of-fold scores."""

    estimator: Any
    calibrators: list[IsotonicRegression]
    params: dict[str, Any]
    n_classes: int

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _calibrate(self.estimator.predict_proba(X), self.calibrators)


def group_splits(
    y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds in which no group (star) is on both sides."""
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(y)), y, groups))


def _out_of_fold(
    candidate: Candidate,
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    n_classes: int,
) -> np.ndarray:
    oof = np.zeros((len(y), n_classes))
    for train, test in splits:
        estimator = _fit(candidate.build(params, seed, n_classes), X[train], y[train])
        oof[test] = estimator.predict_proba(X[test])
    return oof


def fit_calibrated(
    candidate: Candidate, X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> CalibratedModel:
    """Choose hyper-parameters by inner grouped CV, calibrate on the inner out-of-fold scores,
    refit on everything given. Sees only the rows it is given."""
    n_classes = int(y.max()) + 1
    splits = group_splits(y, groups, N_INNER_FOLDS, seed + 1)
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for params in candidate.grid:
        oof = _out_of_fold(candidate, params, X, y, splits, seed, n_classes)
        # float32 probabilities sum to 1 only to ~1e-7; log_loss wants float64 exactness
        loss = log_loss(y, oof / oof.sum(axis=1, keepdims=True), labels=list(range(n_classes)))
        if best is None or loss < best[0]:
            best = (loss, params, oof)
    assert best is not None
    _, params, oof = best
    columns = [1] if n_classes == 2 else range(n_classes)
    calibrators = [
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof[:, k], y == k)
        for k in columns
    ]
    estimator = _fit(candidate.build(params, seed, n_classes), X, y)
    return CalibratedModel(estimator, calibrators, params, n_classes)


@dataclass
class CrossValidation:
    proba: np.ndarray  # out-of-fold calibrated probabilities, (n, n_classes)
    fold: np.ndarray  # outer fold of each row
    chosen_params: list[dict[str, Any]]


def cross_validate(
    candidate: Candidate, X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> CrossValidation:
    n_classes = int(y.max()) + 1
    proba = np.zeros((len(y), n_classes))
    fold = np.full(len(y), -1)
    chosen = []
    for k, (train, test) in enumerate(group_splits(y, groups, N_OUTER_FOLDS, seed)):
        model = fit_calibrated(candidate, X[train], y[train], groups[train], seed)
        proba[test] = model.predict_proba(X[test])
        fold[test] = k
        chosen.append(model.params)
    return CrossValidation(proba, fold, chosen)
