"""The CNN end to end on a tiny configuration (one epoch on a subsample of the real views): it
trains, registers as the champion of lightcurve_cnn in a real PostgreSQL with its metrics and
model card, scores a signal, and a corrupted artifact is refused. The full configuration is
`exohunter cnn train` / `make bench`."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from scoring import settings
from scoring.cnn import predict, publish, training, views
from scoring.ml import registry
from scoring.web import app

pytestmark = [pytest.mark.integration]


@pytest.fixture
def trained(conn):
    return publish.train(conn, train_config=training.TINY)


def test_train_register_score_and_refuse_a_corrupted_artifact(conn, trained, database_url):
    version = trained.model_version
    assert trained.created
    assert registry.champion(conn, registry.LIGHTCURVE_CNN) == version
    row = conn.execute(
        "select training_load_batch_id, training_data, feature_list, artifact_path,"
        " model_card_path from ml.model_registry where model_version = %s",
        (version,),
    ).fetchone()
    assert row[0] is None and row[1].startswith("data/tess/astronet_views_yu2019 sha256:")
    assert row[2] == ["global_view", "local_view", "secondary_view", "Period", "Duration"]
    card = (settings.home() / row[4]).read_text()
    assert "Yu et al. 2019" in card and "| tic | cnn |" in card

    stored = dict(
        conn.execute(
            "select estimator || '/' || metric, value from ml.model_metrics"
            " where model_version = %s and task = 'pc_vs_rest_tic'",
            (version,),
        ).fetchall()
    )
    for estimator in ("cnn", "xgboost_scalars", "cnn_xgboost_mean"):
        for metric in ("pr_auc", "roc_auc", "recall_at_precision_0.90", "accuracy"):
            assert 0 <= stored[f"{estimator}/{metric}"] <= 1
    protocol = conn.execute(
        "select distinct protocol from ml.model_metrics where model_version = %s", (version,)
    ).fetchone()[0]
    assert "grouped by TIC" in protocol

    # the API lists it, trained on shipped files rather than a load batch
    with TestClient(app.create_app(database_url)) as client:
        listed = {m["model_version"]: m for m in client.get("/models").json()}
    assert listed[version]["training_load_batch_id"] is None
    assert listed[version]["training_data"] == row[1]

    # The same configuration again is recognised: nothing retrained.
    assert not publish.train(conn, train_config=training.TINY).created

    _, model = predict.champion(conn)
    t = np.arange(1325.0, 1352.0, 1 / 48)
    flux = 1 + np.random.default_rng(3).normal(0, 3e-4, len(t))
    flux[np.abs(views.fold(t, 3.7, 1326.3)) < 0.06] -= 3e-3  # SYNTHETIC box transit
    score = predict.score_signal(model, t, flux, 3.7, 1326.3, 0.12)
    assert 0 <= score.p_pc <= 1 and score.views.local_view.shape == (61,)

    # The session's other warehouses on this home hold the same version at the same path (the
    # version is a hash of the configuration and the data): the file is put back afterwards.
    artifact = settings.home() / row[3]
    good = artifact.read_bytes()
    artifact.write_bytes(good[:-10] + b"0123456789")
    try:
        with pytest.raises(registry.RegistryError, match="does not match its recorded sha256"):
            predict.Model.from_artifact(registry.load_artifact(conn, version))
    finally:
        artifact.write_bytes(good)
    assert registry.load_artifact(conn, version) is not None
