"""The data-quality suites and gate messages, checked without a database: every expectation is
named, marked critical or warning and explained; the issue's checks are all there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from scoring import settings
from scoring.classifier import training
from scoring.ml import features
from scoring.quality import context, errors, gates, suites, targets, validation

# The checks the issue asks for, by the key each carries in its suite.
REQUIRED = {
    "raw_koi_batch": {
        "row_count_near_previous_batch",
        "kepoi_name_unique",
        "koi_disposition_known",
        "koi_period_positive",
        "koi_depth_non_negative",
        "koi_duration_positive",
        "koi_impact_bounded",
        "koi_steff_stellar",
        "koi_slogg_stellar",
        "ra_in_range",
        "dec_in_range",
        "koi_depth_filled",
    },
    "raw_toi_batch": {
        "row_count_not_shrunk",
        "toi_unique",
        "tfopwg_disp_known",
        "pl_orbper_positive",
        "pl_trandep_non_negative",
        "pl_trandep_median_in_ppm",
        "pl_tranmid_is_bjd",
        "st_teff_stellar",
        "ra_in_range",
        "dec_in_range",
        "pl_trandep_filled",
    },
    "koi_features": {"one_row_per_koi", "every_koi_has_features"}
    | {f"{feature}_filled" for feature in features.HONEST_FEATURES},
    "toi_features": {
        "one_row_per_toi",
        "every_toi_has_features",
        "transit_depth_median_in_ppm",
        "radius_ratio_median_physical",
        "duration_ratio_median_physical",
    }
    | {f"{feature}_filled" for feature in features.TESS_HONEST_FEATURES},
    "koi_predictions": {
        "p_planet_probability",
        "class_probabilities_sum_to_one",
        "one_prediction_per_koi",
    },
    "koi_prediction_drift": {"candidate_planet_share_plausible", "p_planet_distribution_stable"},
    "toi_predictions": {
        "one_prediction_per_toi",
        "every_toi_scored",
        "p_planet_probability",
        "planet_log_odds_matches_p_planet",
        "candidate_rank_exactly_for_pcs",
        "candidate_rank_unique",
        "candidate_rank_within_pcs",
        "model_is_the_champion",
    },
    "koi_anomalies": {"flagged_share_within_budget", "ensemble_score_finite"},
}


@pytest.mark.parametrize("spec", suites.SUITES, ids=lambda s: s.name)
def test_every_expectation_is_named_graded_and_explained(spec: suites.Suite) -> None:
    keys = [suites.key_of(e) for e in spec.expectations]
    assert len(keys) == len(set(keys)), "keys must be unique within a suite"
    for expectation in spec.expectations:
        assert expectation.severity in (suites.CRITICAL, suites.WARNING)
        assert expectation.description and expectation.description.endswith(".")
    assert REQUIRED[spec.name] <= set(keys)


def test_every_stage_has_a_suite_and_every_suite_a_stage() -> None:
    assert {s.stage for s in suites.SUITES} == set(targets.STAGES) == set(suites.STAGES)


def test_the_feature_suite_tolerates_only_documented_missing_values() -> None:
    # XGBoost takes NaN natively: the ceilings are the documented "imputation".
    assert suites.feature_null_ceiling("orbital_period_days") == 0.0
    assert suites.feature_null_ceiling("nearest_period_ratio_on_star") > 0.76  # one-KOI stars
    for feature in features.HONEST_FEATURES:
        assert 0.0 <= suites.feature_null_ceiling(feature) < 1.0


def test_the_toi_feature_suite_tolerates_only_documented_missing_values() -> None:
    assert suites.toi_feature_null_ceiling("n_kois_on_star") == 0.0
    assert suites.toi_feature_null_ceiling("nearest_period_ratio_on_star") > 0.936  # one-TOI stars
    assert set(suites.TOI_FEATURE_NULL_CEILINGS) <= set(features.TESS_HONEST_FEATURES)
    for feature in features.TESS_HONEST_FEATURES:
        assert 0.0 <= suites.toi_feature_null_ceiling(feature) < 1.0
    checked = {e.column for e in suites.suite("toi_features").expectations if hasattr(e, "column")}
    assert set(features.TESS_HONEST_FEATURES) <= checked


def test_the_toi_prediction_suite_gates_the_ranking_and_reads_only_its_view() -> None:
    spec = suites.suite("toi_predictions")
    assert (spec.stage, spec.relation) == ("predictions", "dq.toi_prediction_records")
    assert spec.batch_columns == ("model_version", "load_batch_id")  # one model's one batch
    severity = {suites.key_of(e): e.severity for e in spec.expectations}
    # what the Discoveries ranking stands on is critical; ties and the PCs' share only warn
    for key in REQUIRED["toi_predictions"] | {
        "candidate_rank_follows_log_odds",
        "scored_tois_in_batch",
        "known_planets_scored_high",
        "false_positives_scored_low",
    }:
        assert severity[key] == suites.CRITICAL, key
    assert (
        severity["pc_log_odds_distinct"]
        == severity["pc_planet_share_plausible"]
        == (suites.WARNING)
    )
    parameters = {
        e.value["$PARAMETER"] if hasattr(e, "value") else e.max_value["$PARAMETER"]
        for e in spec.expectations
        if isinstance(getattr(e, "value", None) or getattr(e, "max_value", None), dict)
    }
    assert parameters == {"batch_rows", "pc_count"}  # both filled in by targets.py
    view = (
        settings.PROJECT_ROOT / "scoring/warehouse/migrations/0016_toi_prediction_records.sql"
    ).read_text()
    for column in {e.column for e in spec.expectations if hasattr(e, "column")}:
        assert f" as {column}" in view or f"p.{column}," in view or f"r.{column}," in view
    assert "(p.p_planet >= 0.5)" in view and training.THRESHOLD == 0.5


def test_the_prediction_view_uses_the_training_threshold() -> None:
    migration = (
        settings.PROJECT_ROOT / "scoring/warehouse/migrations/0005_data_quality.sql"
    ).read_text()
    assert training.THRESHOLD == 0.5
    assert "(p_planet >= 0.5)" in migration


def test_sqlalchemy_url_uses_psycopg_3() -> None:
    assert context.sqlalchemy_url("postgresql://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert context.sqlalchemy_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(errors.QualityError, match="not a PostgreSQL URL"):
        context.sqlalchemy_url("mysql://u:secret@h/db")


def outcome(**changes: object) -> validation.Outcome:
    values: dict[str, object] = {
        "key": "koi_period_positive",
        "expectation_type": "expect_column_values_to_be_between",
        "column": "koi_period",
        "critical": True,
        "success": False,
        "observed_value": None,
        "element_count": 9564,
        "unexpected_count": 50,
        "unexpected_percent": 0.52,
        "unexpected_values": [-9.48803557, -9.48803557, -54.4183827, None],
        "arguments": {"column": "koi_period", "min_value": 0, "strict_min": True},
        "description": "Orbital period > 0 days.",
        "exception_message": None,
    }
    values.update(changes)
    return validation.Outcome(**values)  # type: ignore[arg-type]


def test_a_failure_names_the_expectation_the_column_and_distinct_samples() -> None:
    line = outcome().summary()
    assert line.startswith("koi_period_positive (expect_column_values_to_be_between, column ")
    assert "50 of 9,564 values unexpected (0.52 %), e.g. -9.48804, -54.4184" in line
    assert line.count("-9.48804") == 1 and "None" not in line


def test_an_aggregate_failure_shows_what_was_observed_and_expected() -> None:
    line = outcome(
        key="row_count_near_previous_batch",
        expectation_type="expect_table_row_count_to_be_between",
        column=None,
        observed_value=4782,
        element_count=None,
        unexpected_count=None,
        unexpected_percent=None,
        unexpected_values=[],
        arguments={"min_value": 7651, "max_value": 11477},
    ).summary()
    assert line == (
        "row_count_near_previous_batch (expect_table_row_count_to_be_between): "
        "observed 4,782, expected 7,651 to 11,477"
    )
    median = outcome(
        expectation_type="expect_column_median_to_be_between",
        observed_value=421100000.0,
        unexpected_count=None,
        arguments={"column": "koi_depth", "min_value": 50, "max_value": 5000},
    )
    assert median.finding() == "observed 421,100,000, expected 50 to 5,000"


def test_the_gate_message_says_what_stays_in_place_and_where_to_look() -> None:
    now = datetime.now(UTC)
    run = validation.SuiteRun(
        uuid.UUID(int=7),
        targets.Target("raw_koi_batch", "raw", {"load_batch_id": 2}, {}, 2),
        "dq.koi_batch_records",
        now,
        now,
        [outcome(), outcome(key="ra_in_range", column="ra", critical=False)],
    )
    assert not run.critical_success and [o.key for o in run.warnings] == ["ra_in_range"]
    message = gates.gate_message("raw", [run], None)
    assert message.splitlines()[0] == (
        "data-quality gate failed: raw_koi_batch on load batch 2, 1 critical expectation failed:"
    )
    assert "koi_period_positive" in message and "ra_in_range" not in message
    assert "Load batch 2 stays in raw, marked failed_quality" in message
    assert "validation_run_id in ('00000000-0000-0000-0000-000000000007')" in message
