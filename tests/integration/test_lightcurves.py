"""Light curves end to end on a real warehouse: the shipped files loaded and analysed as
`exohunter run` does, the classifier's verdicts, the anomaly ranking, the registry, the mart, and
the JSON API (every bad input refused with a message, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from scoring.lightcurves import model, store
from scoring.warehouse import dbt_runner
from scoring.web import app

# The first test may build the session's scored warehouse and train the light-curve classifier
# (minutes on two shared cores): more than the default per-test timeout allows.
pytestmark = [pytest.mark.integration]

KEPLER6 = "kplr010874614-2009131105131_llc.fits"
NON_PLANETS = (
    "kplr010002792-2009259160929_llc.fits",
    "kplr010002792-2010174085026_llc.fits",
    "ktwo211117077-c04_llc.fits",
    "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits",
)


def rows(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def signals_of(url: str, file_name: str) -> list[tuple[Any, ...]]:
    return rows(
        url,
        """select s.period_days, s.depth_ppm, s.p_planet, s.likely_planet, s.flags,
                  a.stellar_source
           from ml.lightcurve_signals s join ml.lightcurve_analyses a using (upload_id)
           join raw.lightcurves l on l.lightcurve_id = a.lightcurve_id
           where l.file_name = %s order by s.signal_number""",
        (file_name,),
    )


def test_kepler6_is_a_likely_planet_with_the_koi_tables_star(lightcurve_warehouse: str) -> None:
    best = signals_of(lightcurve_warehouse, KEPLER6)[0]
    period, depth, p_planet, likely, flags, source = best
    assert abs(period / 3.234699 - 1) < 0.001 and abs(depth / 10559 - 1) < 0.15
    assert p_planet >= 0.9 and likely and flags == []
    assert source == "koi_table"


@pytest.mark.parametrize("file_name", NON_PLANETS)
def test_flaring_k2_and_tess_light_curves_have_no_likely_planet(
    lightcurve_warehouse: str, file_name: str
) -> None:
    found = signals_of(lightcurve_warehouse, file_name)
    assert found, "the search reports its best peak even when it is not significant"
    assert not any(likely for _, _, _, likely, _, _ in found)


def test_boyajians_star_is_the_most_anomalous(lightcurve_warehouse: str) -> None:
    with psycopg.connect(lightcurve_warehouse) as conn:
        ranking = sorted(store.anomaly_ranking(conn), key=lambda r: -r["anomaly_score"])
    assert len(ranking) == 21  # 9 files and the 12 series of the labelled sample
    assert ranking[0]["kepid"] == 8462852
    star, margin = store.star_margin(ranking)
    assert star == "KIC 8462852"
    assert margin >= 0.3, f"margin over the next star: {margin:.3f}"


def test_registry_holds_grouped_cv_metrics_and_a_card(lightcurve_warehouse: str) -> None:
    figures = dict(
        rows(
            lightcurve_warehouse,
            """select m.task, m.value from ml.model_metrics m
               join ml.model_registry r using (model_version)
               where r.task = %s and r.is_champion and m.metric = 'roc_auc'""",
            (model.TASK,),
        )
    )
    assert set(figures) == {"p_planet_light_curve_only", "p_planet_with_star"}
    assert figures["p_planet_with_star"] > figures["p_planet_light_curve_only"] > 0.85


def test_loading_the_same_files_again_changes_nothing(lightcurve_warehouse: str) -> None:
    count = "select count(*) from raw.lightcurve_uploads"
    before = rows(lightcurve_warehouse, count)
    with psycopg.connect(lightcurve_warehouse, autocommit=True) as conn:
        again = store.load_shipped(conn)
    assert all(item.upload_id is None and not item.new_lightcurve for item in again)
    assert rows(lightcurve_warehouse, count) == before


def test_the_uploads_mart(lightcurve_warehouse: str) -> None:
    dbt_runner.run_dbt(
        ["build", "--select", "path:models/staging/lightcurves", "fct_lightcurve_uploads"],
        lightcurve_warehouse,
        on_line=lambda _: None,
    )
    mart = rows(
        lightcurve_warehouse,
        """select target_id, kois_on_star, best_is_likely_planet, anomaly_rank
           from marts.fct_lightcurve_uploads where submitted_via = 'cli'
           order by anomaly_rank, upload_id""",
    )  # the shipped light curves, as `exohunter run` loads them (the browser test adds uploads)
    assert mart[0][0] == "KIC 8462852" and mart[0][3] == 1
    kepler6 = [r for r in mart if r[0] == "KIC 10874614"]
    assert kepler6 == [("KIC 10874614", "K00017.01 (CONFIRMED)", True, kepler6[0][3])]


# -- the JSON API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(lightcurve_warehouse: str) -> Iterator[TestClient]:
    with TestClient(app.create_app(lightcurve_warehouse)) as test_client:
        yield test_client


def counts(url: str) -> tuple[Any, ...]:
    return rows(
        url,
        """select (select count(*) from raw.lightcurves), (select count(*) from
                  raw.lightcurve_uploads), (select count(*) from ml.lightcurve_analyses)""",
    )[0]


def test_upload_through_the_api(client: TestClient, lightcurve_warehouse: str) -> None:
    data = (store.LIGHTCURVE_DIR / KEPLER6).read_bytes()
    response = client.post(
        "/api/lightcurves",
        files={"file": (KEPLER6, data)},
        data={"teff": "5647", "logg": "4.24", "radius": "1.18"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["analysis"]["stellar_source"] == "user"
    assert body["upload"]["submitted_via"] == "api"
    assert body["signals"][0]["likely_planet"] is True
    again = client.get(response.headers["location"])
    assert again.status_code == 200 and again.json()["upload"] == body["upload"]
    assert client.get("/api/lightcurves/999999").status_code == 404


def _fits_without_light_curve() -> bytes:
    import io

    import numpy as np
    from astropy.io import fits

    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4)))]).writeto(buffer)
    return buffer.getvalue()


BAD_UPLOADS = {
    "not FITS or CSV": ("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\0", 422, "binary file"),
    "text renamed .fits": ("notes.fits", b"hello\n", 422, "content is not FITS"),
    "empty file": ("empty.csv", b"", 422, "empty"),
    "all-NaN flux": (
        "nan.csv",
        b"time,flux\n" + b"".join(f"{i / 48},nan\n".encode() for i in range(300)),
        422,
        "NaN",
    ),
    "too few points": (
        "few.csv",
        b"time,flux\n" + b"".join(f"{i / 48},1\n".encode() for i in range(30)),
        422,
        "only 30 usable points",
    ),
    "missing columns": ("cols.csv", b"when,brightness\n1,2\n", 422, "no time and flux column"),
    "FITS without a light curve": ("img.fits", _fits_without_light_curve(), 422, "light-curve"),
    "too large": ("big.csv", b"0" * (50 * 2**20 + 1), 413, "larger than 50 MB"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_uploads_are_refused_with_a_message_and_nothing_written(
    client: TestClient, lightcurve_warehouse: str, case: str
) -> None:
    name, data, status, message = BAD_UPLOADS[case]
    before = counts(lightcurve_warehouse)
    response = client.post("/api/lightcurves", files={"file": (name, data)})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert counts(lightcurve_warehouse) == before


def test_bad_stellar_parameters_and_no_file(client: TestClient) -> None:
    data = (store.LIGHTCURVE_DIR / KEPLER6).read_bytes()
    response = client.post(
        "/api/lightcurves", files={"file": (KEPLER6, data)}, data={"teff": "hot"}
    )
    assert response.status_code == 422 and "not a number" in response.json()["detail"]
    response = client.post("/api/lightcurves", data={"star_id": "KIC 1"})
    assert response.status_code == 422 and "no file" in response.json()["detail"]


def test_upload_page_shows_the_error(client: TestClient) -> None:
    response = client.post("/lightcurves", files={"file": ("notes.fits", b"hello\n")})
    assert response.status_code == 422
    assert "content is not FITS" in response.text and 'id="error"' in response.text


# -- the public benchmark's verdicts (data/lightcurves/benchmark/) -------------------------------
# The search's recovery and flags are unit-tested (tests/unit/test_search_benchmark.py); here the
# trained P(planet) completes the verdict: the known planets recovered are likely planets, an
# eclipsing binary's primary and a quiet star's quarters never are.
def _artifact(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        _version, artifact = model.champion_artifact(conn)
    assert artifact is not None, "no light-curve model trained"
    return artifact


def test_benchmark_planets_recovered_are_likely_planets(lightcurve_warehouse: str) -> None:
    from scoring.lightcurves import search
    from tests.unit import test_search_benchmark as bench

    artifact = _artifact(lightcurve_warehouse)
    recovered, likely = [], []
    for name, (kepid, star) in sorted(bench.FILES.items()):
        lc = bench.read(name)
        result = search.search(lc.time, lc.flux, lc.flux_err)
        kois = bench.kois_of(kepid)
        for koi, period in bench.expected(result, kois).items():
            found = [s for s in result.detections if bench.matches(s, period)]
            assert found, f"{koi} not recovered in {name}"
            verdict = model.assess(artifact, found[0], star)
            recovered.append(f"{koi} in {name}")
            if verdict.likely_planet:
                likely.append(f"{koi} in {name}")
    assert len(recovered) >= 3  # Kepler-12 b in Q5 and Q15, Kepler-32 d in Q2 at least
    assert len(likely) >= 0.9 * len(recovered), f"likely: {likely} of {recovered}"


@pytest.mark.parametrize("kind", ["quiet star quarters", "eclipsing binaries"])
def test_no_benchmark_non_planet_is_a_likely_planet(lightcurve_warehouse: str, kind: str) -> None:
    import numpy as np

    from scoring.lightcurves import search
    from tests.unit import test_search_benchmark as bench

    artifact = _artifact(lightcurve_warehouse)
    if kind == "quiet star quarters":
        series = []
        for name in bench.QUIET_QUARTERS:
            lc = bench.read(name)
            series.append((name, lc.time, lc.flux, lc.flux_err))
    else:  # the full arrays, Q0-Q17
        series = []
        for name in bench.ECLIPSING_BINARIES:
            values = np.load(bench.BENCHMARK / "eclipsing_binaries" / name)
            series.append((name, values[:, 0], values[:, 1], values[:, 2]))
    wrong = []
    for name, time_, flux, flux_err in series:
        result = search.search(time_, flux, flux_err)
        for signal in result.signals:
            if model.assess(artifact, signal, model.Star()).likely_planet:
                wrong.append(f"{name} {signal.period_days:.4f} d")
    assert wrong == []
