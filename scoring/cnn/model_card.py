"""The model card of a CNN version, written beside its artifact from what the training measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoring import settings
from scoring.cnn import tfrecords, training
from scoring.ml import registry
from scoring.ml.evaluation import Evaluation

if TYPE_CHECKING:
    from scoring.cnn.publish import TrainResult

COLUMNS = (
    ("pr_auc", "average precision"),
    ("roc_auc", "ROC AUC"),
    ("recall_at_precision_0.90", "recall @ precision ≥ 0.9"),
    ("accuracy", "accuracy"),
)


def metrics_table(evaluations: list[Evaluation]) -> str:
    """One row per (protocol, scorer), with Yu et al. 2019's reported figures on top."""
    header = "| split | scorer | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (2 + len(COLUMNS))]
    paper = [
        f"{training.PAPER_FIGURES[m]:.3f}" if m in training.PAPER_FIGURES else "-"
        for m, _ in COLUMNS
    ]
    lines.append(f"| paper (reported) | Yu et al. 2019 | {' | '.join(paper)} |")
    for e in evaluations:
        cells = " | ".join(f"{e.value(m):.3f}" for m, _ in COLUMNS)
        lines.append(f"| {e.task.removeprefix('pc_vs_rest_')} | {e.estimator} | {cells} |")
    return "\n".join(lines)


def counts_table(counts: dict[str, dict[str, int]]) -> str:
    lines = ["| file | " + " | ".join(tfrecords.LABELS) + " |", "|---|---|---|---|"]
    for split, row in counts.items():
        lines.append(
            f"| {split} | " + " | ".join(f"{row[label]:,}" for label in tfrecords.LABELS) + " |"
        )
    return "\n".join(lines)


def render(result: TrainResult, data: str) -> str:
    both = ", ".join(f"{pair} {n}" for pair, n in result.stars_on_both_sides.items())
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    epochs = ", ".join(f"{k} {v}" for k, v in result.epochs.items())
    return f"""# Model card — ExoHunter light-curve CNN `{result.model_version}`

## Intended use
P(planet candidate) for a periodic signal, from the shape of its folded light curve: a vetting
score beside the table model's P(planet), not a replacement for a vetter. Trained on TESS
Quick-Look Pipeline signals of 30-minute full-frame images (sectors 1-5); a Kepler, K2 or
2-minute TESS light curve is outside the training domain and its score is an extrapolation.
In the product every signal of an upload is scored and shown beside P(planet) with its three
views; the score is not used in the verdict (the light-curve benchmark, docs/cnn.md).

## Data
`{data}`: Yu et al. 2019's own TFRecords ({sum(result.counts["all"].values()):,} signals), labels by
human vetters. PC against the rest (EB, J).

{counts_table(result.counts)}

The paper's split shuffles signals, not stars: stars with signals on two sides: {both}.

## Inputs
The global (201 bins), local (61) and secondary (61) views, built by `scoring/cnn/views.py` with
the training views' binning and normalisation, plus the period and the duration (each through its
training quantiles). The records' other scalars (`depth_change`, `SN`, `Tmag`, `Transit_Depth`,
`Qingress`) need the QLP's apertures or catalogue and are used only by the comparison scorers;
`toi_id` is never an input (a TOI number is given to the signals vetters promoted).

## Protocol
Each split trains on its train part (class weights: both classes the same total), stops early
on the validation average precision (restoring the best epoch), and is measured once on its
test part. `paper`: {training.PROTOCOLS["paper"]}; `tic`: {training.PROTOCOLS["tic"]}. The
registered network is the `cnn` scorer of the `tic` split. Accuracy is at the threshold with the
best validation accuracy (the class weights move the scores; they are not calibrated
probabilities).

## Metrics (test parts)
{metrics_table(result.evaluations)}

`xgboost_scalars`: XGBoost on the records' scalars only; `cnn_with_scalars`: the views plus
those scalars; `cnn_xgboost_mean`: the mean of the `cnn` and `xgboost_scalars` scores.

## Training
Epochs: {epochs}. Wall time: {seconds}.
"""


def write(result: TrainResult, data: str) -> str:
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, data))
    return str(path.relative_to(settings.home()))
