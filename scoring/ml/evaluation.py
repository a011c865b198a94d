"""Evaluation rows: what a training or validation run measured, in the shape the registry stores
(``ml.model_metrics``, ``ml.model_curves``) and the model cards print.

Every figure carries its protocol and whether it is honest (computed without vetting outputs):
a figure without the protocol that produced it cannot be compared with anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.ml import metrics


@dataclass(frozen=True)
class Figure:
    """One measured figure: a row of ``ml.model_metrics``."""

    task: str
    estimator: str
    metric: str
    class_label: str
    value: float
    protocol: str
    honest: bool = True

    def row(self, version: str) -> tuple[Any, ...]:
        """The ``ml.model_metrics`` row of this figure for model ``version``."""
        return (
            version,
            self.task,
            self.estimator,
            self.metric,
            self.class_label,
            self.value,
            self.protocol,
            self.honest,
        )


@dataclass
class Evaluation:
    """Out-of-fold figures and curves of one estimator on one task."""

    task: str
    estimator: str
    honest: bool
    protocol: str
    metrics: list[tuple[str, str, float]]  # (metric, class_label, value)
    curves: list[metrics.CurvePoint] = field(default_factory=list)
    chosen_params: list[dict[str, Any]] = field(default_factory=list)

    def value(self, metric: str, class_label: str = "") -> float:
        return next(v for m, c, v in self.metrics if m == metric and c == class_label)

    def figures(self) -> list[Figure]:
        return [
            Figure(self.task, self.estimator, metric, label, value, self.protocol, self.honest)
            for metric, label, value in self.metrics
        ]


def binary_evaluation(
    task: str,
    estimator: str,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    honest: bool,
    protocol: str,
    chosen: list[dict[str, Any]] | None = None,
) -> Evaluation:
    """The binary metrics and curves of scores ``p`` against labels ``y``."""
    figures = metrics.binary_metrics(y, p, threshold)
    return Evaluation(
        task,
        estimator,
        honest,
        protocol,
        [(name, "", value) for name, value in figures.items()],
        metrics.binary_curves(y, p),
        chosen or [],
    )


def curve_rows(version: str, evaluations: list[Evaluation]) -> list[tuple[Any, ...]]:
    """``ml.model_curves`` rows: each curve's points numbered in order."""
    rows = []
    for e in evaluations:
        index: dict[str, int] = {}
        for point in e.curves:
            index[point.curve] = index.get(point.curve, -1) + 1
            rows.append(
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
    return rows
