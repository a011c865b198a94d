"""``exohunter cnn train``: both protocols measured, the product's CNN registered as the champion
of task ``lightcurve_cnn`` with its figures, its artifact checksum and its model card.

The registered network is the ``cnn`` scorer of the TIC-grouped protocol (the project's rule:
splits by star), whose inputs are what ExoHunter's own fold of an upload gives: the three views,
the period and the duration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from scoring.cnn import model_card, network, tfrecords, training
from scoring.ml import registry
from scoring.ml.evaluation import Evaluation
from scoring.progress import NO_STATUS, Status

TASK = registry.LIGHTCURVE_CNN
PRODUCT_PROTOCOL = "tic"
#: The records' date: Yu et al. 2019 (arXiv 1904.02726, 2019-04-04), TESS sectors 1-5.
TRAINING_SNAPSHOT = datetime(2019, 4, 4, tzinfo=UTC)


@dataclass
class TrainResult:
    model_version: str
    created: bool
    n_rows: int = 0
    evaluations: list[Evaluation] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    stars_on_both_sides: dict[str, int] = field(default_factory=dict)
    card_path: str | None = None


def training_data(folder=tfrecords.DATA) -> str:
    """The training data as the registry names it: the folder and its shards' fingerprint."""
    return (
        f"data/tess/astronet_views_yu2019 sha256:{tfrecords.fingerprint(tfrecords.shards(folder))}"
    )


def config(train_config: training.Config, data: str) -> dict[str, Any]:
    return {
        "task": TASK,
        "training_data": data,
        "training": train_config.as_dict(),
        "network": {
            "branches": network.BRANCHES,
            "dense": network.DENSE,
            "dropout": network.DROPOUT,
        },
        "scalars": list(training.FOLD_SCALARS),
        "protocol": PRODUCT_PROTOCOL,
    }


def artifact(result: training.ProtocolResult, threshold: float) -> dict[str, Any]:
    """What scoring needs: the weights as arrays, the scalar scaler, the threshold."""
    return {
        "weights": network.weights(result.cnn.model),
        "scalars": list(result.cnn.scaler.names),
        "quantiles": np.asarray(result.cnn.scaler.quantiles),
        "threshold": threshold,
        "view_bins": dict(network.VIEW_BINS),
    }


def train(
    conn: psycopg.Connection,
    status: Status = NO_STATUS,
    force: bool = False,
    train_config: training.Config = training.DEFAULT,
) -> TrainResult:
    """Measure both protocols, register the product's CNN and make it the champion."""
    data = training_data()
    version = registry.model_version(config(train_config, data), list(training.FOLD_SCALARS), None)
    if registry.exists(conn, version) and not force:
        if registry.champion(conn, TASK) is None:
            registry.promote(conn, version)
        return TrainResult(version, False)
    with status("CNN: reading the TFRecord views …"):
        views = tfrecords.load()
    start = time.perf_counter()
    result = TrainResult(version, True, len(views), counts=views.counts())
    result.stars_on_both_sides = tfrecords.stars_on_both_sides(views.tic_id, views.split)
    product = None
    for protocol in train_config.protocols:
        with status(f"CNN: training and measuring on the {protocol} split …"):
            measured = training.run_protocol(views, protocol, train_config)
        result.evaluations += measured.evaluations
        result.seconds |= {f"{protocol}/{k}": v for k, v in measured.seconds.items()}
        result.epochs |= {f"{protocol}/{k}": v for k, v in measured.epochs.items()}
        if protocol == PRODUCT_PROTOCOL:
            product = measured
    result.seconds["total"] = time.perf_counter() - start
    chosen = next(
        e
        for e in result.evaluations
        if e.task == f"pc_vs_rest_{PRODUCT_PROTOCOL}" and e.estimator == "cnn"
    )
    path, sha = registry.save_artifact(version, artifact(product, chosen.value("threshold")))
    result.card_path = model_card.write(result, data)
    registry.publish(
        conn,
        registry.ModelEntry(
            model_version=version,
            task=TASK,
            algorithm="keras 1-D CNN (JAX)",
            hyperparameters=config(train_config, data),
            feature_list=[*network.VIEW_BINS, *training.FOLD_SCALARS],
            training_load_batch_id=None,
            training_snapshot_at=TRAINING_SNAPSHOT,
            training_rows=len(product.split.train),
            artifact_path=path,
            artifact_sha256=sha,
            model_card_path=result.card_path,
            training_data=data,
        ),
        evaluations=result.evaluations,
    )
    return result
