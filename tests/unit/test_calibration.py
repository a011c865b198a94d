"""The classifiers' calibration: a strict order (no ties), exact explanations, stale artifacts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xgboost

from scoring.ml import nested_cv


def test_p_planet_is_strictly_increasing_in_the_ranking_score_and_leaves_no_ties() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0.8).astype(int)
    groups = np.arange(400) // 2
    model = nested_cv.fit_calibrated(nested_cv.XGBOOST, X, y, groups, seed=0)
    Z = rng.normal(size=(300, 4))
    log_odds = model.log_odds(Z)
    p = model.predict_proba(Z)[:, 1]
    assert len(model.estimators) == 1 + nested_cv.N_INNER_FOLDS
    assert np.allclose(p, 1 / (1 + np.exp(-log_odds)), rtol=0, atol=1e-12)
    assert np.all(np.diff(p[np.argsort(log_odds)]) >= 0)
    assert len(np.unique(log_odds)) == len(Z)
    # exact TreeSHAP of the members' mean: the contributions sum to the mean raw log-odds
    a, b = model.calibration
    shap = model.contributions(Z, ["a", "b", "c", "d"])
    bias = np.mean(
        [
            e.get_booster().predict(xgboost.DMatrix(Z[:1]), pred_contribs=True)[0, -1]
            for e in model.estimators
        ]
    )
    assert np.allclose(shap.sum(axis=1) + bias, (log_odds - b) / a, atol=1e-3)


def test_a_model_pickled_before_the_fold_ensemble_is_refused_in_one_line() -> None:
    old = nested_cv.CalibratedModel.__new__(nested_cv.CalibratedModel)
    old.__dict__.update({"estimator": None, "calibrators": [], "params": {}, "n_classes": 2})
    with pytest.raises(nested_cv.StaleModelError, match="retrain"):
        pickle.loads(pickle.dumps(old))
