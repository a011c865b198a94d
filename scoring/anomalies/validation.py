"""Does each anomaly lens find what it should? Measured on the real KOIs, with named synthetic
injections.

- Injection: copies of real CONFIRMED KOIs (renamed ``SYNTH-…``) are altered to be physically
  inconsistent and mixed into the real batch; recall = the share of them inside a lens's top
  ``budget``. Each injection changes the transit inputs and propagates the change to the derived
  features with the same physics the dbt models use, in the small-angle limit (a/R* ∝ T^-1 ·
  sqrt((1+k)^2 - b^2), rho* ∝ (a/R*)^3).
- Stability: overlap of the ensemble's top 100 across seeds.
- Meaning: the flagged share per archive disposition (anomalies should be enriched in FALSE
  POSITIVEs, which are mostly eclipsing binaries and blends).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from scoring.anomalies import outlier_model, pyod_ensemble
from scoring.ml import features
from scoring.ml.evaluation import Figure

INJECTED_PER_REPEAT = 50
REPEATS = 2
STABILITY_SEEDS = (0, 1, 2, 3, 4)
STABILITY_TOP = 100


def long_duration(kois: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A transit 10-30x longer than observed: far too long for any circular orbit of that period
    around that star (the implied stellar density drops by 3-4.4 dex)."""
    factor = rng.uniform(10, 30, len(kois))
    out = kois.copy()
    out["transit_duration_hours"] *= factor
    out["duration_ratio"] *= factor
    out["stellar_density_transit_gcc"] *= factor**-3.0
    out["log10_density_ratio"] -= 3 * np.log10(factor)
    return out


def oversized_occulter(kois: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A depth over 100 %: the occulting body would be 1.1-2x larger than the star."""
    k = rng.uniform(1.1, 2.0, len(kois))
    out = kois.copy()
    k0 = out["radius_ratio"].to_numpy()
    b = out["impact_parameter"].fillna(0).to_numpy()
    chord_change = ((1 + k) ** 2 - b**2) / np.clip((1 + k0) ** 2 - b**2, 1e-6, None)
    out["transit_depth_ppm"] = k**2 * 1e6
    out["radius_ratio"] = k
    out["planet_radius_earth"] *= k / k0
    out["transit_model_snr"] *= (k / k0) ** 2
    out["snr_per_transit"] *= (k / k0) ** 2
    out["stellar_density_transit_gcc"] *= chord_change**1.5
    out["log10_density_ratio"] += 1.5 * np.log10(chord_change)
    out["is_grazing"] = 1.0
    return out


INJECTIONS: dict[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]] = {
    "long_duration": long_duration,
    "oversized_occulter": oversized_occulter,
}


def injection_recall(
    frame: pd.DataFrame, budget: float, sampler: outlier_model.SamplerConfig
) -> list[Figure]:
    pool = frame[(frame[features.LABEL] == features.PLANET) & frame[outlier_model.RELATION].notna()]
    figures = []
    for name, inject in INJECTIONS.items():
        recalls: dict[str, list[float]] = {"ensemble": [], "bayesian": []}
        for repeat in range(REPEATS):
            source = pool.sample(INJECTED_PER_REPEAT, random_state=repeat)
            injected = inject(source, np.random.default_rng(repeat))
            injected["kepoi_name"] = "SYNTH-" + injected["kepoi_name"]
            mixed = pd.concat([frame, injected], ignore_index=True)
            rows = np.arange(len(frame), len(mixed))
            ensemble = pyod_ensemble.score_batch(mixed, seed=repeat, budget=budget)
            recalls["ensemble"].append(float(ensemble.is_anomaly[rows].mean()))
            bayes = outlier_model.score_frame(mixed, budget, sampler)
            recalls["bayesian"].append(float(bayes.flagged[rows].mean()))
        protocol = (
            f"{REPEATS} repeats x {INJECTED_PER_REPEAT} synthetic copies of real CONFIRMED KOIs "
            f"({name}) mixed into the {len(frame):,} real KOIs; recall = share inside the top "
            f"{budget:.0%}"
        )
        figures += [
            Figure("injection", lens, "recall", name, float(np.mean(values)), protocol)
            for lens, values in recalls.items()
        ]
    return figures


def stability(frame: pd.DataFrame, budget: float) -> list[Figure]:
    tops = []
    for seed in STABILITY_SEEDS:
        score = pyod_ensemble.score_batch(frame, seed=seed, budget=budget).ensemble_score
        tops.append(set(np.argsort(-score, kind="stable")[:STABILITY_TOP]))
    overlaps = [len(a & b) / STABILITY_TOP for i, a in enumerate(tops) for b in tops[i + 1 :]]
    protocol = f"pairwise overlap of the top {STABILITY_TOP} across seeds {STABILITY_SEEDS}"
    return [
        Figure("stability", "ensemble", "top100_overlap_min", "", min(overlaps), protocol),
        Figure(
            "stability", "ensemble", "top100_overlap_mean", "", float(np.mean(overlaps)), protocol
        ),
    ]


def meaning(frame: pd.DataFrame, flagged: np.ndarray, lens: str) -> list[Figure]:
    """Flagged share per disposition and the enrichment of FALSE POSITIVEs among the flagged."""
    labels = frame[features.LABEL].to_numpy()
    overall = float(flagged.mean())
    protocol = "share of the KOIs of each archive disposition that the lens flags"
    figures = [Figure("meaning", lens, "flagged_share", "", overall, protocol)]
    for label in features.CLASSES:
        share = float(flagged[labels == label].mean())
        figures.append(Figure("meaning", lens, "flagged_share", label, share, protocol))
    fp_share = float(flagged[labels == features.NOT_PLANET].mean())
    figures.append(
        Figure(
            "meaning",
            lens,
            "false_positive_enrichment",
            "",
            fp_share / overall if overall else float("nan"),
            "flagged share among FALSE POSITIVEs / flagged share among all KOIs",
        )
    )
    return figures
