"""PDF discovery reports on the session's real warehouse: the classifier, the anomaly lenses and
the shipped light curves. The PDFs are read back with poppler (pdftotext, pdfinfo) and their
pages rendered to PNG with pdftoppm, kept under build/reports/ for a human to look at."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from scoring import settings
from scoring.classifier import training
from scoring.reports import content, pdf
from scoring.web import app
from tests.cli import exohunter

pytestmark = pytest.mark.integration

ARTIFACTS = settings.PROJECT_ROOT / "build" / "reports"
KEPLER6 = "K00017.01"  # Kepler-6 b: CONFIRMED, and its Q0 light curve ships in data/lightcurves
UNKNOWN = "K99999.99"


@pytest.fixture(scope="module")
def url(lightcurve_warehouse: str) -> Iterator[str]:
    """The session's warehouse, exported as EXOHUNTER_DATABASE_URL (then restored)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXOHUNTER_DATABASE_URL", lightcurve_warehouse)
        yield lightcurve_warehouse


def stored_p_planet(url: str) -> dict[str, float]:
    """P(planet) per KOI as the classifier's champion stored it (the warehouse holds one
    champion per task: filter by the classifier's)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select p.kepoi_name, p.p_planet from ml.koi_predictions as p
               join ml.model_registry as r using (model_version)
               where r.task = %s and r.is_champion""",
            (training.TASK,),
        ).fetchall()
    return dict(rows)


def best_candidates(url: str, n: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select p.kepoi_name from ml.koi_predictions as p
               join ml.model_registry as r using (model_version)
               where r.task = %s and r.is_champion and p.candidate_rank is not null
               order by p.candidate_rank limit %s""",
            (training.TASK, n),
        ).fetchall()
    return [r[0] for r in rows]


def pdf_text(path: Path) -> str:
    """The PDF's text with whitespace collapsed: wrapped sentences read as one line."""
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(next(line for line in info.stdout.splitlines() if line.startswith("Pages:"))[6:])


def render_page(pdf: Path, page: int, name: str) -> Path:
    """Page ``page`` as a PNG artifact under build/reports/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = ARTIFACTS / name
    pages = ["-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run(["pdftoppm", "-png", "-r", "100", *pages, str(pdf), str(prefix)], check=True)
    png = ARTIFACTS / f"{name}.png"  # pdftoppm -singlefile appends .png to the prefix
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return png


def test_poppler_is_installed() -> None:
    for tool in ("pdftotext", "pdfinfo", "pdftoppm"):
        assert shutil.which(tool), f"{tool} missing: apt-get install poppler-utils (.ci/run)"


def test_a_report_shows_the_stored_probability_and_the_light_curve(
    url: str, tmp_path: Path
) -> None:
    result = exohunter("report", KEPLER6, "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    pdf = tmp_path / f"{KEPLER6}.pdf"
    assert str(pdf) in result.stdout.replace("\n", "")
    assert [p.name for p in tmp_path.iterdir()] == [pdf.name]  # no temporary file left
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf_pages(pdf) == 2

    text = pdf_text(pdf)
    p_planet = stored_p_planet(url)[KEPLER6]
    assert KEPLER6 in text
    assert f"P(planet) = {p_planet:.3f}" in text
    assert "Kepler-6 b" in text
    for expected in (
        "CONFIRMED",
        "The star",
        "The signal",
        "Anomaly status",
        "Data quality of its batch",
        "largest contributions",
        "Where it sits among the KOIs",
        "Folded on the KOI ephemeris",
        "kplr010874614-2009131105131_llc.fits",
        "How to read P(planet)",
        "not a confirmation",
    ):
        assert expected in text, expected
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / pdf.name)
    render_page(pdf, 1, f"{KEPLER6}-page1")
    render_page(pdf, 2, f"{KEPLER6}-page2")


def test_top_3_writes_the_three_best_candidates(url: str, tmp_path: Path) -> None:
    result = exohunter("report", "--top", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    expected = best_candidates(url, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.pdf" for n in expected)
    stored = stored_p_planet(url)
    for rank, name in enumerate(expected, 1):
        text = pdf_text(tmp_path / f"{name}.pdf")
        assert name in text
        assert f"P(planet) = {stored[name]:.3f}" in text
        assert "a CANDIDATE — not a confirmed planet" in text
        assert f"rank {rank} of" in text
        assert "A candidate is not a discovery until it is confirmed" in text
    render_page(tmp_path / f"{expected[0]}.pdf", 1, f"top1-{expected[0]}-page1")


def test_an_unknown_koi_is_a_clear_error_and_writes_nothing(url: str, tmp_path: Path) -> None:
    result = exohunter("report", KEPLER6, UNKNOWN, "--out", str(tmp_path))
    assert result.returncode != 0
    assert f"unknown KOI '{UNKNOWN}'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # not even the known KOI's report


def test_no_koi_and_no_top_is_an_error(url: str) -> None:
    result = exohunter("report")
    assert result.returncode != 0
    assert "name at least one KOI" in result.stdout


def test_a_failed_write_leaves_no_file_behind(url: str, tmp_path: Path) -> None:
    with psycopg.connect(url) as conn:
        report = content.load(conn, KEPLER6)
    (tmp_path / f"{KEPLER6}.pdf").mkdir()  # the rename onto a directory fails
    with pytest.raises(OSError):
        pdf.write(report, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{KEPLER6}.pdf"]
    assert (tmp_path / f"{KEPLER6}.pdf").is_dir()


def test_the_api_serves_the_report(url: str) -> None:
    with TestClient(app.create_app()) as client:
        response = client.get(f"/kois/{KEPLER6}/report.pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert f'filename="{KEPLER6}.pdf"' in response.headers["content-disposition"]
        assert response.content[:5] == b"%PDF-"

        missing = client.get(f"/kois/{UNKNOWN}/report.pdf")
        assert missing.status_code == 404
        assert f"unknown KOI '{UNKNOWN}'" in missing.json()["detail"]


def test_the_api_report_holds_the_stored_probability(url: str, tmp_path: Path) -> None:
    with TestClient(app.create_app()) as client:
        response = client.get(f"/kois/{KEPLER6}/report.pdf")
    pdf = tmp_path / "api.pdf"
    pdf.write_bytes(response.content)
    assert f"P(planet) = {stored_p_planet(url)[KEPLER6]:.3f}" in pdf_text(pdf)
