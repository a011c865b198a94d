"""The scoring API's request and response models (pydantic).

:data:`Signal`, the body of ``POST /score``, is generated from
:data:`scoring.ml.features.HONEST_FEATURES` and :data:`SIGNAL_FIELDS`, so the API accepts exactly
the features the model reads; the response models say what every endpoint returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from scoring.ml import features

# -- the signal schema -------------------------------------------------------------------------
# (type, required, constraints, description) per feature of features.HONEST_FEATURES. Bounds are
# physical (or definitional for derived ratios) and agree with the feature mart's data tests, so
# no archive KOI is refused for its values. Required: what defines a transit (period, duration,
# depth: a signal without a measured depth is not a detection; 363 archive KOIs lack one and are
# scored in batch only) and the multiplicity counts, never missing in the mart, so the model has
# never seen them missing. Every other value may be null: the model handles missing values
# natively, as it does for archive rows without them.
# And every number lies within +-MAGNITUDE_LIMIT: no honest feature of a transit reaches a
# billion in its unit (the archive's largest value, an insolation, is 1.1e7), and the model
# computes in float32, where 1e39 and beyond (a period of 1e308, say) would be infinite.
MAGNITUDE_LIMIT = 1e9
_POSITIVE = {"gt": 0}
_NON_NEGATIVE = {"ge": 0}
SIGNAL_FIELDS: dict[str, tuple[type, bool, dict[str, float], str]] = {
    "orbital_period_days": (float, True, _POSITIVE, "Orbital period [days]"),
    "transit_duration_hours": (float, True, _POSITIVE, "Total transit duration [hours]"),
    "transit_depth_ppm": (float, True, _NON_NEGATIVE, "Transit depth [ppm]"),
    "impact_parameter": (float, False, _NON_NEGATIVE, "Impact parameter [stellar radii]"),
    "planet_radius_earth": (float, False, _POSITIVE, "Planet radius [Earth radii]"),
    "equilibrium_temp_k": (float, False, _POSITIVE, "Equilibrium temperature [K]"),
    "insolation_earth_flux": (float, False, _NON_NEGATIVE, "Insolation [Earth flux]"),
    "transit_model_snr": (float, False, _NON_NEGATIVE, "Transit model S/N"),
    "stellar_teff_k": (float, False, {"ge": 2000, "le": 60000}, "Stellar Teff [K]"),
    "stellar_logg_cgs": (float, False, {"ge": 0, "le": 6}, "Stellar log g [cgs dex]"),
    "stellar_radius_solar": (float, False, _POSITIVE, "Stellar radius [solar radii]"),
    "kepler_magnitude": (float, False, {"ge": 0, "le": 30}, "Kepler magnitude [mag]"),
    "radius_ratio": (float, False, _NON_NEGATIVE, "sqrt(depth_ppm / 1e6)"),
    "is_grazing": (bool, False, {}, "impact_parameter > 1 - radius_ratio"),
    "planet_radius_consistency": (float, False, _NON_NEGATIVE, "prad / (k * srad * 109.076)"),
    "stellar_density_transit_gcc": (float, False, _POSITIVE, "Transit stellar density [g/cm3]"),
    "stellar_density_catalogue_gcc": (float, False, _POSITIVE, "Catalogue density [g/cm3]"),
    "log10_density_ratio": (float, False, {}, "log10(transit / catalogue density) [dex]"),
    "duration_ratio": (float, False, _NON_NEGATIVE, "Observed / expected duration"),
    "snr_per_transit": (float, False, _NON_NEGATIVE, "S/N / sqrt(number of transits)"),
    "n_kois_on_star": (int, True, {"ge": 1}, "KOIs on the same star, this one included"),
    "period_rank_on_star": (int, True, {"ge": 1}, "Rank by period on the star, 1 = shortest"),
    "nearest_period_ratio_on_star": (float, False, {"ge": 1}, "Closest period ratio (>= 1)"),
    "period_ratio_integer_offset": (float, False, {"ge": 0, "le": 0.5}, "Distance to harmonic"),
    "ephemeris_match_brighter_significance": (
        float,
        False,
        _NON_NEGATIVE,
        "Ephemeris match with a brighter star's signal [-log10 chance; 0 = none]",
    ),
    "orbital_period_rel_unc": (float, False, _NON_NEGATIVE, "Relative period uncertainty"),
    "transit_duration_rel_unc": (float, False, _NON_NEGATIVE, "Relative duration uncertainty"),
    "transit_depth_rel_unc": (float, False, _NON_NEGATIVE, "Relative depth uncertainty"),
    "impact_parameter_rel_unc": (float, False, _NON_NEGATIVE, "Relative impact uncertainty"),
    "impact_parameter_err1": (float, False, _NON_NEGATIVE, "Impact upper uncertainty (>= 0)"),
    "impact_parameter_err2": (float, False, {"le": 0}, "Impact lower uncertainty (<= 0)"),
}


class SignalBase(BaseModel):
    """Shared rules: unknown fields are errors (a typo must not silently become a missing
    value), and NaN/Infinity are refused (Python's JSON parser accepts them)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    signal_id: str | None = Field(
        None, max_length=100, description="Your label for the signal, echoed in the result."
    )

    @model_validator(mode="after")
    def _rank_within_count(self) -> SignalBase:
        rank, count = self.period_rank_on_star, self.n_kois_on_star
        if rank > count:
            raise ValueError(f"period_rank_on_star ({rank}) exceeds n_kois_on_star ({count})")
        return self


def build_signal_model() -> type[BaseModel]:
    """The request model, generated from the feature list so the two cannot drift apart."""
    missing = set(features.HONEST_FEATURES) ^ set(SIGNAL_FIELDS)
    if missing:
        raise RuntimeError(f"SIGNAL_FIELDS and HONEST_FEATURES differ: {sorted(missing)}")
    fields: dict[str, Any] = {}
    for name in features.HONEST_FEATURES:
        kind, required, bounds, description = SIGNAL_FIELDS[name]
        if kind is not bool:
            bounds = _within_magnitude_limit(bounds)
        if required:
            fields[name] = (kind, Field(..., description=description, **bounds))
        else:
            fields[name] = (kind | None, Field(None, description=description, **bounds))
    return create_model(
        "Signal",
        __base__=SignalBase,
        __doc__="The honest features of one transit signal, as in marts.fct_koi_features.",
        **fields,
    )


def _within_magnitude_limit(bounds: dict[str, float]) -> dict[str, float]:
    """``bounds``, with +-:data:`MAGNITUDE_LIMIT` where it sets none of its own."""
    limited = dict(bounds)
    if "le" not in limited and "lt" not in limited:
        limited["le"] = MAGNITUDE_LIMIT
    if "ge" not in limited and "gt" not in limited:
        limited["ge"] = -MAGNITUDE_LIMIT
    return limited


Signal = build_signal_model()


# -- response models ---------------------------------------------------------------------------
class Health(BaseModel):
    status: str = Field(description="ok, no_model (nothing to serve yet) or unavailable")
    database: str = Field(description="up or down")
    detail: str | None = None
    server_version: str | None = None
    champion: str | None = Field(None, description="Champion model version of the classifier")
    scored_batch: int | None = Field(None, description="Latest load batch the champion scored")


class ModelSummary(BaseModel):
    model_version: str
    task: str
    algorithm: str
    is_champion: bool
    training_load_batch_id: int | None = Field(
        description="The load batch it was trained on (NULL: trained on shipped files)"
    )
    training_data: str | None = Field(
        None, description="Training data that is not a load batch: the shipped files, checksummed"
    )
    training_snapshot_at: datetime
    training_rows: int
    created_at: datetime
    model_card_path: str | None
    metrics: dict[str, float] = Field(
        description="Headline P(planet) figures of the XGBoost model (grouped nested CV)"
    )
    protocol: str | None = Field(None, description="How the metrics were measured")


class Contribution(BaseModel):
    feature: str
    value: float | None = Field(description="The feature value (null: missing)")
    contribution: float = Field(description="TreeSHAP contribution to the P(planet) log-odds")
    rank: int = Field(description="1 = largest |contribution|")


class Probabilities(BaseModel):
    p_planet: float = Field(description="Calibrated P(CONFIRMED) vs FALSE POSITIVE")
    p_confirmed: float
    p_candidate: float
    p_false_positive: float
    predicted_class: str


class KoiPrediction(Probabilities):
    model_version: str
    load_batch_id: int
    candidate_rank: int | None
    scored_at: datetime


class KoiDetail(BaseModel):
    kepoi_name: str
    prediction: KoiPrediction | None
    explanation: list[Contribution]
    features: dict[str, Any] | None = Field(description="The marts.fct_koi_features row")


class TessStar(BaseModel):
    """The TOI's host star, as the TOI table gives the TIC's parameters."""

    tic_id: int = Field(description="TESS Input Catalog id")
    stellar_teff_k: float | None = Field(description="Effective temperature [K]")
    stellar_radius_solar: float | None = Field(description="Stellar radius [solar radii]")
    stellar_logg_cgs: float | None = Field(description="Surface gravity log g [cgs dex]")
    tess_magnitude: float | None = Field(description="TESS magnitude [mag]")
    stellar_distance_pc: float | None = Field(description="Distance [pc]")
    ra_deg: float | None = Field(description="Right ascension [deg]")
    dec_deg: float | None = Field(description="Declination [deg]")


class TessSignal(BaseModel):
    """The TOI's transit fit and planet, as the TOI table gives them."""

    orbital_period_days: float | None = Field(description="Orbital period [days]")
    transit_duration_hours: float | None = Field(description="Transit duration [hours]")
    transit_depth_ppm: float | None = Field(description="Transit depth [ppm]")
    planet_radius_earth: float | None = Field(description="Planet radius [Earth radii]")
    insolation_earth_flux: float | None = Field(description="Insolation [Earth flux]")
    equilibrium_temp_k: float | None = Field(description="Equilibrium temperature [K]")


class ToiDetail(BaseModel):
    toi: str = Field(description="The TOI as the archive writes it", examples=["1234.01"])
    name: str = Field(description="TOI-<toi>", examples=["TOI-1234.01"])
    disposition: str | None = Field(
        validation_alias="label_disposition",
        description="TFOPWG disposition: CP, KP, PC, APC, FP or FA (the label, never a feature)",
    )
    p_planet: float = Field(description="Calibrated P(planet): CP+KP vs FP+FA, grouped by TIC")
    planet_log_odds: float = Field(description="Calibrated log-odds of p_planet: the ranking")
    candidate_rank: int | None = Field(description="Rank among the batch's PCs, 1 = best")
    model_version: str = Field(description="The TOI champion that scored it")
    load_batch_id: int = Field(description="The TOI load batch it was scored on")
    snapshot_at: datetime = Field(description="The archive snapshot of that batch")
    scored_at: datetime
    star: TessStar
    signal: TessSignal


class Discovery(Probabilities):
    candidate_rank: int
    kepoi_name: str
    kepid: int | None
    orbital_period_days: float | None
    planet_radius_earth: float | None
    equilibrium_temp_k: float | None


class Discoveries(BaseModel):
    model_version: str
    load_batch_id: int
    matching: int = Field(description="CANDIDATE KOIs with p_planet >= min_p")
    items: list[Discovery]


class SignalScore(Probabilities):
    index: int = Field(description="Position of the signal in the request")
    signal_id: str | None
    planet_at_threshold: bool = Field(description="p_planet >= the model's threshold")
    explanation: list[Contribution]


class ScoreResponse(BaseModel):
    model_version: str
    threshold: float
    results: list[SignalScore]
