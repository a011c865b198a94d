"""The scoring API against a real warehouse: the shipped snapshot ingested, dbt built, the
classifier trained and the batch scored — once per module, since training takes minutes."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from scoring.anomalies import detect
from scoring.classifier import training
from scoring.ml import features
from scoring.web import api, app, schemas

pytestmark = pytest.mark.integration

DEAD_URL = "postgresql://x:y@127.0.0.1:1/none"
KOI = "K00752.01"  # Kepler-227 b, CONFIRMED
SIGNAL = {  # the least a signal needs
    "orbital_period_days": 3.5,
    "transit_duration_hours": 2.0,
    "transit_depth_ppm": 900.0,
    "n_kois_on_star": 1,
    "period_rank_on_star": 1,
}
ENDPOINTS = {
    "/health",
    "/models",
    "/kois/{kepoi_name}",
    "/kois/{kepoi_name}/report.pdf",
    "/tois/{toi}",
    "/tois/{toi}/report.pdf",
    "/discoveries",
    "/score",
    "/api/lightcurves",
    "/api/lightcurves/{upload_id}",
}


@pytest.fixture(scope="module")
def api_url(scored_warehouse: str) -> Iterator[str]:
    """The session's scored warehouse, exported as EXOHUNTER_DATABASE_URL (then restored)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXOHUNTER_DATABASE_URL", scored_warehouse)
        yield scored_warehouse


@pytest.fixture(scope="module")
def client(api_url: str) -> Iterator[TestClient]:
    # No URL given: the app must find the warehouse through EXOHUNTER_DATABASE_URL, like the CLI.
    with TestClient(app.create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def dead_client() -> Iterator[TestClient]:
    with TestClient(app.create_app(DEAD_URL)) as test_client:
        yield test_client


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def champion(api_url: str) -> str:
    rows = query(
        api_url,
        "select model_version from ml.model_registry where task = %s and is_champion",
        (training.TASK,),
    )
    assert len(rows) == 1
    return rows[0][0]


@pytest.fixture(scope="module")
def mart_signals(api_url: str) -> dict[str, dict[str, Any]]:
    """Every KOI's honest features, keyed by KOI, exactly as the mart stores them."""
    columns = ", ".join(features.HONEST_FEATURES)
    rows = query(api_url, f"select kepoi_name, {columns} from marts.fct_koi_features")
    return {row[0]: dict(zip(features.HONEST_FEATURES, row[1:], strict=True)) for row in rows}


@pytest.fixture(scope="module")
def stored(api_url: str, champion: str) -> dict[str, tuple[Any, ...]]:
    rows = query(
        api_url,
        """select kepoi_name, p_planet, p_confirmed, p_candidate, p_false_positive,
                  predicted_class
           from ml.koi_predictions where model_version = %s""",
        (champion,),
    )
    return {row[0]: row[1:] for row in rows}


# -- /health -----------------------------------------------------------------------------------
def test_health_reports_the_database_and_the_champion(client: TestClient, champion: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "up"
    assert body["champion"] == champion
    assert body["scored_batch"] == 1
    assert body["server_version"]


def test_a_dead_database_is_a_503_with_a_reason(dead_client: TestClient) -> None:
    response = dead_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "down"
    assert "cannot connect to the warehouse" in body["detail"]
    assert ":y@" not in body["detail"]  # the password is masked
    for method, path, payload in (
        ("GET", "/models", None),
        ("GET", f"/kois/{KOI}", None),
        ("GET", "/discoveries", None),
        ("POST", "/score", [SIGNAL]),
    ):
        other = dead_client.request(method, path, json=payload)
        assert other.status_code == 503, (path, other.text)
        assert "cannot connect to the warehouse" in other.json()["detail"]
        assert "Traceback" not in other.text


def test_an_empty_warehouse_says_what_to_run(database_url: str) -> None:
    """Migrated but never trained: health answers, the model endpoints are a 503 with advice."""
    with TestClient(app.create_app(database_url)) as empty:
        health = empty.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "no_model"
        assert health.json()["champion"] is None
        for response in (
            empty.get("/discoveries"),
            empty.get(f"/kois/{KOI}"),
            empty.post("/score", json=[SIGNAL]),
        ):
            assert response.status_code == 503
            assert "exohunter train" in response.json()["detail"]
        assert empty.get("/models").json() == []


# -- /models -----------------------------------------------------------------------------------
def test_models_lists_the_champion_with_its_headline_metrics(
    client: TestClient, champion: str
) -> None:
    response = client.get("/models")
    assert response.status_code == 200, response.text
    models = response.json()
    champions = {m["task"]: m for m in models if m["is_champion"]}
    assert champions[detect.TASK]["metrics"] == {}  # the headline figures are the classifier's
    best = champions[training.TASK]
    assert best["model_version"] == champion
    assert set(best["metrics"]) == set(api.HEADLINE_METRICS)
    assert best["metrics"]["roc_auc"] >= 0.985
    assert best["metrics"]["pr_auc"] >= 0.95
    assert 0 < best["metrics"]["brier"] < 0.05
    recall = best["metrics"]
    assert recall["recall_at_precision_0.99"] <= recall["recall_at_precision_0.90"]
    assert "grouped by kepid" in best["protocol"]
    assert best["training_load_batch_id"] == 1


# -- /kois -------------------------------------------------------------------------------------
def test_koi_has_prediction_explanation_and_features(
    client: TestClient, api_url: str, champion: str, stored: dict[str, tuple[Any, ...]]
) -> None:
    response = client.get(f"/kois/{KOI}")
    assert response.status_code == 200, response.text
    body = response.json()
    prediction = body["prediction"]
    assert prediction["model_version"] == champion
    assert prediction["p_planet"] == stored[KOI][0]
    assert prediction["predicted_class"] == "CONFIRMED"
    assert prediction["p_planet"] > 0.9
    assert prediction["candidate_rank"] is None  # a CONFIRMED KOI is not a candidate

    assert body["features"]["kepoi_name"] == KOI
    assert body["features"]["label_disposition"] == "CONFIRMED"
    period = query(
        api_url,
        "select orbital_period_days from marts.fct_koi_features where kepoi_name = %s",
        (KOI,),
    )
    assert body["features"]["orbital_period_days"] == period[0][0]

    explanation = body["explanation"]
    assert [c["rank"] for c in explanation] == list(range(1, 11))
    magnitudes = [abs(c["contribution"]) for c in explanation]
    assert magnitudes == sorted(magnitudes, reverse=True)
    for contribution in explanation:  # the values explained are the KOI's features
        value = body["features"][contribution["feature"]]
        expected = None if value is None else float(value)
        assert contribution["value"] == expected, contribution

    top3 = client.get(f"/kois/{KOI}", params={"top": 3}).json()["explanation"]
    assert top3 == explanation[:3]


def test_an_unknown_koi_is_a_404(client: TestClient) -> None:
    response = client.get("/kois/K99999.99")
    assert response.status_code == 404
    assert "K99999.99" in response.json()["detail"]


# -- /discoveries ------------------------------------------------------------------------------
def test_discoveries_rank_candidates_by_p_planet(client: TestClient, api_url: str) -> None:
    response = client.get("/discoveries")
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"]
    assert len(items) == 50
    assert [i["candidate_rank"] for i in items] == list(range(1, 51))
    p = [i["p_planet"] for i in items]
    assert p == sorted(p, reverse=True)
    labels = dict(
        query(
            api_url,
            "select kepoi_name, label_disposition from marts.fct_koi_features"
            " where kepoi_name = any(%s)",
            ([i["kepoi_name"] for i in items],),
        )
    )
    assert set(labels.values()) == {"CANDIDATE"}
    assert body["matching"] == 2424  # every CANDIDATE of the shipped snapshot

    assert len(client.get("/discoveries", params={"limit": 7}).json()["items"]) == 7


def test_discoveries_min_p_filters(client: TestClient, api_url: str, champion: str) -> None:
    body = client.get("/discoveries", params={"min_p": 0.9, "limit": 1000}).json()
    expected = query(
        api_url,
        """select count(*) from ml.koi_predictions
           where model_version = %s and candidate_rank is not null and p_planet >= 0.9""",
        (champion,),
    )[0][0]
    assert 0 < expected < 2424
    assert body["matching"] == expected
    assert len(body["items"]) == min(expected, 1000)
    assert min(i["p_planet"] for i in body["items"]) >= 0.9


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"min_p": 2}, {"min_p": -0.1}, {"limit": "many"}],
)
def test_discoveries_refuse_out_of_range_parameters(
    client: TestClient, params: dict[str, Any]
) -> None:
    response = client.get("/discoveries", params=params)
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["message"]


# -- /score ------------------------------------------------------------------------------------
def test_scoring_mart_rows_gives_the_stored_predictions(
    client: TestClient,
    api_url: str,
    champion: str,
    mart_signals: dict[str, dict[str, Any]],
    stored: dict[str, tuple[Any, ...]],
) -> None:
    scorable = sorted(n for n, row in mart_signals.items() if row["transit_depth_ppm"] is not None)
    names = [KOI, *scorable[:: len(scorable) // 300]]
    payload = [{**mart_signals[n], "signal_id": n} for n in names]
    response = client.post("/score", json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == champion
    assert [r["signal_id"] for r in body["results"]] == names
    assert [r["index"] for r in body["results"]] == list(range(len(names)))
    for result in body["results"]:
        p_planet, p_confirmed, p_candidate, p_false_positive, predicted = stored[
            result["signal_id"]
        ]
        assert math.isclose(result["p_planet"], p_planet, rel_tol=0, abs_tol=1e-9)
        assert math.isclose(result["p_confirmed"], p_confirmed, rel_tol=0, abs_tol=1e-9)
        assert math.isclose(result["p_candidate"], p_candidate, rel_tol=0, abs_tol=1e-9)
        assert math.isclose(result["p_false_positive"], p_false_positive, rel_tol=0, abs_tol=1e-9)
        assert result["predicted_class"] == predicted
        assert result["planet_at_threshold"] == (p_planet >= body["threshold"])

    explained = query(
        api_url,
        """select feature, contribution from ml.koi_explanations
           where model_version = %s and kepoi_name = %s and rank <= 5 order by rank""",
        (champion, KOI),
    )
    first = body["results"][0]["explanation"]
    assert [c["feature"] for c in first] == [feature for feature, _ in explained]
    for contribution, (_, expected) in zip(first, explained, strict=True):
        assert math.isclose(contribution["contribution"], expected, abs_tol=1e-9)


def test_the_champion_artifact_is_loaded_once(
    client: TestClient, mart_signals: dict[str, dict[str, Any]]
) -> None:
    for _ in range(3):
        assert client.post("/score", json=[mart_signals[KOI]]).status_code == 200
    assert client.app.state.artifacts.loads == 1


def test_every_mart_row_with_a_depth_is_a_valid_signal(
    mart_signals: dict[str, dict[str, Any]],
) -> None:
    """The bounds are physical, not tighter than the data: no real KOI is refused for its
    values; the only refusals are the archive rows without a measured depth."""
    refused: dict[str, list[tuple[Any, ...]]] = {}
    for name, row in mart_signals.items():
        try:
            schemas.Signal.model_validate(row)
        except ValidationError as exc:
            refused[name] = [error["loc"] for error in exc.errors()]
    no_depth = {n for n, row in mart_signals.items() if row["transit_depth_ppm"] is None}
    assert set(refused) == no_depth
    assert all(locs == [("transit_depth_ppm",)] for locs in refused.values())


def test_a_full_batch_is_scored(
    client: TestClient, mart_signals: dict[str, dict[str, Any]]
) -> None:
    scorable = [row for row in mart_signals.values() if row["transit_depth_ppm"] is not None]
    payload = scorable[-api.MAX_BATCH :]
    response = client.post("/score", json=payload)
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["results"]) == api.MAX_BATCH


def _without(row: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != field}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda row: _without(row, "orbital_period_days"), "orbital_period_days"),
        (lambda row: {**row, "transit_depth_ppm": -5.0}, "transit_depth_ppm"),
        (lambda row: {**row, "orbital_period_days": 0}, "orbital_period_days"),
        (lambda row: {**row, "stellar_teff_k": 1000}, "stellar_teff_k"),
        (lambda row: {**row, "stellar_logg_cgs": 7.5}, "stellar_logg_cgs"),
        (lambda row: {**row, "n_kois_on_star": 0}, "n_kois_on_star"),
        (lambda row: {**row, "period_rank_on_star": 5, "n_kois_on_star": 2}, "period_rank"),
        (lambda row: {**row, "koi_score": 0.99}, "koi_score"),
        (lambda row: {**row, "transit_duration_hours": "long"}, "transit_duration_hours"),
    ],
)
def test_a_bad_signal_is_a_422_naming_the_field(
    client: TestClient,
    mart_signals: dict[str, dict[str, Any]],
    change: Any,
    field: str,
) -> None:
    good = mart_signals[KOI]
    response = client.post("/score", json=[good, change(good)])
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert field in message
    assert message.startswith("body[1]")  # and which signal it is


def test_nan_is_refused(client: TestClient, mart_signals: dict[str, dict[str, Any]]) -> None:
    row = {**mart_signals[KOI], "log10_density_ratio": "__NAN__"}
    content = httpx.Request("POST", "/", json=[row]).content.replace(b'"__NAN__"', b"NaN")
    response = client.post("/score", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "log10_density_ratio" in response.json()["message"]


def test_batch_size_is_bounded(client: TestClient, mart_signals: dict[str, dict[str, Any]]) -> None:
    empty = client.post("/score", json=[])
    assert empty.status_code == 422
    assert "at least 1" in empty.json()["message"]
    too_many = client.post("/score", json=[mart_signals[KOI]] * (api.MAX_BATCH + 1))
    assert too_many.status_code == 422
    assert f"at most {api.MAX_BATCH}" in too_many.json()["message"]
    # A body far beyond any valid batch is refused before it is read in full.
    huge = b"[" + b" " * (api.MAX_BODY_BYTES + 1) + b"]"
    too_large = client.post("/score", content=huge, headers={"content-type": "application/json"})
    assert too_large.status_code == 413


# -- docs and the CLI --------------------------------------------------------------------------
def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == ENDPOINTS
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            assert operation["summary"], path
    signal = spec["components"]["schemas"]["Signal"]
    assert signal["additionalProperties"] is False
    assert {"orbital_period_days", "transit_duration_hours", "transit_depth_ppm"} <= set(
        signal["required"]
    )
    assert set(features.HONEST_FEATURES) <= set(signal["properties"])
    assert client.get("/docs").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_exohunter_serve_answers(api_url: str, champion: str) -> None:
    port = _free_port()
    env = {**os.environ, "EXOHUNTER_DATABASE_URL": api_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "scoring", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "exohunter serve did not start in 60 s"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["champion"] == champion
    finally:
        server.terminate()
        server.wait(timeout=30)
