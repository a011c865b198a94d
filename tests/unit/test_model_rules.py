"""The science rules, checked without a database: no leakage, splits grouped by star."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from scoring import settings
from scoring.ml import features, nested_cv, registry

LEAKY = {
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
}  # ../shared/data/README.md

# TESS (data/README.md, "Leakage"): the TOI table's label, what is never a feature, and the
# physical values a TOI model may read; the uncertainties (*err1, *err2) are left out as for the
# KOI table, except the transit fit's (period, duration, depth: read as relative
# uncertainties, as the KOI model does). The TOI feature list (features.TESS_HONEST_FEATURES) reads
# only TESS_PHYSICAL and those.
TESS_LABEL = "tfopwg_disp"
TESS_NEVER_FEATURES = {
    "toi",  # identifier
    "tid",  # identifier (TIC id): the grouping key of the splits
    "rowupdate",  # moves whenever a disposition or a follow-up note does
    "toi_created",  # alert date: predicts whether a label exists, not what the signal is
    "pl_tranmid",  # a date as well; ephemeris matching only
    "ra",  # where the star is: which telescopes can follow it up; matching only
    "dec",
    "rastr",
    "decstr",
    # limit flags: 0 or empty in every row
    *(f"{name}lim" for name in ("st_pmra", "st_pmdec", "pl_tranmid", "pl_orbper", "pl_trandurh")),
    *(f"{name}lim" for name in ("pl_trandep", "pl_rade", "pl_insol", "pl_eqt", "st_tmag")),
    *(f"{name}lim" for name in ("st_dist", "st_teff", "st_logg", "st_rad")),
    # stellar uncertainties: whether follow-up spectroscopy was done
    *(f"{name}err{i}" for name in ("st_teff", "st_logg", "st_rad") for i in (1, 2)),
}
TESS_PHYSICAL = (
    "pl_orbper",
    "pl_trandurh",
    "pl_trandep",
    "pl_rade",
    "pl_insol",
    "pl_eqt",
    "st_teff",
    "st_logg",
    "st_rad",
    "st_tmag",
    "st_dist",
    "st_pmra",
    "st_pmdec",
)


def mart_columns(model: str) -> list[str]:
    spec = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models/marts/_marts__models.yml").read_text()
    )
    found = next(m for m in spec["models"] if m["name"] == model)
    return [c["name"] for c in found["columns"]]


def test_no_forbidden_column_is_a_feature() -> None:
    assert LEAKY <= features.FORBIDDEN
    assert not set(features.HONEST_FEATURES) & features.FORBIDDEN
    assert not set(features.HONEST_FEATURES) & set(features.VETTING_FLAGS)
    assert len(set(features.HONEST_FEATURES)) == len(features.HONEST_FEATURES)


def test_the_tess_leakage_policy_decides_every_toi_column_and_is_written_down() -> None:
    with settings.SHIPPED_TOI_FILE.open() as handle:
        columns = next(line for line in handle if not line.startswith("#")).strip().split(",")
    uncertainties = {c for c in columns if c.endswith(("err1", "err2"))}
    decided = [{TESS_LABEL}, TESS_NEVER_FEATURES, set(TESS_PHYSICAL), uncertainties]
    assert set().union(*decided) == set(columns), "every column of the TOI export is decided"
    assert sum(map(len, decided)) - len(TESS_NEVER_FEATURES & uncertainties) == len(columns)
    assert not set(TESS_PHYSICAL) & (TESS_NEVER_FEATURES | uncertainties | {TESS_LABEL})
    assert TESS_LABEL not in TESS_NEVER_FEATURES
    policy = (settings.DATA_DIR / "README.md").read_text()
    for name in ("tfopwg_disp", "toi", "tid", "rowupdate", "toi_created", "pl_tranmid"):
        assert f"`{name}`" in policy, name
    # the staging model says so too, column by column
    spec = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models/staging/tess/_tess__models.yml").read_text()
    )
    described = {c["name"]: c["description"] for c in spec["models"][0]["columns"]}
    for column in ("toi", "tic_id", "toi_created_at", "row_updated_at", "transit_epoch_bjd"):
        assert "never a" in described[column].lower(), column


def test_check_honest_refuses_a_leaky_list() -> None:
    with pytest.raises(ValueError, match="koi_score"):
        features.check_honest([*features.HONEST_FEATURES, "koi_score"])


def test_every_feature_is_in_the_feature_mart_contract_and_no_vetting_output_is() -> None:
    columns = mart_columns("fct_koi_features")
    assert set(features.HONEST_FEATURES) <= set(columns)
    assert not (set(columns) & (LEAKY - {"kepid", "kepoi_name"}))
    assert set(features.VETTING_FLAGS) | {features.LEAKY_SCORE} <= set(
        mart_columns("fct_koi_vetting")
    )


# What each TOI feature is computed from (archive columns): the mart's formulas, written out so
# that the list can be checked against the policy above.
TESS_FIT_UNCERTAINTIES = {
    f"{c}err{i}" for c in ("pl_orbper", "pl_trandurh", "pl_trandep") for i in (1, 2)
}
TESS_FEATURE_SOURCES = {
    "orbital_period_days": {"pl_orbper"},
    "transit_duration_hours": {"pl_trandurh"},
    "transit_depth_ppm": {"pl_trandep"},
    "planet_radius_earth": {"pl_rade"},
    "equilibrium_temp_k": {"pl_eqt"},
    "insolation_earth_flux": {"pl_insol"},
    "stellar_teff_k": {"st_teff"},
    "stellar_logg_cgs": {"st_logg"},
    "stellar_radius_solar": {"st_rad"},
    "tess_magnitude": {"st_tmag"},
    "stellar_distance_pc": {"st_dist"},
    "proper_motion_ra_mas_per_yr": {"st_pmra"},
    "proper_motion_dec_mas_per_yr": {"st_pmdec"},
    "radius_ratio": {"pl_trandep"},
    "planet_radius_consistency": {"pl_rade", "pl_trandep", "st_rad"},
    "stellar_density_transit_gcc": {"pl_orbper", "pl_trandurh", "pl_trandep"},
    "stellar_density_catalogue_gcc": {"st_logg", "st_rad"},
    "log10_density_ratio": {"pl_orbper", "pl_trandurh", "pl_trandep", "st_logg", "st_rad"},
    "duration_ratio": {"pl_orbper", "pl_trandurh", "st_logg", "st_rad"},
    "n_kois_on_star": set(),  # counts rows per TIC id, whatever their label
    "period_rank_on_star": {"pl_orbper"},
    "nearest_period_ratio_on_star": {"pl_orbper"},
    "period_ratio_integer_offset": {"pl_orbper"},
    # the epoch only against other stars' epochs (a phase offset), never as a date
    "ephemeris_match_brighter_significance": {"pl_orbper", "pl_tranmid", "st_tmag"},
    "orbital_period_rel_unc": {"pl_orbper", "pl_orbpererr1", "pl_orbpererr2"},
    "transit_duration_rel_unc": {"pl_trandurh", "pl_trandurherr1", "pl_trandurherr2"},
    "transit_depth_rel_unc": {"pl_trandep", "pl_trandeperr1", "pl_trandeperr2"},
}
# Columns of fct_toi_features that are neither features nor forbidden: the fit's raw error bars
# (the features read them as relative uncertainties), log10 transforms of features (redundant
# for trees) and the intermediate geometry.
TESS_MART_NOT_FEATURES = {
    "ephemeris_match_fainter_significance",  # this TOI as the contaminator: for SQL users
    *(f"{c}_err{i}" for c in ("orbital_period_days", "transit_duration_hours") for i in (1, 2)),
    "transit_depth_ppm_err1",
    "transit_depth_ppm_err2",
    "log10_orbital_period",
    "log10_transit_depth",
    "log10_planet_radius",
    "a_over_rstar_transit",
    "a_over_rstar_kepler",
    "expected_duration_hours",
}


def test_no_forbidden_toi_column_is_a_tess_feature_and_each_is_in_the_toi_mart() -> None:
    honest = features.TESS_HONEST_FEATURES
    assert len(set(honest)) == len(honest)
    assert not set(honest) & features.TESS_FORBIDDEN
    assert TESS_NEVER_FEATURES | {TESS_LABEL} <= features.TESS_FORBIDDEN | {
        c for c in TESS_NEVER_FEATURES if c.endswith("lim")
    }
    columns = mart_columns("fct_toi_features")
    assert set(honest) <= set(columns)
    assert set(features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP) <= set(honest)
    # every column of the mart is decided, one way only
    decided = [set(honest), set(columns) & features.TESS_FORBIDDEN, TESS_MART_NOT_FEATURES]
    assert set().union(*decided) == set(columns)
    assert sum(map(len, decided)) == len(columns)
    with pytest.raises(ValueError, match="toi"):
        features.check_tess_honest([*honest, "toi"])


def test_every_tess_feature_reads_only_physical_values_and_the_fit_uncertainties() -> None:
    assert set(TESS_FEATURE_SOURCES) == set(features.TESS_HONEST_FEATURES)
    allowed = set(TESS_PHYSICAL) | TESS_FIT_UNCERTAINTIES
    for feature, sources in TESS_FEATURE_SOURCES.items():
        # the one forbidden column a feature may read: the epoch, for a phase offset between
        # two stars' signals (an ephemeris match), never as a date
        matched_only = {"pl_tranmid"} if feature.startswith("ephemeris_match_") else set()
        assert sources - matched_only <= allowed, (feature, sources - allowed)
    assert not TESS_FIT_UNCERTAINTIES & features.TESS_FORBIDDEN


def test_the_uncertainties_left_out_of_the_tess_features_are_set_by_follow_up() -> None:
    """The reason the planet-radius and distance error bars are forbidden, measured on the
    shipped export: filled for nearly every confirmed planet, for far fewer candidates; the
    fit's own error bars are filled alike in every class."""
    toi = pd.read_csv(settings.SHIPPED_TOI_FILE, comment="#")
    filled = toi.notna().groupby(toi.tfopwg_disp).mean()
    for column in ("pl_radeerr1", "st_disterr1", "st_raderr1"):
        assert filled.loc["CP", column] > 0.97 > 0.92 > filled.loc["PC", column], column
    for column in sorted(TESS_FIT_UNCERTAINTIES):
        assert filled[column].min() > 0.95, column
    for feature, column in (("planet_radius_earth", "pl_rade"), ("stellar_logg_cgs", "st_logg")):
        assert feature in features.TESS_PRESENCE_FOLLOWS_FOLLOW_UP
        assert filled.loc["CP", column] > 0.98 and filled.loc["FP", column] < 0.92


def test_no_star_crosses_folds() -> None:
    koi = pd.read_csv(settings.SHIPPED_KOI_FILE, comment="#")
    labelled = koi[koi.koi_disposition.isin(["CONFIRMED", "FALSE POSITIVE"])]
    y = (labelled.koi_disposition == "CONFIRMED").to_numpy(int)
    groups = labelled.kepid.to_numpy()
    splits = nested_cv.group_splits(y, groups, nested_cv.N_OUTER_FOLDS, seed=0)
    assert len(splits) == nested_cv.N_OUTER_FOLDS
    seen = np.zeros(len(y), int)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        seen[test] += 1
        # inner folds, built on the training part only, are grouped too
        for inner_train, inner_test in nested_cv.group_splits(
            y[train], groups[train], nested_cv.N_INNER_FOLDS, seed=1
        ):
            assert not set(groups[train][inner_train]) & set(groups[train][inner_test])
    assert (seen == 1).all(), "every KOI is tested exactly once"
    multi = labelled.kepid.value_counts()
    assert (multi > 1).sum() > 500, "the data has many multi-KOI stars, so the check bites"


def test_model_version_is_deterministic() -> None:
    config = {"a": 1, "grid": [{"depth": 3}]}
    version = registry.model_version(config, ["x", "y"], 7)
    assert version == registry.model_version({"grid": [{"depth": 3}], "a": 1}, ["x", "y"], 7)
    assert version != registry.model_version(config, ["x", "y"], 8)
    assert version != registry.model_version(config, ["y", "x"], 7)
    assert len(version) == 16


def test_three_class_calibration_sums_to_one() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, size=300)
    groups = np.arange(300) // 2
    model = nested_cv.fit_calibrated(nested_cv.LOGISTIC, X, y, groups, seed=0)
    proba = model.predict_proba(rng.normal(size=(50, 3)) * 5)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert ((proba >= 0) & (proba <= 1)).all()
