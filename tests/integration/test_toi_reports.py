"""The TESS TOIs over HTTP and on paper, on the session's real warehouse (the shipped TOI
snapshot ingested, its marts built, the TOI classifier trained and every TOI scored):
``GET /tois/{toi}``, ``GET /tois/{toi}/report.pdf`` and ``exohunter report --mission tess``.
The PDFs are read back with poppler, as the KOI reports are (tests/integration/test_reports.py),
and their pages rendered under build/reports/ for a human to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from scoring.ml import registry
from scoring.web import app, schemas
from tests.cli import exohunter
from tests.integration.test_reports import ARTIFACTS, pdf_pages, pdf_text, render_page

pytestmark = pytest.mark.integration

UNKNOWN = "99999.99"


@pytest.fixture(scope="module")
def client(toi_warehouse: str) -> Iterator[TestClient]:
    with TestClient(app.create_app(toi_warehouse)) as test_client:
        yield test_client


def report(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``exohunter report ARGS`` against the warehouse at ``url``."""
    return exohunter("report", *args, env={**os.environ, "EXOHUNTER_DATABASE_URL": url})


@pytest.fixture(scope="module")
def stored(toi_warehouse: str) -> dict[str, dict[str, Any]]:
    """Every TOI as the TOI champion scored it, with its mart row (written independently of
    the code under test: the champion, its latest batch, the plain join)."""
    with psycopg.connect(toi_warehouse, row_factory=dict_row) as conn:
        rows = conn.execute(
            """select p.*, f.label_disposition, f.stellar_teff_k, f.stellar_radius_solar,
                      f.tess_magnitude, f.stellar_distance_pc, f.orbital_period_days,
                      f.transit_duration_hours, f.transit_depth_ppm, f.planet_radius_earth,
                      f.insolation_earth_flux, f.equilibrium_temp_k
               from ml.toi_predictions as p
               join ml.model_registry as r using (model_version)
               join marts.fct_toi_features as f using (toi, load_batch_id)
               where r.task = %s and r.is_champion
                 and p.load_batch_id = (select max(load_batch_id) from ml.toi_predictions
                                        where model_version = p.model_version)""",
            (registry.TOI_CLASSIFIER,),
        ).fetchall()
    return {r["toi"]: r for r in rows}


def best_pcs(stored: dict[str, dict[str, Any]], n: int) -> list[str]:
    ranked = [r for r in stored.values() if r["candidate_rank"] is not None]
    return [r["toi"] for r in sorted(ranked, key=lambda r: r["candidate_rank"])[:n]]


def first_of(stored: dict[str, dict[str, Any]], disposition: str) -> str:
    return min(
        (t for t, r in stored.items() if r["label_disposition"] == disposition),
        key=lambda t: float(t),
    )


def test_every_toi_of_the_shipped_snapshot_is_scored(stored: dict[str, dict[str, Any]]) -> None:
    assert len(stored) == 7703
    assert sum(r["candidate_rank"] is not None for r in stored.values()) == 4679


# -- GET /tois/{toi} ---------------------------------------------------------------------------
def test_a_toi_has_its_score_rank_star_and_signal(
    client: TestClient, stored: dict[str, dict[str, Any]]
) -> None:
    toi = best_pcs(stored, 1)[0]
    response = client.get(f"/tois/{toi}")
    assert response.status_code == 200, response.text
    body, row = response.json(), stored[toi]
    assert body["toi"] == toi
    assert body["name"] == f"TOI-{toi}"
    assert body["disposition"] == "PC"
    assert body["candidate_rank"] == 1
    assert body["p_planet"] == row["p_planet"]
    assert body["planet_log_odds"] == row["planet_log_odds"]
    assert body["model_version"] == row["model_version"]
    assert body["load_batch_id"] == row["load_batch_id"]
    assert body["star"]["tic_id"] == row["tic_id"]
    assert body["star"]["ra_deg"] is not None
    star = ("stellar_teff_k", "stellar_radius_solar", "tess_magnitude", "stellar_distance_pc")
    for field in star:
        assert body["star"][field] == row[field], field
    assert set(body["signal"]) == set(schemas.TessSignal.model_fields)
    for field, value in body["signal"].items():
        assert value == row[field], field


def test_a_toi_is_found_by_either_name(client: TestClient, stored: dict[str, Any]) -> None:
    toi = first_of(stored, "CP")
    plain = client.get(f"/tois/{toi}")
    assert plain.status_code == 200, plain.text
    for spelling in (f"TOI-{toi}", f"toi-{toi}"):
        prefixed = client.get(f"/tois/{spelling}")
        assert prefixed.status_code == 200, (spelling, prefixed.text)
        assert prefixed.json() == plain.json()
    assert plain.json()["disposition"] == "CP"
    assert plain.json()["candidate_rank"] is None  # only the PCs are ranked


def test_an_unknown_toi_is_a_404_and_a_malformed_one_a_422(client: TestClient) -> None:
    for path in (f"/tois/{UNKNOWN}", f"/tois/{UNKNOWN}/report.pdf"):
        missing = client.get(path)
        assert missing.status_code == 404, path
        assert f"unknown TOI '{UNKNOWN}'" in missing.json()["detail"]
    for bad in ("K00752.01", "TOI-12", "1234.1", "TOI_1234.01"):
        assert client.get(f"/tois/{bad}").status_code == 422, bad


def test_no_scored_toi_model_says_what_to_run(scored_warehouse: str) -> None:
    """The KOI-only warehouse: the KOI champion serves, the TOI endpoints are a clear 503."""
    with TestClient(app.create_app(scored_warehouse)) as koi_only:
        for path in ("/tois/1000.01", "/tois/TOI-1000.01/report.pdf"):
            response = koi_only.get(path)
            assert response.status_code == 503, path
            detail = response.json()["detail"]
            assert "no TOI model has scored yet" in detail
            assert "exohunter train --mission tess" in detail


# -- the report --------------------------------------------------------------------------------
def test_the_api_serves_a_toi_report(
    client: TestClient, stored: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    toi = best_pcs(stored, 1)[0]
    response = client.get(f"/tois/TOI-{toi}/report.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="TOI-{toi}.pdf"' in response.headers["content-disposition"]
    pdf = tmp_path / f"TOI-{toi}.pdf"
    pdf.write_bytes(response.content)
    assert pdf_pages(pdf) == 2
    text = pdf_text(pdf)
    row = stored[toi]
    for expected in (
        f"ExoHunter discovery report: TOI-{toi}",
        "TFOPWG disposition: a planet candidate (PC) — not a confirmed planet",
        f"P(planet) = {row['p_planet']:.3f}",
        f"log-odds {row['planet_log_odds']:+.2f} · CP+KP vs FP+FA",
        f"rank 1 of {sum(r['candidate_rank'] is not None for r in stored.values()):,} planet "
        "candidates (PC)",
        f"TIC {row['tic_id']}",
        "The star",
        "The signal (transit fit, TOI table)",
        "TESS magnitude",
        "no S/N or impact parameter",
        # what a TOI lacks is said, not drawn
        "Not scored: the anomaly lenses are fitted on the Kepler KOI table only",
        "No per-feature explanation is stored for TOI scores",
        "No light curve is shown for a TOI",
        "Data quality of its batch",
        # the TOI batch's checks as marts.fct_data_quality holds them (recorded or not)
        f"oad batch {row['load_batch_id']}",
        "Where it sits among the TOIs of its batch",
        "PC + APC",
        "How to read P(planet)",
        "CP+KP vs FP+FA, grouped by TIC",
        "PCs and APCs were never in training",
        "A candidate is not a discovery until it is confirmed",
        "ml.toi_predictions",
    ):
        assert expected in text, expected
    for absent in ("KIC", "Kepler magnitude", "TreeSHAP", "BKJD", "Folded on"):
        assert absent not in text, absent
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / pdf.name)
    render_page(pdf, 1, f"TOI-{toi}-page1")
    render_page(pdf, 2, f"TOI-{toi}-page2")


def test_report_top_3_tess_writes_the_three_best_pcs(
    toi_warehouse: str, stored: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    result = report(toi_warehouse, "--mission", "tess", "--top", "3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    expected = best_pcs(stored, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"TOI-{t}.pdf" for t in expected)
    for rank, toi in enumerate(expected, 1):
        text = pdf_text(tmp_path / f"TOI-{toi}.pdf")
        assert f"P(planet) = {stored[toi]['p_planet']:.3f}" in text
        assert f"rank {rank} of" in text


def test_report_names_tois_either_way_and_checks_them_all_first(
    toi_warehouse: str, stored: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    confirmed, false_positive = first_of(stored, "CP"), first_of(stored, "FP")
    out = ("--out", str(tmp_path))
    bad = report(toi_warehouse, "--mission", "tess", confirmed, UNKNOWN, "TOI-x", *out)
    assert bad.returncode == 1
    assert f"unknown TOI '{UNKNOWN}', 'TOI-x'" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
    assert list(tmp_path.iterdir()) == []  # not even the known TOI's report

    good = report(toi_warehouse, "--mission", "tess", confirmed, f"TOI-{false_positive}", *out)
    assert good.returncode == 0, good.stdout + good.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"TOI-{confirmed}.pdf", f"TOI-{false_positive}.pdf"]
    )
    assert "a confirmed planet (CP)" in pdf_text(tmp_path / f"TOI-{confirmed}.pdf")
    assert "classified as a false positive (FP)" in pdf_text(tmp_path / f"TOI-{false_positive}.pdf")


def test_report_stays_on_kepler_by_default(toi_warehouse: str, stored: dict[str, Any]) -> None:
    toi = best_pcs(stored, 1)[0]
    result = report(toi_warehouse, toi)
    assert result.returncode == 1
    assert f"unknown KOI '{toi}'" in result.stdout
    assert "name at least one TOI" in report(toi_warehouse, "--mission", "tess").stdout
