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
