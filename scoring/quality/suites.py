"""What the data-quality gates check: the Great Expectations suites, written as code.

The suites live here, not only as JSON under ``expectations/``, so that every threshold sits next
to the reason it has; :func:`scoring.quality.context.setup` writes them into the committed file
context (a test keeps the two equal). Each expectation carries:

- a **severity** (GX's own ``severity`` field): ``critical`` stops ``exohunter run`` before the
  bad data reaches the models or the dashboards; ``warning`` is reported and recorded, not fatal;
- a stable **key** in ``meta`` (``koi_period_positive``), the name the gate's message, the
  ``dq.validation_results`` rows and the Superset dashboard use;
- a **description** saying what is checked and why.

Thresholds were set against the shipped snapshot (2019-01-20, 9,564 KOIs; figures quoted beside
them) wide enough that a real later export passes and a broken one does not: a unit change
moves a median by orders of magnitude, a truncated file halves the row count.

Values only known at run time (the previous batch's row count, the reference model's figures,
the anomaly budget) are suite parameters (``{"$PARAMETER": name}``), filled in by
:mod:`scoring.quality.targets` for the checkpoint run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from scoring.ml import features

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING
DISPOSITIONS = ["CONFIRMED", "CANDIDATE", "FALSE POSITIVE"]
#: Drift against the previous champion (absolute, on shares and probabilities). The shipped
#: snapshot's champion: 40 % of CANDIDATEs at P(planet) >= 0.5, mean P(planet) 0.34.
CANDIDATE_PLANET_SHARE_LIMIT = 0.25  # critical
CANDIDATE_PLANET_SHARE_TOLERANCE = 0.10  # warning
P_PLANET_MEAN_LIMIT = 0.20  # critical
P_PLANET_BINS = 10
P_PLANET_KL_THRESHOLD = 0.10  # warning
#: Weight spread over histogram bins the reference left empty (else one KOI there is infinite).
P_PLANET_KL_HOLDOUT = 0.001
#: Tolerance around the anomaly detector's contamination budget (absolute share).
ANOMALY_SHARE_TOLERANCE = 0.005
#: The row count of a KOI batch may differ from the previous good batch by this fraction (a
#: TOI batch may fall short of the previous snapshot's by as much).
ROW_COUNT_TOLERANCE = 0.20


@dataclass(frozen=True)
class Suite:
    """One suite and the data it validates; its name is also its checkpoint's."""

    name: str
    stage: str  # raw | features | predictions | anomalies
    schema: str
    table: str
    batch_columns: tuple[str, ...]  # the columns that identify one batch; () = the whole table
    expectations: tuple[gxe.Expectation, ...]

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def asset_name(self) -> str:
        return f"{self.schema}_{self.table}"

    @property
    def batch_definition_path(self) -> str:
        return f"{self.asset_name}/{self.batch_definition_name}"

    @property
    def query(self) -> str:
        """The asset's query (GX 1.24 deprecates a table asset's schema_name, and PostgreSQL
        datasources have no schema of their own)."""
        return f"select * from {self.relation}"

    @property
    def batch_definition_name(self) -> str:
        return "by_" + "_and_".join(self.batch_columns) if self.batch_columns else "whole_table"


def key_of(expectation: gxe.Expectation) -> str:
    return (expectation.meta or {})["key"]


def parameter(name: str) -> dict[str, str]:
    """A suite parameter, resolved when the checkpoint runs."""
    return {"$PARAMETER": name}


def _expect(
    expectation: type[gxe.Expectation],
    key: str,
    severity: FailureSeverity,
    why: str,
    **kwargs: Any,
) -> gxe.Expectation:
    return expectation(meta={"key": key}, severity=severity, description=why, **kwargs)


def _between(
    column: str,
    key: str,
    why: str,
    severity: FailureSeverity = CRITICAL,
    **bounds: Any,
) -> gxe.Expectation:
    return _expect(gxe.ExpectColumnValuesToBeBetween, key, severity, why, column=column, **bounds)


def _mostly_filled(column: str, max_null_share: float, why: str) -> gxe.Expectation:
    return _expect(
        gxe.ExpectColumnValuesToNotBeNull,
        f"{column}_filled",
        CRITICAL,
        why,
        column=column,
        mostly=round(1 - max_null_share, 6),
    )


# -- raw: one KOI load batch, every record of the file -----------------------------------------
#: Columns the models need, with the share of the file's records that may leave them empty.
#: A column absent from the file lands all NULL, so this is also the "columns present" check.
#: The shipped snapshot: 0 % for period and duration, 3.8 % for the others, 0.01 % kepmag.
RAW_FILLED_COLUMNS = {
    "kepid": 0.01,
    "koi_disposition": 0.01,
    "koi_period": 0.01,
    "koi_duration": 0.01,
    "koi_depth": 0.10,
    "koi_impact": 0.10,
    "koi_model_snr": 0.10,
    "koi_prad": 0.10,
    "koi_teq": 0.10,
    "koi_insol": 0.10,
    "koi_steff": 0.10,
    "koi_slogg": 0.10,
    "koi_srad": 0.10,
    "koi_kepmag": 0.10,
    "ra": 0.10,
    "dec": 0.10,
}


def _transit_signal(period: str, duration: str, depth: str) -> tuple[gxe.Expectation, ...]:
    """What makes a record a transit signal, in either archive table."""
    return (
        _between(period, f"{period}_positive", "Orbital period > 0 days.", min_value=0,
                 strict_min=True),
        _between(duration, f"{duration}_positive", "Transit duration > 0 hours.", min_value=0,
                 strict_min=True),
        _between(depth, f"{depth}_non_negative", "Transit depth ≥ 0 ppm.", min_value=0),
    )  # fmt: skip


def _host_star(teff: str, logg: str, radius: str) -> tuple[gxe.Expectation, ...]:
    """The host star's catalogue parameters, in either archive table."""
    return (
        _between(teff, f"{teff}_stellar", "Stellar effective temperature 2,300 to 50,000 K.",
                 min_value=2300, max_value=50_000),
        _between(logg, f"{logg}_stellar", "Stellar log g 0 to 6 (cgs).", min_value=0,
                 max_value=6),
        _between(radius, f"{radius}_positive", "Stellar radius > 0 R☉.", min_value=0,
                 strict_min=True),
    )  # fmt: skip


def _sky_position() -> tuple[gxe.Expectation, ...]:
    return (
        _between("ra", "ra_in_range", "Right ascension 0 to 360°.", min_value=0, max_value=360),
        _between("dec", "dec_in_range", "Declination -90 to 90°.", min_value=-90, max_value=90),
    )


def _columns_filled(max_null_shares: dict[str, float]) -> tuple[gxe.Expectation, ...]:
    return tuple(
        _mostly_filled(
            column,
            share,
            f"At most {share:.0%} of the records without {column} (a column missing from the "
            "file lands all NULL, so this is also the check that it is present).",
        )
        for column, share in max_null_shares.items()
    )


def _records_loaded() -> gxe.Expectation:
    return _expect(
        gxe.ExpectColumnValuesToBeNull,
        "records_loaded",
        CRITICAL,
        "At most 1 % of the file's records rejected by ingest (unreadable values, wrong "
        "field counts, duplicates): more means the export itself is broken.",
        column="reject_reason",
        mostly=0.99,
    )


def _raw_expectations() -> tuple[gxe.Expectation, ...]:
    keys = (
        _expect(
            gxe.ExpectTableRowCountToBeBetween,
            "row_count_near_previous_batch",
            CRITICAL,
            f"Records in the file within ±{ROW_COUNT_TOLERANCE:.0%} of the previous good batch "
            "of the table (a half-downloaded export fails); the first batch only needs a row.",
            min_value=parameter("min_rows"),
            max_value=parameter("max_rows"),
        ),
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "kepoi_name_unique",
            CRITICAL,
            "One record per KOI in the file: a duplicate (set aside by ingest) means a broken "
            "export.",
            column="kepoi_name",
        ),
        _expect(
            gxe.ExpectColumnValuesToMatchRegex,
            "kepoi_name_format",
            CRITICAL,
            "KOI designations look like K00752.01: another table's export does not pass.",
            column="kepoi_name",
            regex=r"^K[0-9]{5}\.[0-9]{2}$",
        ),
        _records_loaded(),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "koi_disposition_known",
            CRITICAL,
            "The label takes the archive's three values.",
            column="koi_disposition",
            value_set=DISPOSITIONS,
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "koi_pdisposition_known",
            WARNING,
            "Kepler-only disposition (a vetting output, never a feature) takes two values.",
            column="koi_pdisposition",
            value_set=["CANDIDATE", "FALSE POSITIVE"],
        ),
    )
    physical = (
        *_transit_signal("koi_period", "koi_duration", "koi_depth"),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "koi_depth_median_in_ppm",
            CRITICAL,
            "Median transit depth 50 to 5,000 ppm (the snapshot: 421 ppm): a depth column in "
            "another unit (a fraction, or x10⁶) moves it by orders of magnitude.",
            column="koi_depth",
            min_value=50,
            max_value=5000,
        ),
        _between(
            "koi_depth",
            "koi_depth_below_full_flux",
            "A transit cannot dim more than the whole star (10⁶ ppm). The snapshot has one "
            "such fit, the false positive K06413.01 at 1,541,400 ppm: reported, not fatal.",
            severity=WARNING,
            max_value=1_000_000,
        ),
        _between(
            "koi_impact",
            "koi_impact_bounded",
            "Impact parameter 0 to 150 stellar radii: a transit needs b < 1 + Rp/R*, false-"
            "positive fits reach ~100 (the snapshot's largest: 100.8).",
            min_value=0,
            max_value=150,
        ),
        _between(
            "koi_time0bk",
            "koi_time0bk_in_mission",
            "First transit epoch within the Kepler mission, BKJD 0 to 1,600 (BJD - 2,454,833): "
            "a full BJD or another time system fails.",
            min_value=0,
            max_value=1600,
        ),
        *_host_star("koi_steff", "koi_slogg", "koi_srad"),
        *_sky_position(),
        _between(
            "koi_kepmag",
            "koi_kepmag_plausible",
            "Kepler magnitude 0 to 25 (the snapshot: 7.0 to 20.0).",
            min_value=0,
            max_value=25,
        ),
        _between(
            "koi_prad",
            "koi_prad_positive",
            "Planet radius > 0 R⊕.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "koi_teq",
            "koi_teq_positive",
            "Equilibrium temperature > 0 K.",
            min_value=0,
            strict_min=True,
        ),
        _between("koi_insol", "koi_insol_non_negative", "Insolation ≥ 0 S⊕.", min_value=0),
        _between("koi_model_snr", "koi_model_snr_non_negative", "Transit SNR ≥ 0.", min_value=0),
    )
    # The archive's errors: _err1 is the upper (+) error, _err2 the lower (-) one. The models
    # read relative uncertainties and the impact errors; a flipped sign would corrupt them.
    errors = tuple(
        _between(
            f"{column}_err{n}",
            f"{column}_err{n}_sign",
            f"{column}_err{n} is the {'upper' if n == 1 else 'lower'} error: "
            f"{'≥ 0' if n == 1 else '≤ 0'}.",
            **({"min_value": 0} if n == 1 else {"max_value": 0}),
        )
        for column in ("koi_period", "koi_duration", "koi_depth", "koi_impact")
        for n in (1, 2)
    )
    vetting = (
        _between(
            "koi_score",
            "koi_score_probability",
            "Robovetter score 0 to 1 (a vetting output, never a feature).",
            severity=WARNING,
            min_value=0,
            max_value=1,
        ),
        *(
            _expect(
                gxe.ExpectColumnValuesToBeInSet,
                f"{flag}_binary",
                WARNING,
                f"{flag} is a 0/1 flag (a vetting output, never a feature). The snapshot has "
                "one corrupt value (K00477.01: koi_fpflag_nt = 465).",
                column=flag,
                value_set=[0, 1],
            )
            for flag in features.VETTING_FLAGS
        ),
        _between(
            "koi_tce_plnt_num",
            "koi_tce_plnt_num_positive",
            "TCE planet number ≥ 1.",
            severity=WARNING,
            min_value=1,
        ),
    )
    filled = _columns_filled(RAW_FILLED_COLUMNS)
    return keys + physical + errors + vetting + filled


# -- raw: one TOI load batch, every record of the file -----------------------------------------
TOI_DISPOSITIONS = ["CP", "KP", "PC", "APC", "FP", "FA"]
#: Columns the TOI features need, with the share of records that may leave them empty. The
#: 2025-10-04 export: 1.4 % without a period (single-transit TOIs), 11 % without log g, 7 %
#: without a planet or stellar radius; the 2020-06-30 export is alike.
RAW_TOI_FILLED_COLUMNS = {
    "pl_orbper": 0.05,
    "pl_trandurh": 0.01,
    "pl_trandep": 0.01,
    "pl_rade": 0.15,
    "st_teff": 0.10,
    "st_logg": 0.25,
    "st_rad": 0.15,
    "st_tmag": 0.01,
    "ra": 0.01,
    "dec": 0.01,
}


def _raw_toi_expectations() -> tuple[gxe.Expectation, ...]:
    keys = (
        _expect(
            gxe.ExpectTableRowCountToBeBetween,
            "row_count_not_shrunk",
            CRITICAL,
            f"At least {1 - ROW_COUNT_TOLERANCE:.0%} of the records of the latest good snapshot "
            "taken before this one: the TOI table only grows (2,041 TOIs in June 2020, 7,703 in "
            "October 2025), so a truncated export fails; the first batch only needs a row.",
            min_value=parameter("min_rows"),
            max_value=parameter("max_rows"),
        ),
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "toi_unique",
            CRITICAL,
            "One record per TOI in the file: a duplicate (set aside by ingest) means a broken "
            "export.",
            column="toi",
        ),
        _expect(
            gxe.ExpectColumnValuesToMatchRegex,
            "toi_format",
            CRITICAL,
            "TOI designations look like 1000.01: another table's export does not pass.",
            column="toi",
            regex=r"^[0-9]+\.[0-9]{2}$",
        ),
        _records_loaded(),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "tfopwg_disp_known",
            CRITICAL,
            "The label takes the TFOPWG's six values (empty in older exports: not checked).",
            column="tfopwg_disp",
            value_set=TOI_DISPOSITIONS,
        ),
    )
    physical = (
        *_transit_signal("pl_orbper", "pl_trandurh", "pl_trandep"),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "pl_trandep_median_in_ppm",
            CRITICAL,
            "Median transit depth 50 to 50,000 ppm (2025: 4,750 ppm, 2020: 2,483 ppm; TESS "
            "finds deeper transits than Kepler): a depth in another unit (a fraction, or "
            "x10⁶) moves it by orders of magnitude.",
            column="pl_trandep",
            min_value=50,
            max_value=50_000,
        ),
        _between(
            "pl_tranmid",
            "pl_tranmid_is_bjd",
            "Transit mid-time a full BJD of the TESS era, 2,457,000 to 2,470,000 (2018 to "
            "2054): a TESS-relative time (BTJD = BJD - 2,457,000) or a Julian year fails.",
            min_value=2_457_000,
            max_value=2_470_000,
        ),
        *_host_star("st_teff", "st_logg", "st_rad"),
        _between(
            "pl_rade", "pl_rade_positive", "Planet radius > 0 R⊕.", min_value=0, strict_min=True
        ),
        _between("st_dist", "st_dist_positive", "Distance > 0 pc.", min_value=0, strict_min=True),
        _between(
            "st_tmag",
            "st_tmag_plausible",
            "TESS magnitude -2 to 25 (2025: 4.6 to 18.3).",
            min_value=-2,
            max_value=25,
        ),
        *_sky_position(),
    )
    filled = _columns_filled(RAW_TOI_FILLED_COLUMNS)
    return keys + physical + filled


# -- features: marts.fct_koi_features, the table every model reads -----------------------------
#: Share of KOIs that may lack each model feature. XGBoost handles a missing value natively (each
#: split learns the side missing values go), which is the documented imputation; these
#: ceilings catch a transform that loses a column. The shipped snapshot: 3.8 to 5 % for most
#: features; 14.9 % for the transit stellar density (undefined without a fitted impact and
#: duration); 76 % for the period-ratio features (undefined for a star with one KOI).
FEATURE_NULL_CEILINGS = {
    "orbital_period_days": 0.0,
    "transit_duration_hours": 0.0,
    "n_kois_on_star": 0.0,
    "period_rank_on_star": 0.0,
    "stellar_density_transit_gcc": 0.25,
    "log10_density_ratio": 0.25,
    "nearest_period_ratio_on_star": 0.85,
    "period_ratio_integer_offset": 0.85,
}
DEFAULT_FEATURE_NULL_CEILING = 0.10


def feature_null_ceiling(feature: str) -> float:
    return FEATURE_NULL_CEILINGS.get(feature, DEFAULT_FEATURE_NULL_CEILING)


def _star_and_uncertainty_ranges(
    signal: str, uncertain: tuple[str, ...]
) -> tuple[gxe.Expectation, ...]:
    """The ranges of the features both feature marts derive alike: the signal's place among the
    other signals on its star, and the relative uncertainties of the given measurements."""
    return (
        _between(
            "n_kois_on_star", "n_kois_on_star_positive", f"At least one {signal}.", min_value=1
        ),
        _between(
            "period_rank_on_star", "period_rank_on_star_positive", "Ranks start at 1.", min_value=1
        ),
        _between(
            "nearest_period_ratio_on_star",
            "nearest_period_ratio_at_least_one",
            "Longer over shorter period: ≥ 1.",
            min_value=1,
        ),
        _between(
            "period_ratio_integer_offset",
            "period_ratio_integer_offset_bounded",
            "Distance of a period ratio to the nearest integer: 0 to 0.5.",
            min_value=0,
            max_value=0.5,
        ),
        *(
            _between(
                f"{name}_rel_unc",
                f"{name}_rel_unc_non_negative",
                "Relative uncertainties are ≥ 0.",
                min_value=0,
            )
            for name in uncertain
        ),
    )


def _feature_expectations() -> tuple[gxe.Expectation, ...]:
    keys = (
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "one_row_per_koi",
            CRITICAL,
            "One feature row per KOI.",
            column="kepoi_name",
        ),
        _expect(
            gxe.ExpectTableRowCountToEqual,
            "every_koi_has_features",
            CRITICAL,
            "As many feature rows as KOIs loaded in the batch: no KOI lost in the joins.",
            value=parameter("batch_rows"),
        ),
        _expect(
            gxe.ExpectColumnUniqueValueCountToBeBetween,
            "one_load_batch",
            CRITICAL,
            "The features of one load batch, never a mix.",
            column="load_batch_id",
            min_value=1,
            max_value=1,
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "label_known",
            CRITICAL,
            "The label takes the archive's three values.",
            column=features.LABEL,
            value_set=DISPOSITIONS,
        ),
    )
    nulls = tuple(
        _expect(
            gxe.ExpectColumnValuesToNotBeNull,
            f"{feature}_filled",
            CRITICAL,
            f"At most {feature_null_ceiling(feature):.0%} of KOIs without {feature}; the models "
            "take a missing value as missing (XGBoost's learned default direction), nothing is "
            "imputed.",
            column=feature,
            mostly=round(1 - feature_null_ceiling(feature), 6),
        )
        for feature in features.HONEST_FEATURES
    )
    ranges = (
        _between("radius_ratio", "radius_ratio_non_negative", "Rp/R* ≥ 0.", min_value=0),
        _between(
            "stellar_density_transit_gcc",
            "stellar_density_transit_positive",
            "Stellar density from the transit > 0 g cm⁻³.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "stellar_density_catalogue_gcc",
            "stellar_density_catalogue_positive",
            "Stellar density from log g and radius > 0 g cm⁻³.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "log10_density_ratio",
            "log10_density_ratio_bounded",
            "log10(rho_transit / rho_catalogue) within ±10 (the snapshot: -4.7 to 6.9).",
            min_value=-10,
            max_value=10,
        ),
        _between(
            "duration_ratio",
            "duration_ratio_positive",
            "Observed / expected transit duration > 0.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "planet_radius_consistency",
            "planet_radius_consistency_positive",
            "Archive radius / radius from the depth > 0.",
            min_value=0,
            strict_min=True,
        ),
        _between("snr_per_transit", "snr_per_transit_non_negative", "SNR ≥ 0.", min_value=0),
        *_star_and_uncertainty_ranges(
            "KOI", ("orbital_period", "transit_duration", "transit_depth", "impact_parameter")
        ),
        _between(
            "impact_parameter_err1", "impact_parameter_err1_sign", "Upper error ≥ 0.", min_value=0
        ),
        _between(
            "impact_parameter_err2", "impact_parameter_err2_sign", "Lower error ≤ 0.", max_value=0
        ),
    )
    # Cross-column physics, which no single raw column shows: a duration, radius or gravity in
    # another unit leaves each column plausible but breaks their agreement.
    physics = (
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "duration_ratio_median_physical",
            CRITICAL,
            "Median observed / expected transit duration 0.3 to 3 (the snapshot: 0.93): the "
            "durations agree with the periods and the stars.",
            column="duration_ratio",
            min_value=0.3,
            max_value=3,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "log10_density_ratio_median_physical",
            CRITICAL,
            "Median log10(rho_transit / rho_catalogue) within ±1 (the snapshot: -0.02): the "
            "transit shapes agree with the catalogue stars.",
            column="log10_density_ratio",
            min_value=-1,
            max_value=1,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "planet_radius_consistency_median_physical",
            CRITICAL,
            "Median archive radius / radius from the depth 0.5 to 2 (the snapshot: 0.95).",
            column="planet_radius_consistency",
            min_value=0.5,
            max_value=2,
        ),
    )
    return keys + nulls + ranges + physics


# -- features: marts.fct_toi_features, the TESS feature table ----------------------------------
#: Share of TOIs that may lack each TESS feature. The 2025-10-04 export (2020-06-30 in brackets):
#: 1.4 % (2.7 %) without a period, so without the transit density (single-transit TOIs); 6.6 %
#: (5.9 %) without a planet or stellar radius; 11 % (10 %) without log g, so 13-15 % without the
#: density ratio and the expected duration; 94 % without a second TOI on the star.
TOI_FEATURE_NULL_CEILINGS = {
    "orbital_period_days": 0.05,
    "transit_duration_hours": 0.01,
    "transit_depth_ppm": 0.01,
    "tess_magnitude": 0.01,
    "radius_ratio": 0.01,
    "n_kois_on_star": 0.0,
    "period_rank_on_star": 0.0,
    "stellar_density_transit_gcc": 0.05,
    "planet_radius_earth": 0.15,
    "stellar_radius_solar": 0.15,
    "planet_radius_consistency": 0.15,
    "equilibrium_temp_k": 0.15,
    "insolation_earth_flux": 0.15,
    "stellar_logg_cgs": 0.25,
    "stellar_density_catalogue_gcc": 0.25,
    "log10_density_ratio": 0.25,
    "duration_ratio": 0.25,
    "nearest_period_ratio_on_star": 0.97,
    "period_ratio_integer_offset": 0.97,
}


def toi_feature_null_ceiling(feature: str) -> float:
    return TOI_FEATURE_NULL_CEILINGS.get(feature, DEFAULT_FEATURE_NULL_CEILING)


def _toi_feature_expectations() -> tuple[gxe.Expectation, ...]:
    keys = (
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "one_row_per_toi",
            CRITICAL,
            "One feature row per TOI.",
            column="toi",
        ),
        _expect(
            gxe.ExpectTableRowCountToEqual,
            "every_toi_has_features",
            CRITICAL,
            "As many feature rows as TOIs loaded in the batch: no TOI lost in the joins.",
            value=parameter("batch_rows"),
        ),
        _expect(
            gxe.ExpectColumnUniqueValueCountToBeBetween,
            "one_load_batch",
            CRITICAL,
            "The features of one load batch, never a mix.",
            column="load_batch_id",
            min_value=1,
            max_value=1,
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "label_known",
            CRITICAL,
            "The label takes the TFOPWG's six values (NULL where an older export leaves it blank).",
            column=features.TESS_LABEL,
            value_set=TOI_DISPOSITIONS,
        ),
    )
    nulls = tuple(
        _expect(
            gxe.ExpectColumnValuesToNotBeNull,
            f"{feature}_filled",
            CRITICAL,
            f"At most {toi_feature_null_ceiling(feature):.0%} of TOIs without {feature}; "
            "nothing is imputed.",
            column=feature,
            mostly=round(1 - toi_feature_null_ceiling(feature), 6),
        )
        for feature in features.TESS_HONEST_FEATURES
    )
    ranges = (
        _between("radius_ratio", "radius_ratio_non_negative", "Rp/R* ≥ 0.", min_value=0),
        _between(
            "stellar_density_transit_gcc",
            "stellar_density_transit_positive",
            "Stellar density from the transit (b = 0) > 0 g cm⁻³.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "stellar_density_catalogue_gcc",
            "stellar_density_catalogue_positive",
            "Stellar density from the TIC log g and radius > 0 g cm⁻³.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "log10_density_ratio",
            "log10_density_ratio_bounded",
            "log10(rho_transit / rho_catalogue) within ±10 (2025-10-04: -2.6 to 5.1).",
            min_value=-10,
            max_value=10,
        ),
        _between(
            "duration_ratio",
            "duration_ratio_positive",
            "Observed / expected transit duration > 0.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "planet_radius_consistency",
            "planet_radius_consistency_positive",
            "Archive radius / radius from the depth > 0.",
            min_value=0,
            strict_min=True,
        ),
        _between(
            "tess_magnitude",
            "tess_magnitude_plausible",
            "TESS magnitude -2 to 25 (2025-10-04: 4.6 to 18.3).",
            min_value=-2,
            max_value=25,
        ),
        *_star_and_uncertainty_ranges(
            "TOI", ("orbital_period", "transit_duration", "transit_depth")
        ),
    )
    # Cross-column physics: a depth, duration or gravity in another unit leaves each column
    # plausible (or is caught only here, when the mart is rebuilt from a source other than raw).
    physics = (
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "transit_depth_median_in_ppm",
            CRITICAL,
            "Median transit depth 50 to 50,000 ppm (2025-10-04: 4,750; 2020-06-30: 2,483): a "
            "depth as a fraction or in per cent moves it by orders of magnitude.",
            column="transit_depth_ppm",
            min_value=50,
            max_value=50_000,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "radius_ratio_median_physical",
            CRITICAL,
            "Median Rp/R* from the depth 0.01 to 0.5 (2025-10-04: 0.069; 2020-06-30: 0.050).",
            column="radius_ratio",
            min_value=0.01,
            max_value=0.5,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "duration_ratio_median_physical",
            CRITICAL,
            "Median observed / expected transit duration 0.3 to 3 (2025-10-04: 0.80; "
            "2020-06-30: 0.81): the durations agree with the periods and the stars.",
            column="duration_ratio",
            min_value=0.3,
            max_value=3,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "log10_density_ratio_median_physical",
            CRITICAL,
            "Median log10(rho_transit / rho_catalogue) -0.5 to 1.5 (2025-10-04: 0.38; "
            "2020-06-30: 0.35; above the KOIs' ±1 window because b = 0 makes rho_transit an "
            "upper bound): the transit shapes agree with the TIC stars.",
            column="log10_density_ratio",
            min_value=-0.5,
            max_value=1.5,
        ),
        _expect(
            gxe.ExpectColumnMedianToBeBetween,
            "planet_radius_consistency_median_physical",
            CRITICAL,
            "Median archive radius / radius from the depth 0.5 to 2 (2025-10-04: 0.94; "
            "2020-06-30: 0.95).",
            column="planet_radius_consistency",
            min_value=0.5,
            max_value=2,
        ),
    )
    return keys + nulls + ranges + physics


# -- predictions: one model version's scores of one load batch ---------------------------------
PROBABILITIES = ("p_planet", "p_confirmed", "p_candidate", "p_false_positive")


def _prediction_expectations() -> tuple[gxe.Expectation, ...]:
    return (
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "one_prediction_per_koi",
            CRITICAL,
            "One prediction per KOI for the model version and batch.",
            column="kepoi_name",
        ),
        _expect(
            gxe.ExpectTableRowCountToEqual,
            "every_koi_scored",
            CRITICAL,
            "Every KOI of the batch scored.",
            value=parameter("batch_rows"),
        ),
        *(
            _between(p, f"{p}_probability", f"{p} in [0, 1].", min_value=0, max_value=1)
            for p in PROBABILITIES
        ),
        _between(
            "class_probability_sum",
            "class_probabilities_sum_to_one",
            "p_confirmed + p_candidate + p_false_positive = 1 (±1e-6).",
            min_value=1 - 1e-6,
            max_value=1 + 1e-6,
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "predicted_class_known",
            CRITICAL,
            "The predicted class is one of the archive's three.",
            column="predicted_class",
            value_set=DISPOSITIONS,
        ),
    )


def _drift_expectations() -> tuple[gxe.Expectation, ...]:
    """Against the previous champion: extreme shifts stop the pipeline, moderate ones warn (a
    retrained model legitimately moves a little, and must not lock the pipeline)."""
    share = "Share of CANDIDATE KOIs with P(planet) >= 0.5"
    return (
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "candidate_planet_share_plausible",
            CRITICAL,
            f"{share} within ±{CANDIDATE_PLANET_SHARE_LIMIT:.2f} of the previous champion's: a "
            "model that suddenly calls every candidate a planet (or none) does not reach the "
            "dashboards.",
            column="candidate_predicted_planet",
            min_value=parameter("candidate_planet_share_min"),
            max_value=parameter("candidate_planet_share_max"),
        ),
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "candidate_planet_share_stable",
            WARNING,
            f"{share} within ±{CANDIDATE_PLANET_SHARE_TOLERANCE:.2f} of the previous champion's.",
            column="candidate_predicted_planet",
            min_value=parameter("candidate_planet_share_warn_min"),
            max_value=parameter("candidate_planet_share_warn_max"),
        ),
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "p_planet_mean_plausible",
            CRITICAL,
            f"Mean P(planet) within ±{P_PLANET_MEAN_LIMIT:.2f} of the previous champion's.",
            column="p_planet",
            min_value=parameter("p_planet_mean_min"),
            max_value=parameter("p_planet_mean_max"),
        ),
        _expect(
            gxe.ExpectColumnKLDivergenceToBeLessThan,
            "p_planet_distribution_stable",
            WARNING,
            "KL divergence of the P(planet) histogram (10 bins) from the previous champion's "
            f"below {P_PLANET_KL_THRESHOLD}: the shape of the distribution, not only its mean.",
            column="p_planet",
            partition_object=parameter("p_planet_reference_histogram"),
            threshold=P_PLANET_KL_THRESHOLD,
            internal_weight_holdout=P_PLANET_KL_HOLDOUT,
        ),
    )


# -- predictions: the TOI classifier's scores of one TOI batch ---------------------------------
#: |p_planet - logistic(planet_log_odds)|: both come from the same calibrated log-odds, so they
#: agree to float rounding (the shipped snapshot: at most 2.2e-16); a column written from another
#: model, or shifted by a row, does not.
LOG_ODDS_TOLERANCE = 1e-9
#: Calibrated log-odds beyond ±50 (P(planet) within 2e-22 of 0 or 1) are no model's output (the
#: shipped snapshot: -7.9 to 6.8).
LOG_ODDS_BOUND = 50
#: The champion must still tell apart the TOIs whose fate is known (it was trained on them, out
#: of fold its ROC AUC is 0.95): on the 2025-10-04 snapshot the CP and KP average P(planet) 0.87
#: and the FP and FA 0.12. A model with its classes swapped (0.13 and 0.88), or scores written to
#: the wrong TOIs (both near the overall mean), fails.
KNOWN_PLANET_MEAN_MIN = 0.6
FALSE_POSITIVE_MEAN_MAX = 0.4
#: The share of PCs the champion calls planets (P(planet) >= 0.5; 2025-10-04: 0.48): outside
#: this band is worth a look, not a stop (a new snapshot's PCs may well differ).
PC_PLANET_SHARE_RANGE = (0.2, 0.8)


def _named_rows(column: str, key: str, why: str) -> gxe.Expectation:
    """A view column that is NULL unless the row is wrong, and then names the TOI: the sample
    values say which TOIs failed."""
    return _expect(gxe.ExpectColumnValuesToBeNull, key, CRITICAL, why, column=column)


def _toi_prediction_expectations() -> tuple[gxe.Expectation, ...]:
    keys = (
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "one_prediction_per_toi",
            CRITICAL,
            "One prediction per TOI for the model version and batch.",
            column="toi",
        ),
        _expect(
            gxe.ExpectTableRowCountToEqual,
            "every_toi_scored",
            CRITICAL,
            "As many predictions as the TOI mart has TOIs of the batch (the shipped snapshot: "
            "7,703): no TOI left unscored.",
            value=parameter("batch_rows"),
        ),
        _named_rows(
            "toi_not_in_batch",
            "scored_tois_in_batch",
            "Every TOI scored is a TOI of the batch: none invented, none from another snapshot.",
        ),
        _named_rows(
            "tic_id_mismatch",
            "tic_id_of_the_toi",
            "Each prediction carries its TOI's TIC id as the batch has it: scores shifted by "
            "a row, or filed under another star, fail.",
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "model_is_the_toi_classifier",
            CRITICAL,
            "The scores are the TOI classifier's (task toi_classifier in ml.model_registry).",
            column="model_task",
            value_set=["toi_classifier"],
        ),
        _expect(
            gxe.ExpectColumnValuesToBeInSet,
            "model_is_the_champion",
            CRITICAL,
            "The model version is the TOI champion: the marts show the champion's scores only.",
            column="model_is_champion",
            value_set=[1],
        ),
    )
    scores = (
        _between("p_planet", "p_planet_probability", "p_planet in [0, 1].", min_value=0,
                 max_value=1),
        _between(
            "planet_log_odds",
            "planet_log_odds_finite",
            f"Calibrated log-odds finite and within ±{LOG_ODDS_BOUND} (NaN and ±Infinity fail "
            "any bound; beyond it P(planet) is 0 or 1 to 2e-22, which no calibrated model says).",
            min_value=-LOG_ODDS_BOUND,
            max_value=LOG_ODDS_BOUND,
        ),
        _between(
            "p_planet_log_odds_gap",
            "planet_log_odds_matches_p_planet",
            "p_planet = 1 / (1 + exp(-planet_log_odds)) within "
            f"{LOG_ODDS_TOLERANCE:g}: the ranking score and the probability are one model's.",
            max_value=LOG_ODDS_TOLERANCE,
        ),
    )  # fmt: skip
    ranking = (
        _named_rows(
            "rank_disposition_conflict",
            "candidate_rank_exactly_for_pcs",
            "A candidate rank for every PC and for no other TOI (the TFOPWG disposition of the "
            "scored batch).",
        ),
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "candidate_rank_unique",
            CRITICAL,
            "One PC per rank: a strict order.",
            column="candidate_rank",
        ),
        _between(
            "candidate_rank",
            "candidate_rank_within_pcs",
            "Ranks 1 to the number of PCs of the batch (with one per PC, unique: exactly 1..n).",
            min_value=1,
            max_value=parameter("pc_count"),
        ),
        _named_rows(
            "rank_against_log_odds",
            "candidate_rank_follows_log_odds",
            "In rank order the PCs' log-odds never rise: rank 1 is the PC most likely a planet.",
        ),
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "pc_log_odds_distinct",
            WARNING,
            "No two PCs share a log-odds (a tie is ranked as it comes: the order between them "
            "means nothing).",
            column="pc_planet_log_odds",
        ),
    )
    plausible = (
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "known_planets_scored_high",
            CRITICAL,
            f"Mean P(planet) of the confirmed and known planets (CP, KP) at least "
            f"{KNOWN_PLANET_MEAN_MIN} (the shipped snapshot: 0.87): a model with its classes "
            "swapped, or scores written to the wrong TOIs, fails.",
            column="known_planet_p_planet",
            min_value=KNOWN_PLANET_MEAN_MIN,
        ),
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "false_positives_scored_low",
            CRITICAL,
            f"Mean P(planet) of the false positives and false alarms (FP, FA) at most "
            f"{FALSE_POSITIVE_MEAN_MAX} (the shipped snapshot: 0.12).",
            column="false_positive_p_planet",
            max_value=FALSE_POSITIVE_MEAN_MAX,
        ),
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "pc_planet_share_plausible",
            WARNING,
            f"Share of PCs with P(planet) >= 0.5 between {PC_PLANET_SHARE_RANGE[0]} and "
            f"{PC_PLANET_SHARE_RANGE[1]} (the shipped snapshot: 0.48): a model that calls "
            "nearly every PC a planet, or nearly none, is worth a look.",
            column="pc_predicted_planet",
            min_value=PC_PLANET_SHARE_RANGE[0],
            max_value=PC_PLANET_SHARE_RANGE[1],
        ),
    )
    return keys + scores + ranking + plausible


# -- anomalies: one anomaly model version's scores of one load batch ---------------------------
ANOMALY_SCORES = (
    "score_iforest",
    "score_ecod",
    "score_copod",
    "score_knn",
    "ensemble_score",
    "p_outlier",
    "p_outlier_low",
    "p_outlier_high",
)


def _anomaly_expectations() -> tuple[gxe.Expectation, ...]:
    return (
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "one_anomaly_score_per_koi",
            CRITICAL,
            "One anomaly row per KOI for the model version and batch.",
            column="kepoi_name",
        ),
        _expect(
            gxe.ExpectColumnMeanToBeBetween,
            "flagged_share_within_budget",
            CRITICAL,
            "Share of KOIs flagged is_anomaly within the detector's contamination budget "
            f"(±{ANOMALY_SHARE_TOLERANCE:.1%}).",
            column="anomaly_flag",
            min_value=parameter("flagged_share_min"),
            max_value=parameter("flagged_share_max"),
        ),
        *(
            _between(
                score,
                f"{score}_finite",
                f"{score} is a finite share in [0, 1] (NaN and ±Infinity fail any bound).",
                min_value=0,
                max_value=1,
            )
            for score in ANOMALY_SCORES
        ),
        _between(
            "density_log_ratio",
            "density_log_ratio_finite",
            "log10(rho_transit / rho_catalogue) finite and within ±10 (NaN and ±Infinity fail "
            "any bound).",
            min_value=-10,
            max_value=10,
        ),
        _between("anomaly_rank", "anomaly_rank_positive", "Ranks start at 1.", min_value=1),
        _expect(
            gxe.ExpectColumnValuesToBeUnique,
            "anomaly_rank_unique",
            CRITICAL,
            "One KOI per anomaly rank.",
            column="anomaly_rank",
        ),
    )


SUITES: tuple[Suite, ...] = (
    Suite(
        "raw_koi_batch",
        "raw",
        "dq",
        "koi_batch_records",
        ("load_batch_id",),
        _raw_expectations(),
    ),
    Suite(
        "raw_toi_batch",
        "raw",
        "dq",
        "toi_batch_records",
        ("load_batch_id",),
        _raw_toi_expectations(),
    ),
    Suite(
        "koi_features",
        "features",
        "marts",
        "fct_koi_features",
        (),
        _feature_expectations(),
    ),
    Suite(
        "toi_features",
        "features",
        "marts",
        "fct_toi_features",
        (),
        _toi_feature_expectations(),
    ),
    Suite(
        "koi_predictions",
        "predictions",
        "dq",
        "koi_prediction_records",
        ("model_version", "load_batch_id"),
        _prediction_expectations(),
    ),
    Suite(
        "koi_prediction_drift",
        "predictions",
        "dq",
        "koi_prediction_records",
        ("model_version", "load_batch_id"),
        _drift_expectations(),
    ),
    Suite(
        "toi_predictions",
        "predictions",
        "dq",
        "toi_prediction_records",
        ("model_version", "load_batch_id"),
        _toi_prediction_expectations(),
    ),
    Suite(
        "koi_anomalies",
        "anomalies",
        "dq",
        "koi_anomaly_records",
        ("model_version", "load_batch_id"),
        _anomaly_expectations(),
    ),
)
STAGES = ("raw", "features", "predictions", "anomalies")


def suite(name: str) -> Suite:
    return next(s for s in SUITES if s.name == name)
