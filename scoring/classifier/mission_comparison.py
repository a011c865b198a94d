"""``exohunter compare-missions``: one model for Kepler and TESS, or two?

XGBoost on the features both marts share (``SHARED_FEATURES``): each mission alone and one joint
Kepler + TESS model with the mission as a feature, all under the grouped nested protocol (grouped
by star), and the transfer in both directions (train on one mission's labelled rows, score the
other's). Each is measured on the rows of the mission it is named after (task
``<trained>_on_<tested>``).

The figures are stored under the TOI champion (``ml.model_metrics``, ``ml.model_curves``) and
written beside its model card as ``mission_comparison.md``. A study rather than a step of
``exohunter run``: it fits the nested CV on about 9,700 rows twice, and its answer changes only
with a new snapshot of either table, so it runs when asked and once per pair of batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from scoring import settings
from scoring.classifier import toi_training, training
from scoring.classifier.training import SEED, THRESHOLD, frame_batch, timed_step
from scoring.errors import ExoHunterError
from scoring.ml import feature_mart, features, nested_cv, registry
from scoring.ml.evaluation import Evaluation, binary_evaluation
from scoring.progress import NO_STATUS, Say, Status, quiet

# The features of both marts, under one name (the magnitudes are different bands: a tree can
# tell them apart by the mission flag).
SHARED_FEATURES: tuple[str, ...] = (
    *(f for f in features.HONEST_FEATURES if f in features.TESS_HONEST_FEATURES),
    "host_magnitude",
    "is_tess",
)
MAGNITUDE = {"kepler": "kepler_magnitude", "tess": "tess_magnitude"}

TASKS = (
    ("tess_on_tess", "TESS alone"),
    ("joint_on_tess", "joint Kepler + TESS"),
    ("kepler_on_tess", "trained on Kepler"),
    ("kepler_on_kepler", "Kepler alone"),
    ("joint_on_kepler", "joint Kepler + TESS"),
    ("tess_on_kepler", "trained on TESS"),
)
REPORT = "mission_comparison.md"


class ComparisonError(ExoHunterError):
    """The comparison cannot run; the message says what to do first."""


@dataclass(frozen=True)
class Labelled:
    """One mission's labelled rows as the shared matrix, labels and star groups."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray


@dataclass
class ComparisonResult:
    model_version: str  # the TOI champion the figures are stored under
    created: bool
    batches: str  # "KOI batch k, TOI batch t": which snapshots were compared
    evaluations: list[Evaluation] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    report_path: str | None = None


def shared_matrix(frame: pd.DataFrame, mission: str) -> np.ndarray:
    """A mart's rows as ``SHARED_FEATURES``."""
    shared = frame.assign(
        host_magnitude=frame[MAGNITUDE[mission]], is_tess=float(mission == "tess")
    )
    return features.matrix(shared, SHARED_FEATURES)


def kepler_labelled(kois: pd.DataFrame) -> Labelled:
    rows, y = training.resolved(kois)
    groups = ("kepid:" + rows["kepid"].astype(str)).to_numpy()
    return Labelled(shared_matrix(rows, "kepler"), y, groups)


def tess_labelled(tois: pd.DataFrame) -> Labelled:
    rows, y = toi_training.labelled(tois)
    groups = ("tic:" + rows[toi_training.GROUP_KEY].astype(str)).to_numpy()
    return Labelled(shared_matrix(rows, "tess"), y, groups)


def evaluate(
    kepler: Labelled,
    tess: Labelled,
    batches: str,
    timings: dict[str, float],
    say: Say,
    status: Status,
) -> list[Evaluation]:
    """The six evaluations of ``TASKS``; every protocol names the compared ``batches``."""
    shared = f"{len(SHARED_FEATURES)} shared features; {batches}"

    def evaluation(task: str, y: np.ndarray, p: np.ndarray, protocol: str) -> Evaluation:
        return binary_evaluation(task, "xgboost", y, p, THRESHOLD, True, f"{protocol}; {shared}")

    def nested(name: str, data: Labelled) -> np.ndarray:
        with timed_step(f"{name}, shared features, grouped nested CV", timings, say, status):
            cv = nested_cv.cross_validate(nested_cv.XGBOOST, data.X, data.y, data.groups, SEED)
        return cv.proba[:, 1]

    out = [
        evaluation("tess_on_tess", tess.y, nested("TESS alone", tess), nested_cv.protocol("TIC")),
        evaluation(
            "kepler_on_kepler",
            kepler.y,
            nested("Kepler alone", kepler),
            nested_cv.protocol("kepid"),
        ),
    ]

    both = Labelled(
        np.vstack([kepler.X, tess.X]),
        np.concatenate([kepler.y, tess.y]),
        np.concatenate([kepler.groups, tess.groups]),
    )
    p = nested("joint Kepler + TESS", both)
    joint = f"{nested_cv.protocol('star (kepid or TIC)')}; the mission a feature"
    n_kepler = len(kepler.y)
    out.append(evaluation("joint_on_tess", tess.y, p[n_kepler:], joint))
    out.append(evaluation("joint_on_kepler", kepler.y, p[:n_kepler], joint))

    for trained, tested, train, test in (
        ("kepler", "tess", kepler, tess),
        ("tess", "kepler", tess, kepler),
    ):
        with timed_step(f"transfer {trained} → {tested}", timings, say, status):
            model = nested_cv.fit_calibrated(
                nested_cv.XGBOOST, train.X, train.y, train.groups, SEED
            )
            p = model.predict_proba(test.X)[:, 1]
        protocol = (
            f"trained on every labelled {trained} row (hyper-parameters and calibration by "
            f"3-fold grouped CV inside it), tested on every labelled {tested} row"
        )
        out.append(evaluation(f"{trained}_on_{tested}", test.y, p, protocol))
    return out


def table(evaluations: list[Evaluation]) -> str:
    """The comparison as a Markdown table, TESS rows first."""
    measured = {e.task: e for e in evaluations}
    lines = [
        "| tested on | model | ROC AUC | PR AUC | Brier | recall @ precision ≥ 0.90 |",
        "|---|---|---|---|---|---|",
    ]
    for task, label in TASKS:
        e = measured[task]
        tested = "TESS" if task.endswith("_on_tess") else "Kepler"
        lines.append(
            f"| {tested} | {label} | {e.value('roc_auc'):.4f} | {e.value('pr_auc'):.4f} | "
            f"{e.value('brier'):.4f} | {e.value('recall_at_precision_0.90'):.3f} |"
        )
    return "\n".join(lines)


def write_report(result: ComparisonResult) -> str:
    """``mission_comparison.md`` beside the TOI champion's card; its path under the home."""
    path = registry.models_dir() / result.model_version / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    path.write_text(
        f"""# Kepler and TESS: one model or two? (TOI model `{result.model_version}`)

XGBoost on the {len(SHARED_FEATURES)} features both marts have (the magnitude in each mission's
band; the mission a feature of the joint model), {result.batches}. Each row is measured on the
rows of the mission it is tested on: out of fold (grouped nested CV, no star on both sides) for
a mission alone and the joint model; on every labelled row of the other mission for a transfer.

{table(result.evaluations)}

Written by `exohunter compare-missions`; the figures are in `ml.model_metrics` under this
version (tasks `<trained>_on_<tested>`). Wall time: {timings}.
"""
    )
    return str(path.relative_to(settings.home()))


def _measured(conn: psycopg.Connection, version: str, batches: str) -> bool:
    """Whether ``version`` holds all six comparisons of these batches (every protocol ends with
    them: "KOI batch 1, TOI batch 2" must not match a protocol of TOI batch 23)."""
    n = conn.execute(
        """select count(distinct task) from ml.model_metrics
           where model_version = %s and task = any(%s) and right(protocol, %s) = %s""",
        (version, [task for task, _ in TASKS], len(f"; {batches}"), f"; {batches}"),
    ).fetchone()[0]
    return n == len(TASKS)


def compare(
    conn: psycopg.Connection, say: Say = quiet, status: Status = NO_STATUS, force: bool = False
) -> ComparisonResult:
    """Compare on the latest KOI and TOI batches and store the figures under the TOI champion
    (a no-op if it holds them for these batches)."""
    tois = feature_mart.load_tois(conn)
    kois = feature_mart.load(conn)
    if tois.empty or kois.empty:
        raise ComparisonError(
            "the comparison needs both feature marts: run `exohunter ingest koi` and "
            "`exohunter ingest toi`, then `exohunter transform`"
        )
    toi_batch = frame_batch(tois, feature_mart.TOI_FEATURE_TABLE, "toi")[0]
    koi_batch = frame_batch(kois)[0]
    version = registry.champion(conn, toi_training.TASK)
    if version != toi_training.version_for(toi_batch):
        raise ComparisonError(
            f"no TOI model is trained on TOI batch {toi_batch}: run "
            "`exohunter train --mission tess` first"
        )
    batches = f"KOI batch {koi_batch}, TOI batch {toi_batch}"
    if _measured(conn, version, batches) and not force:
        say(f"TOI model {version} holds the comparison of {batches}: nothing to do")
        return ComparisonResult(version, False, batches)

    result = ComparisonResult(version, True, batches)
    result.evaluations = evaluate(
        kepler_labelled(kois), tess_labelled(tois), batches, result.timings, say, status
    )
    registry.add_evaluations(conn, version, result.evaluations)
    result.report_path = write_report(result)
    return result
