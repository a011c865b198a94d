"""Several files of one star, stitched, on a real warehouse: two Kepler-32 quarters in one
`POST /api/lightcurves` are ONE light curve and ONE upload with its two segments listed; every
bad set (mixed targets, mixed missions, one bad file, the same file twice, too many points or
bytes together) is a 4xx with one line and nothing written; the command line stitches and is a
no-op the second time; the upload page lists past uploads and offers the examples; the mart
counts the segments.

On a copy of the session's light-curve warehouse, so that the uploads added here do not change
what the other light-curve tests count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from scoring import cli
from scoring.lightcurves import readers, store
from scoring.warehouse import dbt_runner, server
from scoring.web import app, uploads
from tests.conftest import database_copy

pytestmark = [pytest.mark.integration]

BENCHMARK = store.LIGHTCURVE_DIR / "benchmark" / "kepler"
KEPLER32_Q1 = BENCHMARK / "kplr009787239-2009166043257_llc.fits"
KEPLER32_Q2 = BENCHMARK / "kplr009787239-2009259160929_llc.fits"
KEPLER12_Q5 = BENCHMARK / "kplr011804465-2010174085026_llc.fits"
KIC11454304 = sorted(BENCHMARK.glob("kplr011454304-*_llc.fits"))
Q1, Q2 = KIC11454304[1:3]
TESS_S1 = store.LIGHTCURVE_DIR / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"
KEPLER32_PERIODS = (5.901278150, 8.752096910, 22.780782410, 2.896005211, 0.742957911)


@pytest.fixture(scope="module")
def warehouse(pg_cluster: server.PostgresCluster, lightcurve_warehouse: str) -> Iterator[str]:
    with database_copy(pg_cluster, lightcurve_warehouse, "stitch") as url:
        yield url


@pytest.fixture(scope="module")
def client(warehouse: str) -> Iterator[TestClient]:
    with TestClient(app.create_app(warehouse)) as test_client:
        yield test_client


def rows(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def counts(url: str) -> tuple[Any, ...]:
    return rows(
        url,
        """select (select count(*) from raw.lightcurves), (select count(*) from
                  raw.lightcurve_points), (select count(*) from raw.lightcurve_uploads),
                  (select count(*) from raw.lightcurve_segments),
                  (select count(*) from ml.lightcurve_analyses),
                  (select count(*) from ml.lightcurve_signals)""",
    )[0]


def files(*parts: Path | tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    return [
        ("file", part if isinstance(part, tuple) else (part.name, part.read_bytes()))
        for part in parts
    ]


def test_two_quarters_are_one_upload_with_its_segments(client: TestClient, warehouse: str) -> None:
    before = counts(warehouse)
    response = client.post("/api/lightcurves", files=files(KEPLER32_Q2, KEPLER32_Q1))
    assert response.status_code == 201, response.text
    body = response.json()
    upload = body["upload"]
    assert upload["submitted_via"] == "api" and upload["n_segments"] == 2
    assert upload["target_id"] == "KIC 9787239" and upload["section"] == "Q1-Q2"
    assert upload["file_name"] == f"{KEPLER32_Q1.name} + 1 more"
    segments = body["segments"]
    assert [(s["segment_number"], s["section"], s["file_name"]) for s in segments] == [
        (1, "Q1", KEPLER32_Q1.name),
        (2, "Q2", KEPLER32_Q2.name),
    ]
    alone = [readers.read_bytes(p.read_bytes(), p.name)[0] for p in (KEPLER32_Q1, KEPLER32_Q2)]
    assert [s["n_points"] for s in segments] == [a.n_points for a in alone]
    assert upload["n_points"] == sum(a.n_points for a in alone)
    assert upload["time_span_days"] == pytest.approx(alone[1].time[-1] - alone[0].time[0])
    assert upload["time_span_days"] > 120  # Q1 (33 d) and Q2 (89 d) searched as one
    assert segments[1]["first_point_index"] == alone[0].n_points
    # one light curve (its points stitched), one upload, one analysis, two segments
    after = counts(warehouse)
    assert after[0] == before[0] + 1 and after[2] == before[2] + 1 and after[4] == before[4] + 1
    assert after[1] == before[1] + upload["n_points"] and after[3] == before[3] + 2
    # the points are the files' fluxes, each divided by its own median
    for segment, lc in zip(segments, alone, strict=True):
        assert segment["median_flux"] == pytest.approx(float(np.median(lc.flux)))
        (median,) = rows(
            warehouse,
            """select percentile_cont(0.5) within group (order by flux)
               from raw.lightcurve_points where lightcurve_id = %s
                and point_index between %s and %s""",
            (
                upload["lightcurve_id"],
                segment["first_point_index"],
                segment["first_point_index"] + segment["n_points"] - 1,
            ),
        )[0]
        assert median == pytest.approx(1.0, abs=1e-6)
    # the search ran on the stitched light curve: the first signal is one of Kepler-32's planets
    assert body["analysis"]["stellar_source"] == "koi_table"
    assert [k["kepoi_name"] for k in body["kois"]][:1] == ["K00952.01"]
    period = body["signals"][0]["period_days"]
    assert any(abs(period / p - 1) < 0.001 for p in KEPLER32_PERIODS), period
    again = client.get(response.headers["location"])
    assert again.status_code == 200 and again.json()["segments"] == segments


BAD_SETS = {
    "mixed targets (Kepler-12 and Kepler-32)": ((KEPLER12_Q5, KEPLER32_Q2), 422, "mixed targets"),
    "mixed missions (Kepler and TESS)": ((KEPLER12_Q5, TESS_S1), 422, "mixed missions"),
    "one bad file among good ones": (
        (Q1, Q2, ("notes.fits", b"my observing notes\n")),
        422,
        "notes.fits: named like a FITS file but its content is not FITS",
    ),
    "the same file twice": ((Q1, Q2, Q1), 422, "are the same file"),
    "the same quarter twice, renamed": (
        (Q1, (f"copy-{Q1.name}", Q1.read_bytes())),
        422,
        "same file",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SETS))
def test_a_bad_set_is_refused_with_one_line_and_nothing_written(
    client: TestClient, warehouse: str, case: str
) -> None:
    parts, status, message = BAD_SETS[case]
    before = counts(warehouse)
    response = client.post("/api/lightcurves", files=files(*parts))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert message in detail and "\n" not in detail
    assert counts(warehouse) == before


def test_too_many_bytes_together(
    client: TestClient, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server counts the bytes as they stream in; the points together are counted where the
    # set is stitched, in an analysis process of its own (tests/unit/test_lightcurve_stitch.py).
    before = counts(warehouse)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 300_000)  # Q1 + Q2: 0.66 MB
    response = client.post("/api/lightcurves", files=files(Q1, Q2))
    assert response.status_code == 413
    assert "files together are larger than" in response.json()["detail"]
    assert counts(warehouse) == before


def test_the_page_refuses_a_bad_set_with_its_message(client: TestClient, warehouse: str) -> None:
    before = counts(warehouse)
    response = client.post("/lightcurves", files=files(KEPLER12_Q5, KEPLER32_Q2))
    assert response.status_code == 422
    assert "mixed targets" in response.text and 'id="error"' in response.text
    assert counts(warehouse) == before


def test_the_command_line_stitches_once(warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOHUNTER_DATABASE_URL", warehouse)
    runner = CliRunner()
    args = ["ingest", "lightcurve", str(Q2), str(Q1), "--no-analyse"]
    before = counts(warehouse)
    first = runner.invoke(cli.app, args)
    assert first.exit_code == 0, first.output
    assert "stitched 2 files into one light curve" in first.output
    after = counts(warehouse)
    assert after[2] == before[2] + 1 and after[3] == before[3] + 2
    # the same set again, in another order: nothing to do
    again = runner.invoke(cli.app, ["ingest", "lightcurve", str(Q1), str(Q2), "--no-analyse"])
    assert again.exit_code == 0, again.output
    assert "already loaded as stitched light curve" in again.output
    assert counts(warehouse) == after
    # mixed targets: one line, nothing written
    mixed = runner.invoke(cli.app, ["ingest", "lightcurve", str(KEPLER12_Q5), str(KEPLER32_Q2)])
    assert mixed.exit_code != 0 and "mixed targets" in mixed.output
    assert "--separate" in mixed.output
    assert counts(warehouse) == after


def test_the_upload_page_lists_past_uploads_and_the_examples(client: TestClient) -> None:
    page = client.get("/lightcurves")
    assert page.status_code == 200
    html = page.text
    assert 'id="recent"' in html and "KIC 9787239" in html and "2 files" in html
    assert 'type="file" id="file" name="file" multiple required' in html
    for key in uploads.EXAMPLES:
        assert f'action="/lightcurves/examples/{key}"' in html
    assert "/superset/dashboard/discoveries/" in html


def test_an_example_is_one_click_away(client: TestClient, warehouse: str) -> None:
    response = client.post("/lightcurves/examples/kepler-32", follow_redirects=False)
    assert response.status_code == 303, response.text
    result = client.get(response.headers["location"])
    assert result.status_code == 200
    assert 'id="segments"' in result.text and result.text.count('class="segment"') == 2
    assert 'href="/kois/K00952.01"' in result.text
    assert client.post("/lightcurves/examples/nope").status_code == 404


def test_the_mart_counts_the_segments(warehouse: str) -> None:
    dbt_runner.run_dbt(
        ["build", "--select", "path:models/staging/lightcurves", "fct_lightcurve_uploads"],
        warehouse,
        on_line=lambda _: None,
    )
    stitched = rows(
        warehouse,
        """select target_id, n_segments, section from marts.fct_lightcurve_uploads
           where n_segments > 1 order by upload_id""",
    )
    assert ("KIC 9787239", 2, "Q1-Q2") in stitched
    assert ("KIC 11454304", 2, "Q1-Q2") in stitched
    assert rows(
        warehouse,
        "select count(*) from marts.fct_lightcurve_uploads where n_segments = 1 or n_segments > 1",
    ) == rows(warehouse, "select count(*) from marts.fct_lightcurve_uploads")
    segments = rows(
        warehouse,
        """select count(*), min(median_flux) > 0 from staging.stg_lightcurves__segments""",
    )[0]
    assert segments[0] >= 4 and segments[1]
