"""The model card of a TOI classifier version, generated from the figures its training measured."""

from __future__ import annotations

from scoring import settings
from scoring.classifier import model_card
from scoring.classifier.results import TrainResult
from scoring.ml import features, nested_cv, registry

COMPARISON_TASKS = (
    ("tess_on_tess", "TESS alone"),
    ("joint_on_tess", "joint Kepler + TESS"),
    ("kepler_on_tess", "trained on Kepler"),
    ("kepler_on_kepler", "Kepler alone"),
    ("joint_on_kepler", "joint Kepler + TESS"),
    ("tess_on_kepler", "trained on TESS"),
)


def _comparison(result: TrainResult) -> str:
    measured = {e.task: e for e in result.evaluations}
    if "tess_on_tess" not in measured:
        return "Not measured: no KOI batch was loaded when this model was trained."
    lines = [
        "| tested on | model | ROC AUC | PR AUC | Brier | recall @ precision ≥ 0.90 |",
        "|---|---|---|---|---|---|",
    ]
    for task, label in COMPARISON_TASKS:
        e = measured[task]
        tested = "TESS" if task.endswith("_on_tess") else "Kepler"
        lines.append(
            f"| {tested} | {label} | {e.value('roc_auc'):.4f} | {e.value('pr_auc'):.4f} | "
            f"{e.value('brier'):.4f} | {e.value('recall_at_precision_0.90'):.3f} |"
        )
    return "\n".join(lines)


def render(
    result: TrainResult,
    model: nested_cv.CalibratedModel,
    threshold: float,
    shared_features: tuple[str, ...],
    koi_batch: int | None,
) -> str:
    honest = [
        e for e in result.evaluations if e.task in ("p_planet", "ablation_follow_up_presence")
    ]
    xgb = result.evaluation("p_planet", "xgboost")
    feature_list = "\n".join(f"- `{name}`" for name in features.TESS_HONEST_FEATURES)
    follow_up = ", ".join(f"`{name}`" for name in features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    return f"""# Model card — ExoHunter TOI classifier `{result.model_version}`

## Intended use
Rank TESS Objects of Interest by the probability that the signal is a planet, so that a
scientist can prioritise follow-up of the planet candidates (PC). `p_planet` is a calibrated
probability of CP/KP vs FP/FA *for TOIs like those in the training snapshot*. Not for: Kepler
KOIs (the KOI classifier), single TOIs scored without their star's other TOIs (multiplicity
features), or as a replacement for TFOPWG vetting.

## Data
NASA Exoplanet Archive TOI table, load batch {result.load_batch_id} (snapshot
{result.snapshot_at}), read from `marts.fct_toi_features` only. Trained on the
{result.n_labelled:,} TOIs dispositioned CP, KP, FP or FA; all {result.n_all:,} TOIs are scored,
PC and APC never trained on. The mission comparison also reads KOI batch {koi_batch}.

## Features and the leakage policy
{len(features.TESS_HONEST_FEATURES)} features, physical or transit-fit quantities
(`scoring.ml.features.TESS_HONEST_FEATURES`, the policy in docs/model_card.md):

{feature_list}

Never features (enforced by a test): `tfopwg_disp` (the label); the identifiers `toi` (it also
follows the order of discovery), `tid`; the bookkeeping dates `toi_created` and `rowupdate` (they
move with the dispositioning); the epoch and the sky position; the error bars whose presence is
set by follow-up. The *presence* of {follow_up} follows the follow-up too (confirmation fills
them): the ablation below measures the model without them.

## Protocol
{PROTOCOL_TEXT}

## Metrics — P(planet), CP+KP vs FP+FA (out-of-fold)
{model_card.binary_table(honest)}

Production model: **xgboost** on every feature above, threshold {threshold} on the
calibrated probability; hyper-parameter choices inside the outer folds:
{model_card.choices(xgb.chosen_params)}; the production model uses {model.params}.

### Calibration (reliability of the out-of-fold probabilities)
{model_card.calibration_table(xgb, "CP or KP", "TOIs")}

## Kepler and TESS: one model or two?
XGBoost on the {len(shared_features)} features both marts have (the magnitude in each
mission's band, and the mission as a feature for the joint model), each measured on the rows of
the mission named:

{_comparison(result)}

## Limitations
- The TOI table's transit fit has no impact parameter: the transit-physics features assume a
  central transit (b = 0), so they are bounds, not estimates.
- CP and KP are partly an outcome of follow-up: bright, nearby hosts are easier to confirm.
- Dispositions change: a PC today may be an FP in the next snapshot; retrain on each snapshot.

## Run
Training wall time on this machine: {timings}.
Artifact sha256 is recorded in `ml.model_registry` and verified on every load.
"""


PROTOCOL_TEXT = """\
- Outer: 5-fold `StratifiedGroupKFold` grouped by TIC (no star on both sides), seed 0; all
  figures are computed on the out-of-fold predictions.
- Inner, inside each outer training fold only: 3-fold grouped CV chooses the hyper-parameters
  (lowest log-loss) and yields the out-of-fold log-odds the Platt scaling is fitted on; the
  model is the refit plus the three inner-fold estimators (their mean log-odds).
- The transfers are trained on every labelled row of one mission and tested on every labelled
  row of the other: no row is on both sides."""


def write(
    result: TrainResult,
    model: nested_cv.CalibratedModel,
    threshold: float,
    shared_features: tuple[str, ...],
    koi_batch: int | None,
) -> str:
    """Write the card beside the artifact; return its path relative to the ExoHunter home."""
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, model, threshold, shared_features, koi_batch))
    return str(path.relative_to(settings.home()))
