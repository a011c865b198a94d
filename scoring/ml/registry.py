"""The model registry: deterministic versions, verified artifacts, one champion per task.

A model version is a hash of (config, feature list, training load batch): training the same
config on the same batch twice gives the same version, and registering it again changes nothing.
Artifacts live under ``$EXOHUNTER_HOME/models/<version>/`` and are verified by sha256 on load, so
a tampered or missing file is a clear error instead of silently different predictions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import psycopg
from psycopg.types.json import Jsonb

from scoring import settings
from scoring.errors import ExoHunterError
from scoring.ml import evaluation
from scoring.ml.evaluation import Evaluation, Figure
from scoring.warehouse import writeback

# The tasks a model version serves; each task has at most one champion.
KOI_CLASSIFIER = "koi_classifier"
KOI_ANOMALY = "koi_anomaly"
LIGHTCURVE_CLASSIFIER = "lightcurve_classifier"
LIGHTCURVE_CNN = "lightcurve_cnn"
TOI_CLASSIFIER = "toi_classifier"


class RegistryError(ExoHunterError):
    pass


def model_version(config: dict[str, Any], features: list[str], load_batch_id: int | None) -> str:
    payload = json.dumps(
        {"config": config, "features": features, "load_batch_id": load_batch_id},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def models_dir() -> Path:
    return settings.home() / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_artifact(version: str, artifact: Any) -> tuple[str, str]:
    """Write the artifact atomically; return (path relative to the home, sha256)."""
    folder = models_dir() / version
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.joblib"
    partial = path.with_suffix(".partial")
    joblib.dump(artifact, partial)
    partial.replace(path)
    return str(path.relative_to(settings.home())), _sha256(path)


@dataclass(frozen=True)
class ModelEntry:
    model_version: str
    task: str
    algorithm: str
    hyperparameters: dict[str, Any]
    feature_list: list[str]
    training_load_batch_id: int | None  # None: the model names its ``training_data``
    training_snapshot_at: datetime
    training_rows: int
    artifact_path: str
    artifact_sha256: str
    model_card_path: str | None = None
    training_data: str | None = None  # shipped files that are not a load batch, with a checksum


def register(conn: psycopg.Connection, entry: ModelEntry) -> bool:
    """Insert the entry unless the version exists; return whether it was new."""
    inserted = conn.execute(
        """insert into ml.model_registry (model_version, task, algorithm, hyperparameters,
               feature_list, training_load_batch_id, training_snapshot_at, training_rows,
               artifact_path, artifact_sha256, model_card_path, training_data)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (model_version) do nothing""",
        (
            entry.model_version,
            entry.task,
            entry.algorithm,
            Jsonb(entry.hyperparameters),
            entry.feature_list,
            entry.training_load_batch_id,
            entry.training_snapshot_at,
            entry.training_rows,
            entry.artifact_path,
            entry.artifact_sha256,
            entry.model_card_path,
            entry.training_data,
        ),
    ).rowcount
    return inserted == 1


def exists(conn: psycopg.Connection, version: str) -> bool:
    row = conn.execute("select 1 from ml.model_registry where model_version = %s", (version,))
    return row.fetchone() is not None


def promote(conn: psycopg.Connection, version: str) -> None:
    """Make ``version`` its task's champion (in one transaction: never two, never none)."""
    with conn.transaction():
        task = conn.execute(
            "select task from ml.model_registry where model_version = %s", (version,)
        ).fetchone()
        if task is None:
            raise RegistryError(f"unknown model version {version}")
        conn.execute(
            "update ml.model_registry set is_champion = false where task = %s and is_champion",
            task,
        )
        conn.execute(
            "update ml.model_registry set is_champion = true where model_version = %s", (version,)
        )


def champion(conn: psycopg.Connection, task: str) -> str | None:
    row = conn.execute(
        "select model_version from ml.model_registry where task = %s and is_champion", (task,)
    ).fetchone()
    return row[0] if row else None


def versions(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Every registered version, oldest first: (version, task, algorithm, training batch,
    champion, created, P(planet) ROC AUC, recall at precision 0.90) — the last two for the
    classifier's XGBoost, NULL for the other tasks."""
    return conn.execute("""
        select r.model_version, r.task, r.algorithm, r.training_load_batch_id,
               r.is_champion, r.created_at,
               max(m.value) filter (where m.metric = 'roc_auc'),
               max(m.value) filter (where m.metric = 'recall_at_precision_0.90')
        from ml.model_registry as r
        left join ml.model_metrics as m
            on m.model_version = r.model_version and m.task = 'p_planet'
            and m.estimator = 'xgboost'
        group by r.model_version
        order by r.created_at""").fetchall()


def load_artifact(conn: psycopg.Connection, version: str) -> Any:
    """Load a registered artifact after checking its sha256 against the registry."""
    row = conn.execute(
        "select artifact_path, artifact_sha256 from ml.model_registry where model_version = %s",
        (version,),
    ).fetchone()
    if row is None:
        raise RegistryError(f"unknown model version {version}: see `exohunter models`")
    path = settings.home() / row[0]
    if not path.exists():
        raise RegistryError(
            f"the artifact of model {version} is missing ({path}): retrain with `exohunter train`"
        )
    if _sha256(path) != row[1]:
        raise RegistryError(
            f"the artifact of model {version} does not match its recorded sha256 ({path}): it was "
            "modified after training; refusing to load it. Retrain with `exohunter train --force`."
        )
    return joblib.load(path)


METRIC_COLUMNS = (
    "model_version",
    "task",
    "estimator",
    "metric",
    "class_label",
    "value",
    "protocol",
    "honest",
)
CURVE_COLUMNS = (
    "model_version",
    "task",
    "estimator",
    "curve",
    "point_index",
    "x",
    "y",
    "threshold",
    "n",
)


def publish(
    conn: psycopg.Connection,
    entry: ModelEntry,
    figures: Sequence[Figure] = (),
    evaluations: Sequence[Evaluation] = (),
    make_champion: bool = True,
) -> None:
    """Register a model version with what it measured, in one transaction, and (by default) make
    it its task's champion.

    Publishing a version again replaces its registry row, figures and curves: readers see the
    previous registration or the new one, never a mix. Write the version's results (scores,
    anomalies) in the same transaction by calling this inside ``conn.transaction()``.
    """
    version = entry.model_version
    rows = [*figures, *(f for e in evaluations for f in e.figures())]
    with conn.transaction():
        conn.execute("delete from ml.model_registry where model_version = %s", (version,))
        register(conn, entry)
        _replace_results(conn, {"model_version": version}, version, rows, evaluations)
        if make_champion:
            promote(conn, version)


def add_evaluations(
    conn: psycopg.Connection, version: str, evaluations: Sequence[Evaluation]
) -> None:
    """Store a registered version's later evaluations (a study run after its training), in one
    transaction: each task's figures and curves replace that task's earlier ones."""
    if not exists(conn, version):
        raise RegistryError(f"model version {version} is not registered")
    with conn.transaction():
        for task in dict.fromkeys(e.task for e in evaluations):
            of_task = [e for e in evaluations if e.task == task]
            figures = [f for e in of_task for f in e.figures()]
            key = {"model_version": version, "task": task}
            _replace_results(conn, key, version, figures, of_task)


def _replace_results(
    conn: psycopg.Connection,
    key: dict[str, str],
    version: str,
    figures: Sequence[Figure],
    evaluations: Sequence[Evaluation],
) -> None:
    """Replace the ``ml.model_metrics`` and ``ml.model_curves`` rows matching ``key``."""
    writeback.replace_rows(
        conn, "ml.model_metrics", key, list(METRIC_COLUMNS), [f.row(version) for f in figures]
    )
    writeback.replace_rows(
        conn,
        "ml.model_curves",
        key,
        list(CURVE_COLUMNS),
        evaluation.curve_rows(version, list(evaluations)),
    )
