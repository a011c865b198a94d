"""The unsupervised lens: "this KOI's signal is unlike the others".

Four PyOD detectors with different ideas of "unusual" — isolation (Isolation Forest), per-feature
tail probabilities (ECOD, COPOD) and distance to the neighbours (KNN) — score the same KOIs. No
single detector wins everywhere, so each detector's scores become percentiles within the batch
and the ensemble score is their mean (rank averaging: immune to the detectors' different scales).
The top ``budget`` share of the ensemble is flagged.

The features describe the *signal relative to its star*, scale-free: an ordinary planet around an
unusual star (a giant, say) is not an anomaly; a transit whose shape, depth or duration fits no
planet is. Each flagged KOI gets its reasons: the features on which it sits furthest from the
typical KOI, in the detectors' own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from scipy.stats import rankdata

from scoring.ml import features

# Heavy-tailed, positive quantities: the detectors see their log10.
LOG_FEATURES: tuple[str, ...] = (
    "orbital_period_days",
    "duration_ratio",  # observed / expected central-transit duration for this star
    "radius_ratio",  # Rp / R* from the depth
    "planet_radius_consistency",  # archive radius / radius implied by depth and R*
    "snr_per_transit",
)
LINEAR_FEATURES: tuple[str, ...] = (
    "impact_parameter",
    "log10_density_ratio",  # stellar density from the transit vs from the catalogue
)
ANOMALY_FEATURES: tuple[str, ...] = LOG_FEATURES + LINEAR_FEATURES
DETECTORS: tuple[str, ...] = ("iforest", "ecod", "copod", "knn")
DEFAULT_BUDGET = 0.02
N_REASONS = 3
# KNN compares each KOI with a reference sample of at most this many rows: exact for a KOI
# table (~10,000 rows), and linear in the batch size for large synthetic batches.
KNN_REFERENCE_ROWS = 20_000


@dataclass(frozen=True)
class FeatureScaler:
    """log10 for the scale-free features, then (x - median) / (p99 - p1); missing values sit at
    the median, so a missing measurement never makes a KOI look unusual."""

    log_floor: dict[str, float]
    median: np.ndarray
    span: np.ndarray

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeatureScaler:
        floors = {}
        for name in LOG_FEATURES:
            positive = frame[name][frame[name] > 0]
            # zeros (a zero depth, a zero SNR) sit just below the smallest real value
            floors[name] = float(positive.min() / 10) if len(positive) else 1e-12
        logged = _log(frame, floors)
        low, median, high = np.nanpercentile(logged, [1, 50, 99], axis=0)
        span = np.where(high > low, high - low, 1.0)
        return cls(floors, median, span)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        scaled = (_log(frame, self.log_floor) - self.median) / self.span
        return np.nan_to_num(scaled, nan=0.0)


def _log(frame: pd.DataFrame, floors: dict[str, float]) -> np.ndarray:
    columns = []
    for name in ANOMALY_FEATURES:
        values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        if name in floors:
            values = np.log10(np.maximum(values, floors[name]))
        columns.append(values)
    return np.column_stack(columns)


@dataclass
class EnsembleScores:
    """Per KOI (rows aligned with the input frame)."""

    detector_scores: pd.DataFrame  # one percentile column per detector, 0 = ordinary, 1 = rarest
    ensemble_score: np.ndarray
    rank: np.ndarray  # 1 = most unusual
    is_anomaly: np.ndarray
    deviations: np.ndarray  # the detectors' input, for the reasons


def percentile(scores: np.ndarray) -> np.ndarray:
    return rankdata(scores, method="average") / len(scores)


def _knn_scores(X: np.ndarray, seed: int) -> np.ndarray:
    """Mean distance to the 20 nearest *other* KOIs of the reference sample."""
    knn = KNN(n_neighbors=20, method="mean")
    if len(X) <= KNN_REFERENCE_ROWS:
        return knn.fit(X).decision_scores_
    reference = np.random.default_rng(seed).choice(len(X), KNN_REFERENCE_ROWS, replace=False)
    knn.fit(X[reference])
    scores = knn.decision_function(X)
    scores[reference] = knn.decision_scores_  # leave-self-out for the reference rows
    return scores


def detector_scores(X: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    return {
        "iforest": IForest(n_estimators=200, random_state=seed).fit(X).decision_scores_,
        "ecod": ECOD().fit(X).decision_scores_,
        "copod": COPOD().fit(X).decision_scores_,
        "knn": _knn_scores(X, seed),
    }


def flag_top(score: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1 = highest score, ties by position) and the flag of the top ``budget`` share."""
    order = np.argsort(-score, kind="stable")
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(1, len(score) + 1)
    return rank, rank <= int(np.ceil(budget * len(score)))


def score_batch(
    frame: pd.DataFrame, seed: int = 0, budget: float = DEFAULT_BUDGET
) -> EnsembleScores:
    """Fit the detectors on this batch and score it (the detectors judge a KOI against the
    batch it belongs to)."""
    if not 0 < budget < 1:
        raise ValueError(f"the contamination budget must be in (0, 1), got {budget}")
    features.check_honest(ANOMALY_FEATURES)
    X = FeatureScaler.fit(frame).transform(frame)
    raw = detector_scores(X, seed)
    percentiles = pd.DataFrame({name: percentile(raw[name]) for name in DETECTORS})
    ensemble = percentiles.to_numpy().mean(axis=1)
    rank, flagged = flag_top(ensemble, budget)
    return EnsembleScores(percentiles, ensemble, rank, flagged, X)


def reasons(
    frame: pd.DataFrame, scores: EnsembleScores, n: int = N_REASONS
) -> list[tuple[int, str, float | None, float, int]]:
    """(row, feature, value, deviation, rank) for the ``n`` largest deviations of each flagged
    KOI."""
    rows = []
    for row in np.flatnonzero(scores.is_anomaly):
        deviation = scores.deviations[row]
        for rank, column in enumerate(np.argsort(-np.abs(deviation), kind="stable")[:n], 1):
            name = ANOMALY_FEATURES[column]
            value = frame[name].iloc[row]
            rows.append(
                (
                    int(row),
                    name,
                    None if pd.isna(value) else float(value),
                    float(deviation[column]),
                    rank,
                )
            )
    return rows
