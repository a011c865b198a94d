"""What an anomaly run produced: the version, the rows written, its figures and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from scoring.ml.evaluation import Figure


@dataclass
class DetectResult:
    model_version: str
    load_batch_id: int
    trained: bool
    rows: int = 0
    flagged: int = 0
    reasons: int = 0
    figures: list[Figure] = field(default_factory=list)
    diagnostics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    card_path: str | None = None

    def figure(self, task: str, estimator: str, metric: str, label: str = "") -> float:
        for f in self.figures:
            if (f.task, f.estimator, f.metric, f.class_label) == (task, estimator, metric, label):
                return f.value
        raise KeyError((task, estimator, metric, label))

    def summary(self) -> str:
        if not self.trained:
            return f"anomaly model {self.model_version} already scored batch {self.load_batch_id}"
        d = self.diagnostics
        return (
            f"anomaly model {self.model_version} scored batch {self.load_batch_id}: "
            f"{self.rows:,} KOIs, {self.flagged:,} flagged by the ensemble, "
            f"{self.reasons:,} reason rows; outlier model R-hat max {d['r_hat_max']:.3f}, "
            f"ESS min {d['ess_bulk_min']:.0f}, {d['divergences']:.0f} divergences "
            f"({sum(self.timings.values()):.1f} s)"
        )
