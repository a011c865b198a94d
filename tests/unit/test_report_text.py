"""The report's words: numbers with units, and a narrative that never lets a CANDIDATE (or a TESS
PC) read as a discovery (pure functions, on hand-made reports)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.reports import text
from scoring.reports.content import Calibration, QualityRun, Reason, Report
from scoring.reports.missions import TESS


def make_report(label: str = "CANDIDATE", **koi: object) -> Report:
    row = {
        "kepoi_name": "K01234.01",
        "kepid": 1234567,
        "kepler_name": None,
        "label_disposition": label,
        "p_planet": 0.9734,
        "candidate_rank": 12,
        "planet_radius_earth": 2.31,
        "radius_class": "sub_neptune",
        "orbital_period_days": 12.3456,
        "equilibrium_temp_k": 712.0,
        "is_in_habitable_zone": False,
        "load_batch_id": 1,
        **koi,
    }
    return Report(
        row=row,
        reasons=[
            Reason("planet radius", "Earth radii", 2.31, 0.8),
            Reason("transit depth", "ppm", 900.0, -0.3),
        ],
        metrics={"roc_auc": 0.987},
        calibration=Calibration(0.97, 0.96, 812),
        n_candidates=2248,
        anomaly={"anomaly_rank": 4000, "anomaly_kind": "ordinary", "anomaly_reasons": None},
        n_anomaly_scored=9564,
        quality=[QualityRun("raw_koi_batch", "raw", "warnings", 40, 0, 2, ("a", "b"))],
        population={"label": np.array([]), "period": np.array([]), "radius": np.array([])},
    )


@pytest.mark.parametrize(
    ("value", "digits", "unit", "expected"),
    [
        (None, 3, "K", "—"),
        (math.nan, 3, "", "—"),
        (5778.0, 4, "K", "5,778 K"),
        (12.3456789, 6, "d", "12.3457 d"),
        (0.5, 3, "", "0.500"),
        (1541400.0, 4, "ppm", "1,541,400 ppm"),
        (True, 3, "", "yes"),
    ],
)
def test_numbers_read_well(value: object, digits: int, unit: str, expected: str) -> None:
    assert text.number(value, digits, unit) == expected


def test_a_candidate_is_never_called_a_discovery() -> None:
    report = make_report()
    story = text.narrative(report)
    assert "neither confirmed nor ruled out" in story
    assert "P(planet) = 0.973, rank 12 of 2,248 candidates" in story
    assert "A candidate is not a discovery until it is confirmed" in story
    assert "raised most by its planet radius" in story
    assert "lowered most by its transit depth" in story
    assert "2.31 Earth radii (a sub-Neptune) on a 12.35-day orbit" in story
    assert "Neither anomaly lens finds it unusual." in story
    assert text.status_line(report) == ("Archive disposition: a CANDIDATE — not a confirmed planet")


def test_the_caveat_quotes_the_reliability_bin() -> None:
    caveat = text.calibration_caveat(make_report())
    assert "Of the 812 labelled KOIs it scored about 0.97, 96% were confirmed planets." in caveat
    assert "CANDIDATEs were never in training" in caveat


def test_confirmed_and_false_positive_keep_the_archive_verdict() -> None:
    confirmed = text.narrative(make_report("CONFIRMED", candidate_rank=None))
    assert "is a confirmed planet" in confirmed
    assert "rank" not in confirmed
    rejected = text.narrative(make_report("FALSE POSITIVE", candidate_rank=None))
    assert "classified as a false positive" in rejected
    assert "looks planet-like, not that the vetting was wrong" in rejected
    agreed = text.narrative(make_report("FALSE POSITIVE", candidate_rank=None, p_planet=0.01))
    assert "The archive's vetting rejected it, and the model agrees." in agreed


def test_statuses_in_words() -> None:
    report = make_report()
    assert text.anomaly_text(report) == (
        "Ordinary: neither anomaly lens flags it (rank 4,000 of 9,564)."
    )
    assert text.quality_text(report.quality, 1) == (
        "Load batch 1: raw load passed with 2 warnings (a, b)."
    )
    assert "No data-quality checks" in text.quality_text([], 3)


# -- TOIs ---------------------------------------------------------------------------------------
def make_toi_report(label: str | None = "PC", **toi: object) -> Report:
    row = {
        "toi": "1234.01",
        "tic_id": 50365310,
        "label_disposition": label,
        "p_planet": 0.8812,
        "planet_log_odds": 2.003,
        "candidate_rank": 7 if label == "PC" else None,
        "planet_radius_earth": 11.2,
        "orbital_period_days": 3.5,
        "equilibrium_temp_k": None,
        "model_version": "v1",
        "model_algorithm": "xgboost",
        **toi,
    }
    return Report(
        row=row,
        reasons=[],
        metrics={"roc_auc": 0.95},
        calibration=Calibration(0.88, 0.85, 310),
        n_candidates=4679,
        anomaly=None,
        n_anomaly_scored=0,
        quality=[],
        population={"label": np.array([]), "period": np.array([]), "radius": np.array([])},
        mission=TESS,
    )


def test_a_toi_report_speaks_of_tess_and_says_what_it_lacks() -> None:
    report = make_toi_report()
    assert report.name == "TOI-1234.01"
    assert text.title(report) == "ExoHunter discovery report: TOI-1234.01"
    assert text.status_line(report) == (
        "TFOPWG disposition: a planet candidate (PC) — not a confirmed planet"
    )
    story = text.narrative(report)
    assert "TOI-1234.01 is a transit-like signal on the star TIC 50365310" in story
    assert "P(planet) = 0.881, rank 7 of 4,679 planet candidates (PC)" in story
    assert "A candidate is not a discovery until it is confirmed" in story
    assert "KIC" not in story and "Kepler" not in story
    assert "anomaly lenses are fitted on the Kepler KOI table only" in text.anomaly_text(report)
    assert "No per-feature explanation is stored for TOI scores" in text.no_explanation_text(report)
    assert "No light curve is shown for a TOI" in text.no_lightcurve_text(report)
    assert "log-odds +2.00 · CP+KP vs FP+FA, grouped by TIC" in text.model_line(report)
    caveat = text.calibration_caveat(report)
    assert "Of the 310 labelled TOIs it scored about 0.88, 85% were planets (CP or KP)." in caveat
    assert "PCs and APCs were never in training" in caveat


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("CP", "TOI-1234.01 is a confirmed planet (CP) of the star TIC 50365310."),
        ("KP", "TFOPWG lists it as a known planet (KP)"),
        ("FP", "that TFOPWG classified as a false positive (FP)."),
        ("FP", "TFOPWG's verdict came from vetting the model never reads"),
        ("FA", "TFOPWG's vetting rejected it; the high P(planet)"),
        ("APC", "only the planet candidates (PC) are ranked"),
        (None, "neither confirmed nor ruled out"),
    ],
)
def test_every_tfopwg_disposition_reads_right(label: str | None, expected: str) -> None:
    assert expected in text.narrative(make_toi_report(label))
