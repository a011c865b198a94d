"""A user's mistake reaches the command line as one line and exit 1, never as a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli import exohunter

pytestmark = pytest.mark.integration


def test_analysing_an_unsearchable_upload_prints_one_line(
    database_url: str, tmp_path: Path
) -> None:
    # SYNTHETIC fault case: a light curve of exactly one day. The reader takes it (a day is its
    # minimum); the search cannot fit two transits of its shortest trial period and refuses.
    rng = np.random.default_rng(0)
    time_ = np.linspace(100.0, 101.0, 500)
    flux = 1.0 + 1e-3 * rng.standard_normal(len(time_))
    path = tmp_path / "synthetic_one_day.csv"
    path.write_text(
        "time,flux\n" + "".join(f"{t:.6f},{f:.6f}\n" for t, f in zip(time_, flux, strict=True))
    )

    loaded = exohunter("ingest", "lightcurve", str(path), "--no-analyse")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr

    result = exohunter("lightcurves", "analyse", "--all")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert errors == ["error: too few points remain after detrending to search"], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
