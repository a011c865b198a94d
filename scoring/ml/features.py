"""The models' inputs: an explicit list of the honest features of ``marts.fct_koi_features``.

The list is explicit so that a reviewer (and a test) can see every input. Vetting outputs and
identifiers are forbidden: a model reading them would be reading the answer (see data/README.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL = "label_disposition"
CLASSES = ("FALSE POSITIVE", "CANDIDATE", "CONFIRMED")  # index = class id of the 3-class model
PLANET, NOT_PLANET = "CONFIRMED", "FALSE POSITIVE"

# Outputs of the vetting that produced the label, identifiers, and the pipeline release: never
# features. (kepid is the grouping key of the splits, nothing else.)
FORBIDDEN = frozenset(
    {
        "koi_pdisposition",
        "koi_score",
        "koi_fpflag_nt",
        "koi_fpflag_ss",
        "koi_fpflag_co",
        "koi_fpflag_ec",
        "kepler_name",
        "kepoi_name",
        "kepid",
        "loc_rowid",
        "koi_tce_delivname",
        "koi_disposition",
        LABEL,
        "load_batch_id",
        "tce_delivery_name",
    }
)

HONEST_FEATURES: tuple[str, ...] = (
    # the transit fit
    "orbital_period_days",
    "transit_duration_hours",
    "transit_depth_ppm",
    "impact_parameter",
    "planet_radius_earth",
    "equilibrium_temp_k",
    "insolation_earth_flux",
    "transit_model_snr",
    # the star (values only: their error bars mostly say whether follow-up spectroscopy was done,
    # a consequence of the vetting, so they are left out)
    "stellar_teff_k",
    "stellar_logg_cgs",
    "stellar_radius_solar",
    "kepler_magnitude",
    # transit physics: does the signal look like a planet transiting this star?
    "radius_ratio",
    "is_grazing",
    "planet_radius_consistency",
    "stellar_density_transit_gcc",
    "stellar_density_catalogue_gcc",
    "log10_density_ratio",
    "duration_ratio",
    "snr_per_transit",
    # system multiplicity (counts every KOI of the star, whatever its label)
    "n_kois_on_star",
    "period_rank_on_star",
    "nearest_period_ratio_on_star",
    "period_ratio_integer_offset",
    # contamination: the period and epoch of a brighter star's signal (-log10 of the chance of
    # so close a match among every other star's KOIs; periods, epochs and magnitudes only)
    "ephemeris_match_brighter_significance",
    # how well the light-curve fit constrains the transit (poorly fitted shapes are often not
    # planets)
    "orbital_period_rel_unc",
    "transit_duration_rel_unc",
    "transit_depth_rel_unc",
    "impact_parameter_rel_unc",
    "impact_parameter_err1",
    "impact_parameter_err2",
)

# Vetting outputs, for the clearly labelled comparison runs only (ablation and leaky ceiling).
VETTING_FLAGS: tuple[str, ...] = (
    "koi_fpflag_nt",
    "koi_fpflag_ss",
    "koi_fpflag_co",
    "koi_fpflag_ec",
)
LEAKY_SCORE = "koi_score"


def check_honest(features: tuple[str, ...] | list[str]) -> None:
    leaked = sorted(set(features) & FORBIDDEN)
    if leaked:
        raise ValueError(f"forbidden columns in the feature list: {', '.join(leaked)}")


def matrix(frame: pd.DataFrame, features: tuple[str, ...] | list[str]) -> np.ndarray:
    return frame[list(features)].to_numpy(dtype="float64", na_value=np.nan)


# -- TESS: marts.fct_toi_features ---------------------------------------------------------------
# The TOI table's label and what is never a feature (data/README.md, "Leakage"; docs/model_card.md
# keeps the KOI model's). The columns TESS shares with Kepler carry fct_koi_features' names, so
# one model can read both marts; the lists are separate because the two tables leak differently.
TESS_LABEL = LABEL  # label_disposition = tfopwg_disp
TESS_PLANET = ("CP", "KP")
TESS_NOT_PLANET = ("FP", "FA")
TESS_UNRESOLVED = ("PC", "APC")  # scored, never trained on

TESS_FORBIDDEN = frozenset(
    {
        # the label, as the archive and the marts name it
        "tfopwg_disp",
        LABEL,
        # identifiers: the TOI number follows the order of discovery (older TOIs have had longer
        # to be dispositioned), the TIC id is the grouping key of the splits
        "toi",
        "tid",
        "tic_id",
        "load_batch_id",
        "snapshot_at",
        "source_line",
        # bookkeeping dates that move with the dispositioning
        "toi_created",
        "toi_created_at",
        "rowupdate",
        "row_updated_at",
        # the transit epoch: a date (when the TOI was found), used only to match ephemerides
        "pl_tranmid",
        "transit_epoch_bjd",
        # where the star is decides who can follow it up; matching only
        "ra",
        "dec",
        "rastr",
        "decstr",
        "ra_deg",
        "dec_deg",
        "ra_sexagesimal",
        "dec_sexagesimal",
        # uncertainties whose presence is set by follow-up: the stellar error bars (spectroscopy
        # done or not), the planet radius's (filled for 99 % of CP, 74 % of PC in 2025-10-04),
        # the distance's (99 % of CP, 90 % of PC)
        *(
            f"{name}{suffix}"
            for name in ("st_teff", "st_logg", "st_rad", "pl_rade", "st_dist")
            for suffix in ("err1", "err2")
        ),
        *(
            f"{name}_{suffix}"
            for name in (
                "stellar_teff_k",
                "stellar_logg_cgs",
                "stellar_radius_solar",
                "planet_radius_earth",
                "stellar_distance_pc",
            )
            for suffix in ("err1", "err2")
        ),
        "planet_radius_rel_unc",
    }
)

TESS_HONEST_FEATURES: tuple[str, ...] = (
    # the transit fit
    "orbital_period_days",
    "transit_duration_hours",
    "transit_depth_ppm",
    "planet_radius_earth",
    "equilibrium_temp_k",
    "insolation_earth_flux",
    # the TIC star (values only)
    "stellar_teff_k",
    "stellar_logg_cgs",
    "stellar_radius_solar",
    "tess_magnitude",
    "stellar_distance_pc",
    "proper_motion_ra_mas_per_yr",
    "proper_motion_dec_mas_per_yr",
    # transit physics, the KOIs' formulas (b = 0: the TOI table fits no impact parameter)
    "radius_ratio",
    "planet_radius_consistency",
    "stellar_density_transit_gcc",
    "stellar_density_catalogue_gcc",
    "log10_density_ratio",
    "duration_ratio",
    # system multiplicity (counts every TOI of the star, whatever its label)
    "n_kois_on_star",
    "period_rank_on_star",
    "nearest_period_ratio_on_star",
    "period_ratio_integer_offset",
    # contamination, as for the KOIs (a brighter TIC star's period and epoch)
    "ephemeris_match_brighter_significance",
    # how well the discovery pipeline's fit constrains the transit (errors filled for >= 96 % of
    # every disposition)
    "orbital_period_rel_unc",
    "transit_duration_rel_unc",
    "transit_depth_rel_unc",
)

# Honest values whose *absence* follows the dispositioning (2025-10-04 export): the TIC log g is
# missing for 1 % of CP/KP TOIs and 12-28 % of PC/FP/FA, the planet and stellar radius for 0.1-1 %
# against 7-10 %, T_eff, insolation, distance and proper motion for <= 0.6 % against 2-11 %
# (confirmation fills them). A model that learns from "missing" reads part of the label: the TOI
# model must report an ablation with these masked (or their missingness equalised) beside its
# headline figures. (The transit fit and the transit density, from P, T and depth alone, are
# missing alike in every class: 1-4 %.)
TESS_PRESENCE_FOLLOWS_FOLLOW_UP: tuple[str, ...] = (
    "planet_radius_earth",
    "equilibrium_temp_k",
    "insolation_earth_flux",
    "stellar_teff_k",
    "stellar_logg_cgs",
    "stellar_radius_solar",
    "stellar_distance_pc",
    "proper_motion_ra_mas_per_yr",
    "proper_motion_dec_mas_per_yr",
    "planet_radius_consistency",
    "stellar_density_catalogue_gcc",
    "log10_density_ratio",
    "duration_ratio",
)


def check_tess_honest(features: tuple[str, ...] | list[str]) -> None:
    leaked = sorted(set(features) & TESS_FORBIDDEN)
    if leaked:
        raise ValueError(f"forbidden TOI columns in the feature list: {', '.join(leaked)}")
