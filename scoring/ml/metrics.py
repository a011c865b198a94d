"""Classification metrics and curve points, computed from out-of-fold predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

PRECISION_TARGETS = (0.90, 0.95, 0.99)
MAX_CURVE_POINTS = 200
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class CurvePoint:
    curve: str  # 'roc' | 'pr' | 'calibration'
    x: float
    y: float
    threshold: float | None = None
    n: int | None = None


def recall_at_precision(y: np.ndarray, p: np.ndarray, precision: float) -> float:
    """Highest recall over thresholds whose precision is at least ``precision`` (0 if none)."""
    prec, rec, _ = skm.precision_recall_curve(y, p)
    ok = prec >= precision
    return float(rec[ok].max()) if ok.any() else 0.0


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC/PR AUC, Brier, log-loss, precision/recall/F1 at ``threshold``, recall at fixed
    precision, and the confusion matrix (CONFIRMED is the positive class)."""
    predicted = p >= threshold
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    figures = {
        "roc_auc": skm.roc_auc_score(y, p),
        "pr_auc": skm.average_precision_score(y, p),
        "brier": skm.brier_score_loss(y, p),
        "log_loss": skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)),
        "threshold": threshold,
        "precision_at_threshold": skm.precision_score(y, predicted, zero_division=0),
        "recall_at_threshold": skm.recall_score(y, predicted, zero_division=0),
        "f1_at_threshold": skm.f1_score(y, predicted, zero_division=0),
        "true_negatives": tn,
        "false_positives": fp,
        "false_negatives": fn,
        "true_positives": tp,
        "n": len(y),
    }
    for target in PRECISION_TARGETS:
        figures[f"recall_at_precision_{target:.2f}"] = recall_at_precision(y, p, target)
    return {name: float(value) for name, value in figures.items()}


def _thin(n: int) -> np.ndarray:
    """Indices of at most MAX_CURVE_POINTS evenly spread points, ends included."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(int))


def binary_curves(y: np.ndarray, p: np.ndarray) -> list[CurvePoint]:
    points: list[CurvePoint] = []
    fpr, tpr, roc_thresholds = skm.roc_curve(y, p)
    for i in _thin(len(fpr)):
        threshold = float(min(roc_thresholds[i], 1.0))
        points.append(CurvePoint("roc", float(fpr[i]), float(tpr[i]), threshold))
    precision, recall, pr_thresholds = skm.precision_recall_curve(y, p)
    for i in _thin(len(pr_thresholds)):
        points.append(
            CurvePoint("pr", float(recall[i]), float(precision[i]), float(pr_thresholds[i]))
        )
    bins = np.clip((p * CALIBRATION_BINS).astype(int), 0, CALIBRATION_BINS - 1)
    for b in range(CALIBRATION_BINS):
        members = bins == b
        if members.any():
            points.append(
                CurvePoint(
                    "calibration",
                    float(p[members].mean()),
                    float(y[members].mean()),
                    n=int(members.sum()),
                )
            )
    return points


def multiclass_metrics(
    y: np.ndarray, proba: np.ndarray, classes: tuple[str, ...]
) -> list[tuple[str, str, float]]:
    """(metric, class_label, value): per-class precision/recall/F1, macro F1, accuracy, log-loss,
    and the confusion matrix as ``confusion_count`` with class_label 'true → predicted'."""
    predicted = proba.argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    rows: list[tuple[str, str, float]] = []
    for i, name in enumerate(classes):
        rows += [
            ("precision", name, precision[i]),
            ("recall", name, recall[i]),
            ("f1", name, f1[i]),
            ("support", name, support[i]),
            ("roc_auc_one_vs_rest", name, skm.roc_auc_score(y == i, proba[:, i])),
        ]
    rows += [
        ("macro_f1", "", skm.f1_score(y, predicted, average="macro")),
        ("accuracy", "", skm.accuracy_score(y, predicted)),
        ("log_loss", "", skm.log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=labels)),
    ]
    confusion = skm.confusion_matrix(y, predicted, labels=labels)
    for i, true_name in enumerate(classes):
        for j, predicted_name in enumerate(classes):
            rows.append(("confusion_count", f"{true_name} → {predicted_name}", confusion[i, j]))
    return [(metric, label, float(value)) for metric, label, value in rows]
