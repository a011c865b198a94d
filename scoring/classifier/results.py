"""What a training run of the KOI classifier produced: the version, its evaluations, timings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scoring.ml.evaluation import Evaluation


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
