"""Whether an upload is of the kind the CNN was trained on (TESS full-frame images at 30 minutes,
Yu et al. 2019), as the result page and the JSON say it."""

from __future__ import annotations

import pytest

from scoring.lightcurves import store

ANALYSED = {"cnn_model_version": "0123456789abcdef"}


@pytest.mark.parametrize(
    ("mission", "cadence_minutes", "in_domain", "words"),
    [
        ("Kepler", 29.4, False, "on this Kepler light curve its score is an extrapolation"),
        ("K2", 29.4, False, "on this K2 light curve"),
        ("TESS", 2.0, False, "on this 2-minute TESS light curve"),
        ("TESS", 30.0, True, "A TESS full-frame-image cadence"),
    ],
)
def test_the_training_domain_note(
    mission: str, cadence_minutes: float, in_domain: bool, words: str
) -> None:
    row = {"mission": mission, "cadence_minutes": cadence_minutes}
    context = store.cnn_context(row, ANALYSED)
    assert context["in_training_domain"] is in_domain
    assert words in context["domain_note"]
    assert context["model_version"] == ANALYSED["cnn_model_version"]
    assert context["used_in_verdict"] is False


def test_without_a_cnn_the_note_says_so() -> None:
    context = store.cnn_context({"mission": "TESS", "cadence_minutes": 30.0}, None)
    assert context["model_version"] is None and context["domain_note"] == store.NO_CNN
