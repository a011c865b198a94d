"""The model card of an anomaly model version, generated from the figures its run measured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring import settings
from scoring.anomalies import outlier_model, pyod_ensemble
from scoring.anomalies.results import DetectResult
from scoring.anomalies.validation import INJECTIONS
from scoring.ml import features, registry

TOP = 20


def _injection_table(result: DetectResult) -> str:
    lines = ["| injection | ensemble recall | Bayesian recall |", "|---|---|---|"]
    for name in INJECTIONS:
        lines.append(
            f"| {name} | {result.figure('injection', 'ensemble', 'recall', name):.2f} | "
            f"{result.figure('injection', 'bayesian', 'recall', name):.2f} |"
        )
    return "\n".join(lines)


def _meaning_table(result: DetectResult) -> str:
    lines = ["| lens | all KOIs | " + " | ".join(features.CLASSES) + " | FP enrichment |"]
    lines.append("|---|---|" + "---|" * len(features.CLASSES) + "---|")
    for lens in ("ensemble", "bayesian"):
        shares = " | ".join(
            f"{result.figure('meaning', lens, 'flagged_share', label):.2%}"
            for label in features.CLASSES
        )
        lines.append(
            f"| {lens} | {result.figure('meaning', lens, 'flagged_share'):.2%} | {shares} | "
            f"{result.figure('meaning', lens, 'false_positive_enrichment'):.2f}x |"
        )
    return "\n".join(lines)


def _top_table(
    frame: pd.DataFrame,
    ensemble: pyod_ensemble.EnsembleScores,
    bayes: outlier_model.BayesianScores,
    reasons: list[tuple[int, str, float | None, float, int]],
) -> str:
    p_outlier = np.full(len(frame), np.nan)
    p_outlier[bayes.rows] = bayes.scores.p_outlier
    by_row: dict[int, list[str]] = {}
    for row, feature, value, deviation, _ in reasons:
        shown = "NULL" if value is None else f"{value:.3g}"
        by_row.setdefault(row, []).append(f"{feature} = {shown} ({deviation:+.2f})")
    lines = [
        "| rank | KOI | disposition | ensemble | P(outlier) | reasons (value, deviation) |",
        "|---|---|---|---|---|---|",
    ]
    for row in np.argsort(ensemble.rank)[:TOP]:
        p = "-" if np.isnan(p_outlier[row]) else f"{p_outlier[row]:.2f}"
        lines.append(
            f"| {ensemble.rank[row]} | {frame['kepoi_name'].iloc[row]} | "
            f"{frame[features.LABEL].iloc[row]} | {ensemble.ensemble_score[row]:.3f} | {p} | "
            f"{'; '.join(by_row.get(int(row), []))} |"
        )
    return "\n".join(lines)


def render(
    result: DetectResult,
    frame: pd.DataFrame,
    ensemble: pyod_ensemble.EnsembleScores,
    bayes: outlier_model.BayesianScores,
    reasons: list[tuple[int, str, float | None, float, int]],
) -> str:
    d = result.diagnostics
    means = ", ".join(f"{p} {d[f'posterior_mean_{p}']:.3f}" for p in outlier_model.PARAMETERS)
    budget = pyod_ensemble.DEFAULT_BUDGET
    return f"""# Model card — ExoHunter anomaly model `{result.model_version}`

## Intended use
Point a scientist at the KOIs worth a second look because they fit no known pattern — in the
spirit of Boyajian's star. Two lenses, both fitted on load batch {result.load_batch_id}
({len(frame):,} KOIs):

- **Ensemble ("unlike the others")**: Isolation Forest, ECOD, COPOD and KNN (PyOD) on
  {len(pyod_ensemble.ANOMALY_FEATURES)} scale-free features describing the signal relative to its
  star
  ({", ".join(f"`{f}`" for f in pyod_ensemble.ANOMALY_FEATURES)}). Each detector's score becomes a
  percentile in the batch; the ensemble score is their mean. The top {budget:.0%} is flagged
  (`is_anomaly`).
- **Bayesian outlier model ("inconsistent with a planet transiting this star")**: a mixture of a
  consistent and an outlier population (Hogg, Bovy & Lang 2010) on `{outlier_model.RELATION}`, the
  stellar density implied by the transit (period, duration, depth, impact; circular orbit) against
  the catalogue density from log g and R*. `p_outlier` is the posterior probability of the outlier
  component, with a 90 % credible interval; `is_bayes_outlier` marks the top {budget:.0%} by
  posterior log odds. {bayes.fit.n_kois:,} KOIs have the inputs; the others get no Bayesian score.

Neither lens says "planet" or "not planet": they rank what deserves a human look.

## What an outlier means — and what it does not
A large density mismatch means the transit does not fit a planet on a circular orbit around the
catalogued star: an **eclipsing binary** (often grazing, or diluted by a **blend** with another
star), a **highly eccentric orbit**, or **wrong stellar parameters** (a giant catalogued as a
dwarf, an unresolved companion). It does *not* mean the signal is not a planet — eccentric planets
and stars with bad log g are real outliers of this relation — nor that a consistent KOI is a
planet: a blend can mimic the right density. An ensemble anomaly is only "rare in this catalogue";
many are broken or extreme fits (a zero depth, a planet radius inconsistent with its depth).

## The Bayesian model
Priors (log10 density units): mu ~ Normal(0, 1); tau ~ HalfNormal(0.5); f_out ~ Beta(1, 4);
mu_out ~ Normal(0, 2); delta ~ HalfNormal(2), the outlier width being tau + delta. Measurement
uncertainty per KOI from the catalogue errors of log g and R* and the duration's relative error.
NUTS (NumPyro), {d["draws"]:.0f} draws in {bayes.fit.config.chains} chains after
{bayes.fit.config.warmup} warm-up each: **R-hat max {d["r_hat_max"]:.3f}, bulk ESS min
{d["ess_bulk_min"]:.0f}, {d["divergences"]:.0f} divergences**, {d["fit_seconds"]:.1f} s
({d["ess_per_second"]:.0f} effective samples/s for the slowest parameter). A fit with R-hat > 1.01,
ESS < 400 or any divergence is rejected and nothing is stored. Posterior means: {means}.

## Validation
**Injection** (named synthetic copies of real CONFIRMED KOIs, mixed into the real batch; recall =
share inside the lens's top {budget:.0%}):

{_injection_table(result)}

- `long_duration`: the transit lasts 10-30x longer than observed, far too long for any circular
  orbit of that period around that star (the implied density drops by 3-4.4 dex).
- `oversized_occulter`: a depth over 100 %, i.e. an occulter 1.1-2x larger than the star.

Each lens catches the inconsistency it can see: the Bayesian model reads only the density
relation, so an oversized occulter (which moves the density by about one dex) is not its
business; the ensemble reads the depth directly. Long transits compete with the many real KOIs of
this catalogue that are just as inconsistent (eclipsing binaries around misclassified giants),
which is why neither lens puts all of them in a 2 % budget.

**Stability**: the ensemble's top 100 across five seeds overlaps by at least
{result.figure("stability", "ensemble", "top100_overlap_min"):.2f} (mean
{result.figure("stability", "ensemble", "top100_overlap_mean"):.2f}).

**Meaning** — share flagged per archive disposition:

{_meaning_table(result)}

## The top {TOP} of the ensemble
Deviation: how far the KOI sits from the batch median in the detectors' units (log10 for the
scale-free features, divided by the 1st-99th percentile span).

{_top_table(frame, ensemble, bayes, reasons)}

Timings: {", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())}.
"""


def write(
    result: DetectResult,
    frame: pd.DataFrame,
    ensemble: pyod_ensemble.EnsembleScores,
    bayes: outlier_model.BayesianScores,
    reasons: list[tuple[int, str, float | None, float, int]],
) -> str:
    """Write the card beside the artifact; return its path relative to the ExoHunter home."""
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, frame, ensemble, bayes, reasons))
    return str(path.relative_to(settings.home()))
