"""Scoring one signal with the CNN: views from ExoHunter's own fold, then the network.

What the product calls (the upload's store, the result page)::

    version, model = predict.champion(conn)          # None, None before `exohunter cnn train`
    score = predict.score_signal(model, time, flux, signal.period_days, signal.epoch,
                                 signal.duration_hours / 24)
    score.p_pc, score.views.global_view, score.views.local_view, score.views.secondary_view

``time`` and ``flux`` are the detrended light curve the search folded; ``epoch`` is a transit
time in the unit of ``time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from scoring.cnn import network, training, views
from scoring.cnn.views import FoldViews
from scoring.ml import registry


@dataclass(frozen=True)
class Model:
    """A loaded CNN: its weights by layer, its scalar scaler, its threshold."""

    weights: network.Weights
    scaler: training.Scaler
    threshold: float

    @classmethod
    def from_artifact(cls, artifact: dict[str, Any]) -> Model:
        scaler = training.Scaler(tuple(artifact["scalars"]), np.asarray(artifact["quantiles"]))
        stored = artifact["weights"]
        if isinstance(stored, list):  # an artifact of before the layers were named: Keras maps it
            stored = network.weights(network.restore(len(scaler.names), stored))
        return cls(stored, scaler, float(artifact["threshold"]))

    def p_pc(
        self, fold_views: list[FoldViews], periods: np.ndarray, durations: np.ndarray
    ) -> np.ndarray:
        """P(PC) of several signals at once (one network call)."""
        stacked = {
            name: np.stack([v.as_dict()[name] for v in fold_views]) for name in network.VIEW_BINS
        }
        columns = {"Period": np.asarray(periods, float), "Duration": np.asarray(durations, float)}
        batch = network.inputs(stacked, self.scaler.transform(columns))
        return network.forward(self.weights, batch)


@dataclass(frozen=True)
class Score:
    p_pc: float
    likely_pc: bool  # p_pc at or above the threshold chosen on validation
    views: FoldViews


def score_signal(
    model: Model,
    time: np.ndarray,
    flux: np.ndarray,
    period_days: float,
    epoch: float,
    duration_days: float,
) -> Score:
    """The CNN's score of one signal of a detrended light curve, with the views it saw."""
    fold_views = views.build(time, flux, period_days, epoch, duration_days)
    p = float(model.p_pc([fold_views], np.array([period_days]), np.array([duration_days]))[0])
    return Score(p, p >= model.threshold, fold_views)


_MODELS: dict[str, Model] = {}


def champion(conn: psycopg.Connection) -> tuple[str | None, Model | None]:
    """The champion's version and model (its artifact sha256-checked on first load, then kept)."""
    version = registry.champion(conn, registry.LIGHTCURVE_CNN)
    if version is None:
        return None, None
    if version not in _MODELS:
        _MODELS[version] = Model.from_artifact(registry.load_artifact(conn, version))
    return version, _MODELS[version]
