"""The refusals of the data-quality checks: a check that cannot run, and a gate that stops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scoring.errors import ExoHunterError

if TYPE_CHECKING:
    from scoring.quality.validation import SuiteRun


class QualityError(ExoHunterError):
    """A check cannot run: nothing to validate, or an unknown stage, batch or model."""


class QualityGateError(ExoHunterError):
    """A critical expectation failed; the message says which, on which column, with samples."""

    def __init__(self, message: str, runs: Sequence[SuiteRun]):
        super().__init__(message)
        self.runs = list(runs)
