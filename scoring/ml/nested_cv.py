"""Calibrated classifiers and the grouped, nested cross-validation that measures them.

Protocol (the same for every candidate):
- outer: 5-fold ``StratifiedGroupKFold`` grouped by ``kepid`` — KOIs of one star never sit on
  both sides; every reported figure is computed on the out-of-fold predictions;
- inner, inside each outer training fold only: 3-fold grouped CV picks the hyper-parameters
  (lowest log-loss over a small grid) and yields out-of-fold scores on which the calibration is
  fitted; the chosen estimator is then refitted on the whole training fold.

A model is the refit plus the three inner-fold estimators, whose mean log-odds are mapped to a
probability by Platt scaling (several classes: isotonic maps of the mean probabilities). Platt
scaling is strictly increasing, so P(planet) keeps the model's order, where an isotonic map (a
step function) ties whole blocks of KOIs on one value. The mean over four estimators
breaks the ties one tree ensemble leaves (rows that fall in the same leaves of every tree), and
its exact TreeSHAP contributions are the mean of theirs. Class imbalance is handled with
balanced class weights; the calibration restores the true class frequencies (class weights
shift the log-odds, which is exactly what Platt scaling undoes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost
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

from scoring.errors import ExoHunterError

N_OUTER_FOLDS = 5
N_INNER_FOLDS = 3


def protocol(group_key: str) -> str:
    """The protocol of ``cross_validate`` with rows grouped by ``group_key`` (the star)."""
    return (
        f"5-fold StratifiedGroupKFold grouped by {group_key} (seed 0), out-of-fold predictions; "
        "hyper-parameters and calibration (Platt scaling of the mean log-odds of the refit and "
        "the 3 inner-fold models) chosen inside each training fold by 3-fold grouped CV"
    )


PROTOCOL = protocol("kepid")

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


def _log_odds(estimator: Any, X: np.ndarray) -> np.ndarray:
    """The estimator's own log-odds of the positive class, in float64."""
    if isinstance(estimator, XGBClassifier):
        return estimator.predict(X, output_margin=True).astype("float64")
    p = np.clip(estimator.predict_proba(X)[:, 1].astype("float64"), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _raw_scores(estimators: list[Any], X: np.ndarray, n_classes: int) -> np.ndarray:
    """Binary: the members' mean log-odds, (n,); several classes: their mean probabilities."""
    if n_classes == 2:
        return np.mean([_log_odds(e, X) for e in estimators], axis=0)
    return np.mean([e.predict_proba(X).astype("float64") for e in estimators], axis=0)


class StaleModelError(ExoHunterError):
    pass


@dataclass
class CalibratedModel:
    """The estimator refitted on all rows given plus the inner folds' estimators, and the
    calibration fitted on the inner out-of-fold scores.

    Binary: P = sigmoid(a * mean log-odds + b) (Platt scaling, strictly increasing); several
    classes: one-vs-rest isotonic maps of the mean probabilities, renormalised.
    """

    estimators: list[Any]  # the refit first, then one per inner fold
    calibration: Any  # binary: (a, b); several classes: one IsotonicRegression per class
    params: dict[str, Any]
    n_classes: int

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "estimators" not in state:  # pickled before the fold ensemble and Platt scaling
            raise StaleModelError(
                "this model was saved by an older ExoHunter (one estimator, isotonic P(planet)): "
                "retrain it (`exohunter train --force`, `exohunter lightcurves train --force`)"
            )
        self.__dict__.update(state)

    def log_odds(self, X: np.ndarray) -> np.ndarray:
        """Binary only: the calibrated log-odds of the positive class — the ranking score,
        float64 and strictly increasing in the members' mean log-odds."""
        a, b = self.calibration
        return a * _raw_scores(self.estimators, X, 2) + b

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.n_classes == 2:
            positive = 1.0 / (1.0 + np.exp(-self.log_odds(X)))
            return np.column_stack([1.0 - positive, positive])
        raw = _raw_scores(self.estimators, X, self.n_classes)
        calibrated = np.column_stack([c.predict(raw[:, k]) for k, c in enumerate(self.calibration)])
        totals = calibrated.sum(axis=1, keepdims=True)
        # One-vs-rest isotonic maps can all say 0 for an extreme row: fall back to the raw row.
        calibrated = np.where(totals > 0, calibrated, raw)
        return calibrated / calibrated.sum(axis=1, keepdims=True)

    def contributions(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """Exact TreeSHAP contributions (n, n_features) to the members' mean raw log-odds of
        P(planet) (XGBoost binary models; TreeSHAP is additive, so the mean is exact)."""
        matrix = xgboost.DMatrix(X, feature_names=names)
        return np.mean(
            [e.get_booster().predict(matrix, pred_contribs=True)[:, :-1] for e in self.estimators],
            axis=0,
        )


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
) -> tuple[np.ndarray, list[Any]]:
    """Out-of-fold raw scores (as ``_raw_scores``) and the fold estimators that made them."""
    oof = np.zeros(len(y)) if n_classes == 2 else np.zeros((len(y), n_classes))
    estimators = []
    for train, test in splits:
        estimator = _fit(candidate.build(params, seed, n_classes), X[train], y[train])
        oof[test] = _raw_scores([estimator], X[test], n_classes)
        estimators.append(estimator)
    return oof, estimators


def _inner_loss(y: np.ndarray, oof: np.ndarray, n_classes: int) -> float:
    if n_classes == 2:
        return float(log_loss(y, 1.0 / (1.0 + np.exp(-oof)), labels=[0, 1]))
    # float32 probabilities sum to 1 only to ~1e-7; log_loss wants float64 exactness
    return float(log_loss(y, oof / oof.sum(axis=1, keepdims=True), labels=list(range(n_classes))))


def _fit_calibration(y: np.ndarray, oof: np.ndarray, n_classes: int) -> Any:
    if n_classes == 2:
        platt = LogisticRegression(C=1e6).fit(oof[:, None], y)  # effectively unpenalised
        return float(platt.coef_[0, 0]), float(platt.intercept_[0])
    return [
        IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof[:, k], y == k)
        for k in range(n_classes)
    ]


def fit_calibrated(
    candidate: Candidate, X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> CalibratedModel:
    """Choose hyper-parameters by inner grouped CV, calibrate on the inner out-of-fold scores,
    refit on everything given and keep the inner folds' estimators beside the refit (their mean
    breaks the ties a single tree ensemble leaves). Sees only the rows it is given."""
    n_classes = int(y.max()) + 1
    splits = group_splits(y, groups, N_INNER_FOLDS, seed + 1)
    best: tuple[float, dict[str, Any], np.ndarray, list[Any]] | None = None
    for params in candidate.grid:
        oof, fold_estimators = _out_of_fold(candidate, params, X, y, splits, seed, n_classes)
        loss = _inner_loss(y, oof, n_classes)
        if best is None or loss < best[0]:
            best = (loss, params, oof, fold_estimators)
    assert best is not None
    _, params, oof, fold_estimators = best
    refit = _fit(candidate.build(params, seed, n_classes), X, y)
    return CalibratedModel(
        [refit, *fold_estimators], _fit_calibration(y, oof, n_classes), params, n_classes
    )


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
