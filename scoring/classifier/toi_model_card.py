"""The model card of a TOI classifier version, generated from the figures its training measured."""

from __future__ import annotations

from scoring import settings
from scoring.classifier import model_card
from scoring.classifier.results import TrainResult
from scoring.ml import features, nested_cv, registry


def render(result: TrainResult, model: nested_cv.CalibratedModel, threshold: float) -> str:
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
PC and APC never trained on.

## Features and the leakage policy
{len(features.TESS_HONEST_FEATURES)} features, physical or transit-fit quantities
(`scoring.ml.features.TESS_HONEST_FEATURES`, the policy in docs/model_card.md):

{feature_list}

Never features (enforced by a test): `tfopwg_disp` (the label); the identifiers `toi` (it also
follows the order of discovery), `tid`; the bookkeeping dates `toi_created` and `rowupdate` (they
move with the dispositioning); the epoch and the sky position; the error bars whose presence is
set by follow-up. The *presence* of {follow_up} follows the follow-up too (confirmation fills
them). Three ablations below ask whether the model reads the follow-up in what is missing:
without these features (`ablation_follow_up_presence`), with their missing values filled by
their median over every TOI so that absence says nothing (`ablation_follow_up_median_filled`),
and their missingness alone (`ablation_follow_up_missingness_only`).

## Protocol
{PROTOCOL_TEXT}

## Metrics — P(planet), CP+KP vs FP+FA (out-of-fold)
{model_card.binary_table(result.evaluations)}

Production model: **xgboost** on every feature above, threshold {threshold} on the
calibrated probability; hyper-parameter choices inside the outer folds:
{model_card.choices(xgb.chosen_params)}; the production model uses {model.params}.

### Calibration (reliability of the out-of-fold probabilities)
{model_card.calibration_table(xgb, "CP or KP", "TOIs")}

## Kepler and TESS: one model or two?
`exohunter compare-missions` measures it on the features both marts share (each mission alone,
one joint model, the transfer both ways) and writes the table beside this card as
`mission_comparison.md`; its figures are stored under this version in `ml.model_metrics`.

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
  model is the refit plus the three inner-fold estimators (their mean log-odds)."""


def write(result: TrainResult, model: nested_cv.CalibratedModel, threshold: float) -> str:
    """Write the card beside the artifact; return its path relative to the ExoHunter home."""
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, model, threshold))
    return str(path.relative_to(settings.home()))
