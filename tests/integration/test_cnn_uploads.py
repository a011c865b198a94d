"""The CNN in the product: every signal an upload's search finds is scored by the champion of
lightcurve_cnn (the session's tiny CNN, tests/conftest.py) and stored with the signal rows, with
the three views it saw; the mart, the JSON and the result page carry the score; without a CNN the
score is NULL and the page says so. Real PostgreSQL, the real search, the real network."""

from __future__ import annotations

import io
import re

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from scoring import cli
from scoring.cnn import network, predict, tfrecords, views
from scoring.lightcurves import search, store
from scoring.ml import registry
from scoring.warehouse import server
from scoring.web import app
from tests.conftest import database_copy

pytestmark = [pytest.mark.integration]

KEPLER6 = "kplr010874614-2009131105131_llc.fits"


def kepler6_upload(conn: psycopg.Connection) -> int:
    return conn.execute(
        """select max(u.upload_id) from raw.lightcurve_uploads u join raw.lightcurves l
           using (lightcurve_id) where l.file_name = %s""",
        (KEPLER6,),
    ).fetchone()[0]


def test_every_shipped_signal_has_the_champions_score_and_views(lightcurve_warehouse: str) -> None:
    with psycopg.connect(lightcurve_warehouse) as conn:
        champion = registry.champion(conn, registry.LIGHTCURVE_CNN)
        rows = conn.execute(
            """select s.cnn_model_version, a.cnn_model_version, s.cnn_p_pc, s.cnn_likely_pc,
                      cardinality(s.cnn_global_view), cardinality(s.cnn_local_view),
                      cardinality(s.cnn_secondary_view), s.cnn_note
               from ml.lightcurve_signals s join ml.lightcurve_analyses a using (upload_id)"""
        ).fetchall()
        assert store.pending(conn) == []  # every upload analysed with this CNN
        with conn.transaction(force_rollback=True):
            conn.execute(
                "update ml.model_registry set is_champion = false where task = 'lightcurve_cnn'"
            )
            # no CNN champion now: every upload is pending again (rolled back afterwards)
            assert len(store.pending(conn)) == len(store.every_upload(conn))
    assert champion is not None and len(rows) >= 10
    for version, analysis_version, p_pc, likely, n_global, n_local, n_secondary, note in rows:
        assert version == analysis_version == champion
        assert 0 <= p_pc <= 1 and isinstance(likely, bool)
        assert (n_global, n_local, n_secondary, note) == (201, 61, 61, None)


def test_the_stored_views_are_of_the_searchs_own_fold_and_give_the_stored_score(
    lightcurve_warehouse: str,
) -> None:
    with psycopg.connect(lightcurve_warehouse) as conn:
        upload_id = kepler6_upload(conn)
        stored = store.result(conn, upload_id)
        time_, flux, flux_err = store.points(conn, stored["upload"]["lightcurve_id"])
        _, model = predict.champion(conn)
    first = stored["signals"][0]
    found = search.search(time_, flux, flux_err)
    again = views.build(
        found.time,
        found.detrended,
        first["period_days"],
        first["epoch"],
        first["duration_hours"] / 24,
    )
    assert np.allclose(first["cnn_local_view"], again.local_view, atol=1e-6)
    assert np.allclose(first["cnn_global_view"], again.global_view, atol=1e-6)
    assert first["cnn_secondary_days"] == pytest.approx(again.secondary_phase)
    p = model.p_pc(
        [again], np.array([first["period_days"]]), np.array([first["duration_hours"]]) / 24
    )
    assert first["cnn_p_pc"] == pytest.approx(float(p[0]), abs=1e-6)


def test_the_numpy_forward_pass_scores_as_keras_does(lightcurve_warehouse: str) -> None:
    with psycopg.connect(lightcurve_warehouse) as conn:
        _, model = predict.champion(conn)
    data = tfrecords.load()
    rows = np.r_[np.flatnonzero(data.is_planet)[:20], np.flatnonzero(~data.is_planet)[:44]]
    batch = network.inputs(
        {name: getattr(data, name)[rows] for name in network.VIEW_BINS},
        model.scaler.transform({n: data.scalars[n][rows] for n in model.scaler.names}),
    )
    keras_scores = np.asarray(
        network.restore(len(model.scaler.names), model.weights).predict_on_batch(batch)
    ).ravel()
    scores = network.forward(model.weights, batch)
    assert np.abs(scores - keras_scores).max() < 1e-5
    assert scores.std() > 0  # not a constant: the check above can fail


def test_the_mart_and_the_json_carry_the_cnn_score(lightcurve_warehouse: str) -> None:
    with psycopg.connect(lightcurve_warehouse) as conn:
        upload_id = kepler6_upload(conn)
        mart = conn.execute(
            """select best_cnn_p_pc, best_is_cnn_likely_pc, cnn_model_version, best_p_planet
               from marts.fct_lightcurve_uploads where upload_id = %s""",
            (upload_id,),
        ).fetchone()
        champion = registry.champion(conn, registry.LIGHTCURVE_CNN)
        cnn_metrics = conn.execute(
            """select count(*) from marts.fct_model_performance
               where model_task = 'lightcurve_cnn' and pr_auc between 0 and 1"""
        ).fetchone()[0]
    with TestClient(app.create_app(lightcurve_warehouse)) as client:
        answer = client.get(f"/api/lightcurves/{upload_id}").json()
    best = answer["signals"][0]
    assert mart == (best["cnn_p_pc"], best["cnn_likely_pc"], champion, best["p_planet"])
    assert len(best["cnn_global_view"]) == 201 and len(best["cnn_local_view"]) == 61
    assert min(best["cnn_local_view"]) == pytest.approx(-1)  # normalised: the deepest bin is -1
    assert answer["cnn"]["model_version"] == champion
    assert answer["cnn"]["in_training_domain"] is False  # Kepler: not TESS QLP FFIs
    assert answer["cnn"]["used_in_verdict"] is False
    assert "Out of the CNN's training domain" in answer["cnn"]["domain_note"]
    assert cnn_metrics >= 3  # the tiny CNN's test figures: cnn, xgboost_scalars, their mean


def test_without_a_cnn_the_score_is_null_and_the_page_says_so(database_url: str) -> None:
    data = (store.LIGHTCURVE_DIR / KEPLER6).read_bytes()
    with psycopg.connect(database_url, autocommit=True) as conn:
        ((loaded, analysis),) = store.load_and_analyse(conn, data, KEPLER6, "api")
        rows = conn.execute(
            """select cnn_model_version, cnn_p_pc, cnn_global_view, cnn_note
               from ml.lightcurve_signals where upload_id = %s""",
            (loaded.upload_id,),
        ).fetchall()
    assert analysis.cnn_version is None and len(rows) == len(analysis.search.signals) >= 1
    assert set(rows) == {(None, None, None, store.NO_CNN)}
    with TestClient(app.create_app(database_url)) as client:
        page = client.get(f"/lightcurves/{loaded.upload_id}")
        answer = client.get(f"/api/lightcurves/{loaded.upload_id}").json()
    assert page.status_code == 200
    assert f'<p id="cnn-domain" class="cnn-none">{store.NO_CNN}</p>' in page.text
    assert 'class="cnn-view"' not in page.text
    assert answer["cnn"]["model_version"] is None


def test_the_command_line_shows_the_cnn_score_beside_p_planet(
    pg_cluster: server.PostgresCluster, lightcurve_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        database_copy(pg_cluster, lightcurve_warehouse, "cnn_cli") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        analysis = store.analyse(conn, kepler6_upload(conn))
    printed = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=printed, width=300))
    cli._print_analysis(analysis)
    lines = [line for line in printed.getvalue().splitlines() if line.startswith("  #")]
    assert len(lines) == len(analysis.cnn_scores) >= 1
    for line, score in zip(lines, analysis.cnn_scores, strict=True):
        shown = re.search(r"\(CNN P\(PC\) ([01]\.[0-9]{3}), not in the verdict\)$", line)
        assert shown is not None, line
        assert shown.group(1) == f"{score.p_pc:.3f}"
