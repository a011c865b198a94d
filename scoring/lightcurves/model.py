"""P(planet) for a signal found in a light curve, learnt from the KOI table.

A light curve gives period, duration, depth and S/N (and, through the transit count, the S/N
per transit); the star's Teff, log g and radius come from the KOI table when the star is a KOI
host, or from the user. So two calibrated XGBoost models are trained on the CONFIRMED and FALSE
POSITIVE KOIs of ``marts.fct_koi_features``, with the classifier's protocol (grouped by star,
nested, Platt-calibrated; :mod:`scoring.ml.nested_cv`):

- ``light_curve_only``: period, duration, depth, S/N per transit;
- ``with_star``: the same plus Teff, log g, stellar radius, and what they imply with the
  signal: the planet radius (sqrt(depth) x R*) and the duration over the duration a central
  transit of that star would last (a background binary's is often wrong).

Derived features are computed here, by one function, for training and for scoring alike. The
vetting columns stay out (:data:`scoring.ml.features.FORBIDDEN`). The result says which stellar
parameters were used and where they came from.

The light curve's own vetting (odd/even depths, a secondary eclipse, a sinusoid fitting better,
a half period, too few transits, a companion too large to be a planet) cannot be learnt from the
KOI table, which does not hold those measurements outside its vetting flags. It is applied
beside the model: a signal is called a likely planet when P(planet) >= 0.5 *and* none of those
checks fails; every failed check is listed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from scoring import settings
from scoring.errors import ExoHunterError
from scoring.lightcurves.search import MAX_OCCULTATION_RATIO, Signal
from scoring.ml import feature_mart, features, nested_cv, registry
from scoring.ml.evaluation import Evaluation, binary_evaluation
from scoring.progress import NO_STATUS, Status

TASK = registry.LIGHTCURVE_CLASSIFIER
SEED = 0
THRESHOLD = 0.5
SIGNAL_FEATURES = (
    "orbital_period_days",
    "transit_duration_hours",
    "transit_depth_ppm",
    "snr_per_transit",
)
STELLAR = ("stellar_teff_k", "stellar_logg_cgs", "stellar_radius_solar")
DERIVED = ("planet_radius_earth", "duration_ratio")
VARIANTS: dict[str, tuple[str, ...]] = {
    "light_curve_only": SIGNAL_FEATURES,
    "with_star": SIGNAL_FEATURES + STELLAR + DERIVED,
}
EARTH_RADII_PER_SOLAR_RADIUS = 109.076
SOLAR_RADIUS_CM = 6.957e10
MAX_PLANET_RADIUS_EARTH = 2.5 * 11.2  # 2.5 Jupiter radii: larger is a star
MAX_DEPTH_UNKNOWN_STAR = 0.05  # without a stellar radius: deeper than a Jupiter on a Sun
V_SHAPE_CHI2 = 9.0  # a V preferred over a U at 3 sigma (delta chi-square 9)
FEATURE_LABELS = {
    "orbital_period_days": ("period", "{:.4g} d"),
    "transit_duration_hours": ("duration", "{:.3g} h"),
    "transit_depth_ppm": ("depth", "{:,.0f} ppm"),
    "snr_per_transit": ("S/N per transit", "{:.3g}"),
    "stellar_teff_k": ("stellar Teff", "{:,.0f} K"),
    "stellar_logg_cgs": ("stellar log g", "{:.3g}"),
    "stellar_radius_solar": ("stellar radius", "{:.3g} R_sun"),
    "planet_radius_earth": ("planet radius", "{:.3g} R_earth"),
    "duration_ratio": ("duration / expected", "{:.3g}"),
}


#: The classifier's XGBoost with one configuration instead of a grid: the inputs are few and the
#: nested search over two depths moved the out-of-fold figures by less than their fold-to-fold
#: spread, at twice the training time.
XGBOOST = nested_cv.Candidate(
    "xgboost",
    "XGBClassifier",
    ({**nested_cv.XGB_BASE, "n_estimators": 150, "max_depth": 4},),
    nested_cv.XGBOOST.build,
)


class LightCurveModelError(ExoHunterError):
    pass


# -- features -----------------------------------------------------------------------------------
def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the derived features to a frame with the signal and stellar columns."""
    out = frame.copy()
    radius = out["stellar_radius_solar"]
    out["planet_radius_earth"] = (
        np.sqrt(out["transit_depth_ppm"].clip(lower=0) / 1e6)
        * radius
        * EARTH_RADII_PER_SOLAR_RADIUS
    )
    period_s = out["orbital_period_days"] * 86400.0
    gravity = 10.0 ** out["stellar_logg_cgs"]
    a_over_r = (gravity * period_s**2 / (4 * math.pi**2 * radius * SOLAR_RADIUS_CM)) ** (1 / 3)
    expected_hours = (
        out["orbital_period_days"] * 24 / math.pi * np.arcsin(np.clip(1 / a_over_r, 0, 1))
    )
    out["duration_ratio"] = out["transit_duration_hours"] / expected_hours.where(a_over_r >= 1)
    return out


def training_frame(conn: psycopg.Connection) -> pd.DataFrame:
    frame = feature_mart.load(conn)
    labelled = frame[frame[features.LABEL].isin([features.PLANET, features.NOT_PLANET])]
    labelled = labelled.dropna(
        subset=["orbital_period_days", "transit_duration_hours", "transit_depth_ppm"]
    )
    return derive(labelled.reset_index(drop=True))


# -- training -----------------------------------------------------------------------------------
def config() -> dict[str, Any]:
    return {
        "task": TASK,
        "seed": SEED,
        "threshold": THRESHOLD,
        "variants": {name: list(cols) for name, cols in VARIANTS.items()},
        "estimator": XGBOOST.config(),
        "calibration": "Platt scaling of the mean log-odds of the refit and the inner-fold models",
    }


@dataclass
class TrainResult:
    model_version: str
    created: bool
    n_rows: int = 0
    evaluations: list[Evaluation] = field(default_factory=list)
    seconds: float = 0.0
    card_path: str | None = None


def train(conn: psycopg.Connection, status: Status = NO_STATUS, force: bool = False) -> TrainResult:
    """Measure both variants by grouped nested CV, fit them on all rows, register, promote."""
    frame = training_frame(conn)
    if frame.empty:
        raise LightCurveModelError(
            "no labelled KOIs in marts.fct_koi_features: run `exohunter run` first"
        )
    batch = int(frame["load_batch_id"].iloc[0])
    all_features = sorted({c for cols in VARIANTS.values() for c in cols})
    features.check_honest(all_features)
    version = registry.model_version(config(), all_features, batch)
    if registry.exists(conn, version) and not force:
        if registry.champion(conn, TASK) is None:
            registry.promote(conn, version)
        return TrainResult(version, False)
    start = time.perf_counter()
    y = (frame[features.LABEL] == features.PLANET).to_numpy(int)
    groups = frame["kepid"].to_numpy()
    evaluations, models = [], {}
    for name, columns in VARIANTS.items():
        X = features.matrix(frame, columns)
        with status(f"light-curve P(planet), {name}: grouped nested CV …"):
            cv = nested_cv.cross_validate(XGBOOST, X, y, groups, SEED)
            models[name] = nested_cv.fit_calibrated(XGBOOST, X, y, groups, SEED)
        protocol = (
            f"{nested_cv.PROTOCOL}; CONFIRMED vs FALSE POSITIVE, {len(y):,} KOIs; features a "
            f"light curve gives ({', '.join(columns)})"
        )
        evaluations.append(
            binary_evaluation(
                f"p_planet_{name}",
                "xgboost",
                y,
                cv.proba[:, 1],
                THRESHOLD,
                True,
                protocol,
                cv.chosen_params,
            )
        )
    result = TrainResult(version, True, len(y), evaluations, time.perf_counter() - start)
    artifact = {"variants": VARIANTS, "threshold": THRESHOLD, "models": models}
    path, sha = registry.save_artifact(version, artifact)
    result.card_path = _write_card(result, frame)
    registry.publish(
        conn,
        registry.ModelEntry(
            model_version=version,
            task=TASK,
            algorithm=XGBOOST.algorithm,
            hyperparameters={n: m.params for n, m in models.items()} | {"config": config()},
            feature_list=all_features,
            training_load_batch_id=batch,
            training_snapshot_at=frame["snapshot_at"].iloc[0],
            training_rows=len(y),
            artifact_path=path,
            artifact_sha256=sha,
            model_card_path=result.card_path,
        ),
        evaluations=evaluations,
    )
    return result


def _write_card(result: TrainResult, frame: pd.DataFrame) -> str:
    rows = "\n".join(
        f"| {e.task} | {e.value('roc_auc'):.3f} | {e.value('pr_auc'):.3f} | {e.value('brier'):.3f}"
        f" | {e.value('recall_at_precision_0.90'):.3f} |"
        for e in result.evaluations
    )
    variants = "\n".join(
        f"- `{n}`: {', '.join(f'`{c}`' for c in cols)}" for n, cols in VARIANTS.items()
    )
    text = f"""# Model card — ExoHunter light-curve signal classifier `{result.model_version}`

## Intended use
P(planet) for a periodic signal the transit search (`scoring/lightcurves/search.py`) finds in an
uploaded Kepler/K2/TESS light curve. Calibrated on Kepler KOIs (CONFIRMED vs FALSE POSITIVE);
for K2 and TESS signals the numbers are an extrapolation. Not a replacement for vetting.

## Data
`marts.fct_koi_features`, {result.n_rows:,} CONFIRMED or FALSE POSITIVE KOIs of load batch
{int(frame["load_batch_id"].iloc[0])} with a period, duration and depth.

## Features
Only what a light curve gives, plus the star when it is known:

{variants}

`planet_radius_earth` = sqrt(depth) x R* x 109.076 and `duration_ratio` = duration over the
duration of a central transit of that star (from log g and R*), computed by the same function
for training and scoring. Never features: the vetting outputs (`koi_score`, `koi_fpflag_*`,
`koi_pdisposition`), names and identifiers. The KOI values come from the Kepler pipeline's fits
of the whole mission; a light curve's come from ExoHunter's box and trapezoid fits of the data
given: expect some shift.

## Protocol
{nested_cv.PROTOCOL}.

## Metrics (out-of-fold)
| task | ROC AUC | PR AUC | Brier | recall @ precision >= 0.90 |
|---|---|---|---|---|
{rows}

## Verdict
"Likely planet" = P(planet) >= {THRESHOLD} and none of the light curve's own checks fails
(significant by the search's criteria, odd/even depths within 3 sigma, no secondary eclipse
deeper than a tenth of the transit at 3 sigma, a box fits better than a sinusoid, not V-shaped
at 3 sigma, the period is not half as long, three or more transits, companion smaller than
2.5 Jupiter radii — or, without a stellar radius, depth under 5 %).

Training wall time: {result.seconds:.0f} s.
"""
    path = registry.models_dir() / result.model_version / "model_card.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path.relative_to(settings.home()))


# -- scoring ------------------------------------------------------------------------------------
@dataclass
class Star:
    """Stellar parameters and where they came from ('user', 'koi_table' or 'none')."""

    teff_k: float | None = None
    logg_cgs: float | None = None
    radius_solar: float | None = None
    source: str = "none"

    @property
    def known(self) -> bool:
        return any(v is not None for v in (self.teff_k, self.logg_cgs, self.radius_solar))

    def used(self) -> list[str]:
        names = zip(STELLAR, (self.teff_k, self.logg_cgs, self.radius_solar), strict=True)
        return [name for name, value in names if value is not None]


@dataclass
class Assessment:
    p_planet: float | None
    variant: str | None
    likely_planet: bool
    reasons: list[str]  # the model's largest contributions, in words
    flags: list[str]  # failed light-curve checks


def checks(signal: Signal, star: Star) -> list[str]:
    """The light curve's own vetting: every check that fails, in words.

    Significant (the search's criteria, each failed one named), a transit rather than
    variability, one depth for odd and even transits (3 sigma), no secondary eclipse deeper than
    a tenth of the transit at 3 sigma (a planet's occultation is at most its reflected and
    thermal light, (R*/a)^2 of the transit for an albedo of 1: below a tenth for any orbit wider
    than 3.2 stellar radii), not a V (the flat-bottomed U of a planet rejected in favour of a V at
    3 sigma: a grazing eclipse), the period not half as long, three or more transits, and a
    companion of planetary size for its star.
    """
    flags = []
    if not signal.significant:
        reasons = "; ".join(signal.failed) or f"SDE {signal.sde:.1f}, FAP {signal.fap:.2g}"
        flags.append(f"not significant ({reasons})")
    if signal.sinusoid_preferred:
        flags.append("a sinusoid fits better than a transit: stellar variability")
    if signal.odd_even_sigma > 3:
        flags.append(
            f"odd and even transits differ by {signal.odd_even_sigma:.1f} sigma "
            "(an eclipsing binary at twice the period?)"
        )
    if (
        signal.secondary_snr > 3
        and signal.secondary_depth_ppm > MAX_OCCULTATION_RATIO * signal.depth_ppm
    ):
        flags.append(
            f"secondary eclipse of {signal.secondary_depth_ppm:,.0f} ppm "
            f"({signal.secondary_snr:.1f} sigma)"
        )
    if signal.v_shape_chi2 > V_SHAPE_CHI2:
        flags.append(
            f"V-shaped: no flat bottom (a V fits better than a planet's U by chi-square "
            f"{signal.v_shape_chi2:,.0f}; a grazing eclipse)"
        )
    if signal.eclipse_of is not None:
        flags.append(
            f"the secondary eclipse of signal {signal.eclipse_of}: the same period, at phase "
            f"{signal.eclipse_phase:.2f} from it"
        )
    if signal.deep_eclipse is not None:
        flags.append(
            f"signal {signal.deep_eclipse} is its secondary eclipse, deeper than a planet's "
            "occultation (a tenth of the transit): an eclipsing binary"
        )
    if signal.period_check == "half period fits as well":
        flags.append("half the period fits as well")
    if signal.n_transits < 3:
        flags.append(f"only {signal.n_transits} transit{'s' if signal.n_transits != 1 else ''}")
    depth = max(signal.depth_ppm, 0) / 1e6
    if star.radius_solar is not None:
        radius = math.sqrt(depth) * star.radius_solar * EARTH_RADII_PER_SOLAR_RADIUS
        if radius > MAX_PLANET_RADIUS_EARTH:
            flags.append(f"companion radius {radius:.0f} R_earth: too large for a planet")
    elif depth > MAX_DEPTH_UNKNOWN_STAR:
        flags.append(f"depth {depth:.1%}: deeper than a planet makes around a Sun-like star")
    return flags


def signal_frame(signal: Signal, star: Star) -> pd.DataFrame:
    row = {
        "orbital_period_days": signal.period_days,
        "transit_duration_hours": signal.duration_hours,
        "transit_depth_ppm": signal.depth_ppm,
        "snr_per_transit": signal.snr_per_transit,
        "stellar_teff_k": star.teff_k,
        "stellar_logg_cgs": star.logg_cgs,
        "stellar_radius_solar": star.radius_solar,
    }
    return derive(pd.DataFrame([row], dtype="float64"))


def assess(artifact: dict[str, Any] | None, signal: Signal, star: Star) -> Assessment:
    flags = checks(signal, star)
    if artifact is None:
        return Assessment(None, None, False, ["no light-curve model trained yet"], flags)
    variant = "with_star" if star.known else "light_curve_only"
    columns = artifact["variants"][variant]
    model = artifact["models"][variant]
    X = features.matrix(signal_frame(signal, star), columns)
    p = float(model.predict_proba(X)[0, 1])
    contributions = model.contributions(X, list(columns))[0]
    reasons = []
    for j in np.argsort(-np.abs(contributions))[:3]:
        label, fmt = FEATURE_LABELS[columns[j]]
        value = X[0, j]
        shown = "unknown" if np.isnan(value) else fmt.format(value)
        direction = "raises" if contributions[j] > 0 else "lowers"
        reasons.append(f"{label} {shown} {direction} P(planet) ({contributions[j]:+.2f} log-odds)")
    likely = p >= artifact["threshold"] and not flags
    return Assessment(p, variant, likely, reasons, flags)


_ARTIFACTS: dict[str, dict[str, Any]] = {}


def champion_artifact(conn: psycopg.Connection) -> tuple[str | None, dict[str, Any] | None]:
    """The champion's version and artifact (sha256-checked on first load, then cached)."""
    version = registry.champion(conn, TASK)
    if version is None:
        return None, None
    if version not in _ARTIFACTS:
        _ARTIFACTS[version] = registry.load_artifact(conn, version)
    return version, _ARTIFACTS[version]
