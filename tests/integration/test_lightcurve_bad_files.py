"""Bad light-curve files through the real command line (`exohunter ingest lightcurve`, a child
process) and the real API (`POST /api/lightcurves`) over a real, freshly migrated warehouse:
each is refused with one line (exit 1 / 422), no traceback, and nothing is written (the row
counts of every table an upload writes, before and after). The time column in seconds — which
searched for minutes before the readers refused it — is refused at once.

Every file here is SYNTHETIC (a fault case built by the reader battery's writers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from scoring.web import app
from tests.cli import exohunter
from tests.integration.test_lightcurve_stitched_uploads import counts
from tests.unit.test_lightcurve_reader_battery import as_csv, as_fits, series

pytestmark = pytest.mark.integration


def _seconds() -> bytes:
    # 2,000 points at a 30-minute cadence, the time in seconds: 3.6 million "days"
    return as_csv(*series(cadence=1800.0, start=0.0)[:2])


def _flux(value: float, every: int = 1) -> bytes:
    time_, flux, _ = series()
    flux[::every] = value
    return as_csv(time_, flux)


def _text_column(column: str) -> bytes:
    time_, flux, _ = series()
    if column == "TIME":
        return as_fits(np.array([f"{t:.4f}x" for t in time_]), flux, time_format="20A")
    return as_fits(time_, np.array(["bright"] * len(time_)), flux_format="20A")


BAD = {
    "time in seconds (the denial of service)": (
        [("synthetic_seconds.csv", _seconds())],
        "synthetic_seconds.csv: the time column spans 3,598,200 days",
        "it looks like seconds, not days",
    ),
    "JSON lines with scalar time and flux": (
        [("synthetic_scalar.jsonl", b'{"time": 1.0, "flux": 2.0}\n')],
        "synthetic_scalar.jsonl line 1: time and flux must be lists of numbers",
        "(shapes () and ())",
    ),
    "JSON lines not in UTF-8": (
        [("synthetic_latin1.jsonl", '{"name": "é", "time": [1], "flux": [1]}\n'.encode("latin-1"))],
        "synthetic_latin1.jsonl: not a FITS file and not UTF-8 text",
        "byte 0xe9",
    ),
    "FITS with a text TIME column": (
        [("synthetic_text_time_llc.fits", _text_column("TIME"))],
        "synthetic_text_time_llc.fits: the column TIME holds '120.0000x'",
        "not numbers",
    ),
    "FITS with a text PDCSAP_FLUX column": (
        [("synthetic_text_flux_llc.fits", _text_column("PDCSAP_FLUX"))],
        "synthetic_text_flux_llc.fits: the column PDCSAP_FLUX holds 'bright'",
        "not numbers",
    ),
    "a flux of 1e308": (
        [("synthetic_1e308.csv", _flux(1e308, every=100))],
        "synthetic_1e308.csv: the flux column 'flux' reaches 1e+308",
        "corrupt or mis-scaled",
    ),
    "a flux infinite in every row": (
        [("synthetic_inf.csv", _flux(np.inf))],
        "synthetic_inf.csv: the flux column 'flux' is NaN (or empty) in every row",
        "infinite",
    ),
    "CSV with text in a number column": (
        [("synthetic_text.csv", b"time,flux\n1.0,1000\n1.02,bright\n")],
        "synthetic_text.csv: data row 2, column 2: 'bright' is not a number",
        "",
    ),
    "CSV header only": (
        [("synthetic_header.csv", b"time,flux\n")],
        "synthetic_header.csv: the light curve has no rows",
        "",
    ),
    "stitched: one file in seconds among good ones": (
        [("synthetic_days.csv", as_csv(*series()[:2])), ("synthetic_seconds.csv", _seconds())],
        "synthetic_seconds.csv: the time column spans 3,598,200 days",
        "it looks like seconds, not days",
    ),
}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(app.create_app(database_url), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_command_line_refuses_in_one_line_and_writes_nothing(
    case: str, database_url: str, tmp_path: Path
) -> None:
    files, message, detail = BAD[case]
    paths = []
    for name, data in files:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    before = counts(database_url)
    result = exohunter("ingest", "lightcurve", *map(str, paths), "--no-analyse")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(result.stdout.strip().splitlines()) == 1, output
    assert f"{tmp_path}/{message}" in errors[0] and detail in errors[0], errors
    assert counts(database_url) == before


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_api_refuses_with_a_422_and_writes_nothing(
    case: str, client: TestClient, database_url: str
) -> None:
    files, message, detail = BAD[case]
    before = counts(database_url)
    start = time.perf_counter()
    response = client.post("/api/lightcurves", files=[("file", part) for part in files])
    elapsed = time.perf_counter() - start
    assert response.status_code == 422, response.text
    text = response.json()["detail"]
    assert isinstance(text, str) and "\n" not in text and "Traceback" not in text
    assert text.startswith(message) and detail in text, text
    # refused by reading, before any search: the seconds file searched for minutes
    assert elapsed < 10, elapsed
    assert counts(database_url) == before
