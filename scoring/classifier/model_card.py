"""The model card of a classifier version, generated from the figures the training run measured."""

from __future__ import annotations

from typing import Any

from scoring import settings
from scoring.classifier.results import TrainResult
from scoring.ml import features, registry
from scoring.ml.evaluation import Evaluation

BINARY_ROWS = (
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC"),
    ("brier", "Brier"),
    ("log_loss", "log-loss"),
    ("precision_at_threshold", "precision @ 0.5"),
    ("recall_at_threshold", "recall @ 0.5"),
    ("recall_at_precision_0.90", "recall @ precision ≥ 0.90"),
    ("recall_at_precision_0.95", "recall @ precision ≥ 0.95"),
    ("recall_at_precision_0.99", "recall @ precision ≥ 0.99"),
)


def choices(chosen: list[dict[str, Any]]) -> str:
    """What the inner searches picked, fold by fold, for the parameters that vary."""
    varying = sorted({k for p in chosen for k in p if p[k] != chosen[0][k]})
    if not varying:
        return "every fold chose the same parameters"
    return "; ".join(f"{k} = {', '.join(str(p[k]) for p in chosen)}" for k in varying)


def binary_table(evaluations: list[Evaluation]) -> str:
    header = "| task | estimator | honest | " + " | ".join(label for _, label in BINARY_ROWS)
    lines = [header + " |", "|" + "---|" * (3 + len(BINARY_ROWS))]
    for e in evaluations:
        cells = " | ".join(f"{e.value(metric):.4f}" for metric, _ in BINARY_ROWS)
        lines.append(f"| {e.task} | {e.estimator} | {'yes' if e.honest else '**NO**'} | {cells} |")
    return "\n".join(lines)


def _three_class_table(e: Evaluation) -> str:
    lines = [
        "| class | precision | recall | F1 | support | one-vs-rest AUC |",
        "|---|---|---|---|---|---|",
    ]
    for name in features.CLASSES:
        lines.append(
            f"| {name} | {e.value('precision', name):.3f} | {e.value('recall', name):.3f} | "
            f"{e.value('f1', name):.3f} | {e.value('support', name):,.0f} | "
            f"{e.value('roc_auc_one_vs_rest', name):.3f} |"
        )
    lines.append(f"\nMacro F1 {e.value('macro_f1'):.3f}, accuracy {e.value('accuracy'):.3f}.")
    return "\n".join(lines)


def calibration_table(e: Evaluation, positive: str = "CONFIRMED", rows: str = "KOIs") -> str:
    lines = [
        f"| mean predicted P(planet) | observed fraction {positive} | {rows} |",
        "|---|---|---|",
    ]
    for point in e.curves:
        if point.curve == "calibration":
            lines.append(f"| {point.x:.3f} | {point.y:.3f} | {point.n:,} |")
    return "\n".join(lines)


def render(result: TrainResult, models: dict[str, Any], threshold: float) -> str:
    honest = [e for e in result.evaluations if e.task == "p_planet"]
    leaky = [e for e in result.evaluations if not e.honest]
    xgb = result.evaluation("p_planet", "xgboost")
    confusion = ", ".join(
        f"{label.replace('_', ' ')} {xgb.value(label):,.0f}"
        for label in ("true_positives", "false_positives", "true_negatives", "false_negatives")
    )
    feature_list = "\n".join(f"- `{name}`" for name in features.HONEST_FEATURES)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    return f"""# Model card — ExoHunter KOI classifier `{result.model_version}`

## Intended use
Rank Kepler Objects of Interest by the probability that the signal is a planet, so that a
scientist can prioritise follow-up of the CANDIDATE KOIs. `p_planet` is a calibrated probability
of CONFIRMED vs FALSE POSITIVE *for KOIs like those in the training snapshot*; a CANDIDATE with a
high `p_planet` is a promising candidate, not a discovery. Not for: other missions (TESS, K2)
without retraining, single KOIs scored without their star's other KOIs (multiplicity features),
or as a replacement for vetting.

## Data
NASA Exoplanet Archive KOI cumulative table, load batch {result.load_batch_id} (snapshot
{result.snapshot_at}), read from `marts.fct_koi_features` only. P(planet) is trained on the
{result.n_labelled:,} CONFIRMED or FALSE POSITIVE KOIs; the three-class model on all
{result.n_all:,} KOIs.

## Features and the leakage policy
{len(features.HONEST_FEATURES)} features, all physical or transit-fit quantities:

{feature_list}

Never features (enforced by a test): the vetting outputs `koi_pdisposition`, `koi_score`,
`koi_fpflag_*`; `kepler_name` (given only to confirmed planets); the identifiers `kepoi_name`,
`kepid`, `loc_rowid`; the pipeline release `koi_tce_delivname`. Also left out on purpose: the
stellar parameters' error bars (small errors mostly mean follow-up spectroscopy was done, which is
a consequence of vetting), `koi_time0bk` and `koi_tce_plnt_num` (they track discovery order and
pipeline runs, not physics), RA/Dec (position in the Kepler field). `kepid` is only the grouping
key of the splits and of the per-star counts.

## Protocol
{PROTOCOL_TEXT}

## Metrics — P(planet), CONFIRMED vs FALSE POSITIVE (out-of-fold)
{binary_table(honest)}

Production model: **xgboost**; chosen threshold {threshold} on the
calibrated probability. Confusion at that threshold: {confusion}.
Hyper-parameter grid choices inside the outer folds: {choices(xgb.chosen_params)}; the
production model (same inner search on all rows) uses {models["p_planet"].params}.

### Not honest — for comparison only
These read vetting outputs and must never be deployed; they show what "reading the answer" gives.

{binary_table(leaky)}

### Calibration (reliability of the out-of-fold probabilities)
{calibration_table(xgb)}

## Metrics — three classes (XGBoost, out-of-fold)
{_three_class_table(result.evaluation("three_class", "xgboost"))}

CANDIDATE is the hardest class by construction: many candidates are planets not yet confirmed.
That is why the headline product is P(planet), applied to the candidates.

## Explanations
Per-KOI contributions are XGBoost TreeSHAP values (`pred_contribs`) of the P(planet) model's four
members, averaged: exact for their mean raw log-odds, before calibration (calibrated log-odds =
a * that + b). Stored in `ml.koi_explanations`.

## Limitations
- One archive snapshot (2019). Under a population shift (later KOIs, a different CONFIRMED
  share) ranking holds up better than fixed-precision operating points; recalibrate on a new
  snapshot when labels exist.
- CONFIRMED is partly an outcome of follow-up: bright, well-characterised hosts are easier to
  confirm, and features such as magnitude or radius can carry some of that selection.
- The transit-fit uncertainties come from the Kepler pipeline; other missions differ.

## Run
Training wall time on this machine: {timings}.
Artifact sha256 is recorded in `ml.model_registry` and verified on every load.
"""


PROTOCOL_TEXT = """\
- Outer: 5-fold `StratifiedGroupKFold` grouped by `kepid` (no star on both sides), seed 0; all
  figures are computed on the out-of-fold predictions.
- Inner, inside each outer training fold only: 3-fold grouped CV chooses the hyper-parameters
  (lowest log-loss) and yields out-of-fold log-odds on which the calibration is fitted; the
  chosen estimator is refitted on the whole training fold and kept with the three inner-fold
  estimators.
- P(planet) = sigmoid(a * mean log-odds of the four estimators + b), Platt scaling fitted on
  the inner out-of-fold log-odds: strictly increasing, so the probabilities keep the model's
  order (an isotonic map is a step function and tied whole blocks of KOIs on one value), and
  the CANDIDATEs are ranked on the calibrated log-odds without ties. The three-class model:
  one-vs-rest isotonic maps of the four estimators' mean probabilities, renormalised.
- Class imbalance: balanced class weights; the calibration restores true frequencies (class
  weights shift the log-odds, which Platt scaling undoes).
- Recall at precision ≥ p: the highest recall on the out-of-fold precision-recall curve whose
  precision is at least p."""


def write(result: TrainResult, models: dict[str, Any], threshold: float) -> str:
    """Write the card beside the artifact; return its path relative to the ExoHunter home."""
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, models, threshold))
    return str(path.relative_to(settings.home()))
