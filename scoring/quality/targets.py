"""Which batch each stage's suites validate, and the values of the suites' parameters.

One batch per run: each suite validates one batch of its asset (a load batch, or a model
version's scores of a load batch), chosen here by SQL over the tables the other stages write,
with the values of the suite's parameters (the previous good batch's row count, the previous
champion's figures, the anomaly budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg

from scoring.ml import registry
from scoring.quality.errors import QualityError

STAGES = ("raw", "features", "predictions", "anomalies")
#: The anomaly detector's contamination budget: the share of KOIs it may flag (issue 4: 2 %).
ANOMALY_BUDGET = 0.02


@dataclass(frozen=True)
class Target:
    """The batch a suite validates and the values of the suite's parameters."""

    suite_name: str
    stage: str
    batch: dict[str, Any]  # GX batch parameters, e.g. {"load_batch_id": 2}
    parameters: dict[str, Any]  # GX suite parameters
    load_batch_id: int | None
    model_version: str | None = None

    def describe(self) -> str:
        if self.model_version is None:
            return f"load batch {self.load_batch_id}"
        return f"model {self.model_version} on load batch {self.load_batch_id}"


#: The raw suite of each archive table ingest loads (raw.load_batches.source_table).
RAW_SUITES = {"koi_cumulative": "raw_koi_batch", "toi": "raw_toi_batch"}


def _latest_good_batch(conn: psycopg.Connection, source_table: str) -> int | None:
    """The batch staging reads: status loaded, latest snapshot, then latest load."""
    row = conn.execute(
        """select load_batch_id from raw.load_batches
            where source_table = %s and status = 'loaded'
            order by snapshot_at desc, load_batch_id desc limit 1""",
        (source_table,),
    ).fetchone()
    return row[0] if row else None


def ungated_batches(conn: psycopg.Connection) -> list[int]:
    """Batches of every archive table waiting for the raw gate (status ``pending_checks``), in
    load order: whoever loaded them (``exohunter ingest``, the pipeline, a library call), they
    are checked before staging may read them."""
    rows = conn.execute(
        """select load_batch_id from raw.load_batches
            where status = 'pending_checks' and source_table = any(%s)
            order by load_batch_id""",
        (list(RAW_SUITES),),
    ).fetchall()
    return [row[0] for row in rows]


def _batch_rows(conn: psycopg.Connection, batch_id: int) -> int:
    row = conn.execute(
        "select rows_loaded from raw.load_batches where load_batch_id = %s", (batch_id,)
    ).fetchone()
    if row is None:
        raise QualityError(f"there is no load batch {batch_id}: see raw.load_batches")
    return row[0]


def raw_targets(conn: psycopg.Connection, batch_id: int | None = None) -> list[Target]:
    """The raw suite on one batch, or (default) on the batch staging reads of each table."""
    if batch_id is not None:
        return [raw_target(conn, batch_id)]
    found = [
        raw_target(conn, batch)
        for table in RAW_SUITES
        if (batch := _latest_good_batch(conn, table)) is not None
    ]
    if not found:
        raise QualityError("no archive batch loaded yet: run `exohunter ingest koi` first")
    return found


def raw_target(conn: psycopg.Connection, batch_id: int) -> Target:
    """A batch's raw suite, its records counted against an earlier good batch of its table."""
    row = conn.execute(
        "select source_table from raw.load_batches where load_batch_id = %s", (batch_id,)
    ).fetchone()
    if row is None or row[0] not in RAW_SUITES:
        raise QualityError(f"load batch {batch_id} is not a KOI or TOI batch")
    source_table = row[0]
    parameters = (
        _koi_row_bounds(conn, batch_id)
        if source_table == "koi_cumulative"
        else _toi_row_bounds(conn, batch_id)
    )
    return Target(
        RAW_SUITES[source_table], "raw", {"load_batch_id": batch_id}, parameters, batch_id
    )


def _koi_row_bounds(conn: psycopg.Connection, batch_id: int) -> dict[str, Any]:
    """Within the tolerance of the latest good batch loaded before it: the cumulative table
    keeps every KOI it ever had, so a snapshot much smaller or larger is a broken export."""
    previous = conn.execute(
        """select load_batch_id, rows_loaded + rows_rejected from raw.load_batches
            where source_table = 'koi_cumulative' and status = 'loaded' and load_batch_id < %s
            order by load_batch_id desc limit 1""",
        (batch_id,),
    ).fetchone()
    return _row_bounds(previous, capped=True)


def _toi_row_bounds(conn: psycopg.Connection, batch_id: int) -> dict[str, Any]:
    """Not much smaller than the latest good snapshot taken before it. The TOI table grows
    (2,041 TOIs in June 2020, 7,703 in October 2025), so only a shrink is a broken export, and
    an older snapshot loaded after a newer one is compared with the snapshots before its own."""
    previous = conn.execute(
        """select p.load_batch_id, p.rows_loaded + p.rows_rejected
             from raw.load_batches as p
             join raw.load_batches as b on b.load_batch_id = %s
            where p.source_table = 'toi' and p.status = 'loaded'
              and p.load_batch_id <> b.load_batch_id and p.snapshot_at <= b.snapshot_at
            order by p.snapshot_at desc, p.load_batch_id desc limit 1""",
        (batch_id,),
    ).fetchone()
    return _row_bounds(previous, capped=False)


def _row_bounds(previous: tuple[int, int] | None, *, capped: bool) -> dict[str, Any]:
    """The row-count parameters against (batch id, records) of the previous good batch: within
    the tolerance below it, and above it too when ``capped``; the first batch needs a row."""
    from scoring.quality import suites

    if previous is None:
        return {"min_rows": 1, "max_rows": None}
    batch_id, records = previous
    tolerance = suites.ROW_COUNT_TOLERANCE
    return {
        "previous_load_batch_id": batch_id,
        "min_rows": math.floor(records * (1 - tolerance)),
        "max_rows": math.ceil(records * (1 + tolerance)) if capped else None,
    }


def features_target(conn: psycopg.Connection) -> Target:
    """The feature mart as it stands (one batch, the latest good one)."""
    if conn.execute("select to_regclass('marts.fct_koi_features')").fetchone()[0] is None:
        raise QualityError("marts.fct_koi_features does not exist yet: run `exohunter transform`")
    row = conn.execute("select max(load_batch_id) from marts.fct_koi_features").fetchone()
    if row[0] is None:
        raise QualityError("marts.fct_koi_features is empty: run `exohunter run` first")
    batch_id = row[0]
    return Target(
        "koi_features", "features", {}, {"batch_rows": _batch_rows(conn, batch_id)}, batch_id
    )


def toi_features_target(conn: psycopg.Connection) -> Target | None:
    """The TESS feature mart, only once a TOI batch has passed the raw gate (None before: a
    warehouse with KOIs alone checks what it always did). Sized against the TOI batch the mart
    holds (else the latest good one, so a mart left empty or missing fails)."""
    good = _latest_good_batch(conn, "toi")
    if good is None:
        return None
    if conn.execute("select to_regclass('marts.fct_toi_features')").fetchone()[0] is None:
        raise QualityError("marts.fct_toi_features does not exist yet: run `exohunter transform`")
    held = conn.execute("select max(load_batch_id) from marts.fct_toi_features").fetchone()[0]
    batch_id = held if held is not None else good
    return Target(
        "toi_features", "features", {}, {"batch_rows": _batch_rows(conn, batch_id)}, batch_id
    )


def prediction_targets(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> tuple[list[Target], list[str]]:
    """The predictions suite and, when there is a previous champion, the drift suite.

    Default: the champion's scores of the batch the feature mart holds (else its latest).
    Returns the targets and why a suite was left out.
    """
    model_version = model_version or registry.champion(conn, registry.KOI_CLASSIFIER)
    if model_version is None:
        raise QualityError("no champion model yet: run `exohunter train` first")
    batch_id = batch_id or _scored_batch(conn, model_version)
    stats = _prediction_stats(conn, model_version, batch_id)
    if stats is None:
        raise QualityError(f"model {model_version} has no predictions for load batch {batch_id}")
    batch = {"model_version": model_version, "load_batch_id": batch_id}
    targets = [
        Target(
            "koi_predictions",
            "predictions",
            batch,
            {"batch_rows": _batch_rows(conn, batch_id)},
            batch_id,
            model_version,
        )
    ]
    reference = _previous_champion(conn, model_version, batch_id)
    if reference is None:
        return targets, [f"koi_prediction_drift: no model before {model_version} to compare with"]
    targets.append(
        Target(
            "koi_prediction_drift",
            "predictions",
            batch,
            _drift_parameters(conn, *reference),
            batch_id,
            model_version,
        )
    )
    return targets, []


def _scored_batch(
    conn: psycopg.Connection,
    model_version: str,
    predictions: str = "ml.koi_predictions",
    mart: str = "marts.fct_koi_features",
) -> int:
    """The batch of the feature mart the model scored, else the latest it scored."""
    row = conn.execute(
        f"""select p.load_batch_id
              from {predictions} as p
              left join (select max(load_batch_id) as load_batch_id
                           from {mart}) as f using (load_batch_id)
             where p.model_version = %s
             group by p.load_batch_id, f.load_batch_id
             order by f.load_batch_id is not null desc, p.load_batch_id desc
             limit 1""",
        (model_version,),
    ).fetchone()
    if row is None:
        raise QualityError(f"model {model_version} has scored nothing yet: run `exohunter score`")
    return row[0]


def toi_prediction_target(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> Target:
    """The TOI predictions suite on a TOI model's scores of a TOI batch (default: the TOI
    champion's scores of the batch the TOI mart holds, else its latest), counted against the
    TOIs of the mart (the batch's, when the mart holds another one) and the batch's PCs."""
    model_version = model_version or registry.champion(conn, registry.TOI_CLASSIFIER)
    if model_version is None:
        raise QualityError("no TOI model yet: run `exohunter train --mission tess` first")
    batch_id = batch_id or _scored_batch(
        conn, model_version, "ml.toi_predictions", "marts.fct_toi_features"
    )
    scored, pcs = conn.execute(
        """select (select count(*) from ml.toi_predictions
                    where model_version = %(model)s and load_batch_id = %(batch)s),
                  (select count(*) from raw.toi
                    where load_batch_id = %(batch)s and tfopwg_disp = 'PC')""",
        {"model": model_version, "batch": batch_id},
    ).fetchone()
    if not scored:
        raise QualityError(
            f"model {model_version} has no TOI predictions for load batch {batch_id}"
        )
    in_mart = conn.execute(
        "select count(*) from marts.fct_toi_features where load_batch_id = %s", (batch_id,)
    ).fetchone()[0]
    return Target(
        "toi_predictions",
        "predictions",
        {"model_version": model_version, "load_batch_id": batch_id},
        {"batch_rows": in_mart or _batch_rows(conn, batch_id), "pc_count": pcs},
        batch_id,
        model_version,
    )


def _is_toi_request(
    conn: psycopg.Connection, model_version: str | None, batch_id: int | None
) -> bool:
    """Whether the model asked for is a TOI model (or, without a model, the batch a TOI batch)."""
    if model_version is not None:
        row = conn.execute(
            "select task from ml.model_registry where model_version = %s", (model_version,)
        ).fetchone()
        return row is not None and row[0] == registry.TOI_CLASSIFIER
    if batch_id is not None:
        row = conn.execute(
            "select source_table from raw.load_batches where load_batch_id = %s", (batch_id,)
        ).fetchone()
        return row is not None and row[0] == "toi"
    return False


def all_prediction_targets(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> tuple[list[Target], list[str]]:
    """The prediction stage: a TOI model's (or TOI batch's) scores get the TOI suite, a KOI
    model's the KOI suites; by default each champion's that has scores (an error only when
    neither has)."""
    if _is_toi_request(conn, model_version, batch_id):
        return [toi_prediction_target(conn, model_version, batch_id)], []
    if model_version is not None or batch_id is not None:
        return prediction_targets(conn, model_version, batch_id)
    try:
        found, skipped = prediction_targets(conn)
    except QualityError as exc:
        koi_error: QualityError | None = exc
        found, skipped = [], [f"koi_predictions: {exc}"]
    else:
        koi_error = None
    try:
        found.append(toi_prediction_target(conn))
    except QualityError as exc:
        if koi_error is not None:
            raise koi_error from None
        skipped.append(f"toi_predictions: {exc}")
    return found, skipped


def _prediction_stats(
    conn: psycopg.Connection, model_version: str, batch_id: int
) -> dict[str, Any] | None:
    """Figures the drift suite compares: the candidate planet share, mean and histogram of
    P(planet) (equal bins on [0, 1], the last one closed)."""
    from scoring.quality import suites

    rows = conn.execute(
        """select least(width_bucket(p_planet, 0, 1, %(bins)s), %(bins)s) as bin, count(*),
                  sum(candidate_predicted_planet), count(candidate_predicted_planet),
                  sum(p_planet)
             from dq.koi_prediction_records
            where model_version = %(model)s and load_batch_id = %(batch)s
            group by 1""",
        {"bins": suites.P_PLANET_BINS, "model": model_version, "batch": batch_id},
    ).fetchall()
    n = sum(row[1] for row in rows)
    if not n:
        return None
    counts = dict.fromkeys(range(1, suites.P_PLANET_BINS + 1), 0)
    counts.update({row[0]: row[1] for row in rows})
    candidates = sum(row[3] for row in rows)
    return {
        "candidate_planet_share": sum(row[2] or 0 for row in rows) / candidates
        if candidates
        else 0.0,
        "p_planet_mean": sum(row[4] for row in rows) / n,
        "histogram": {
            "bins": [i / suites.P_PLANET_BINS for i in range(suites.P_PLANET_BINS + 1)],
            "weights": [counts[i] / n for i in sorted(counts)],
        },
    }


def _previous_champion(
    conn: psycopg.Connection, model_version: str, batch_id: int
) -> tuple[str, int] | None:
    """The latest model of the same task registered before this one that has scores (its
    scores of the same batch if it has them): the champion this one replaced."""
    row = conn.execute(
        """select p.model_version, p.load_batch_id
             from ml.koi_predictions as p
             join ml.model_registry as r using (model_version)
             join ml.model_registry as current
               on current.model_version = %s and current.task = r.task
            where r.created_at < current.created_at
            group by p.model_version, p.load_batch_id, r.created_at
            order by r.created_at desc, p.load_batch_id = %s desc, p.load_batch_id desc
            limit 1""",
        (model_version, batch_id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def _drift_parameters(
    conn: psycopg.Connection, reference_version: str, reference_batch: int
) -> dict[str, Any]:
    from scoring.quality import suites

    stats = _prediction_stats(conn, reference_version, reference_batch)
    assert stats is not None  # the reference was chosen among models with predictions

    def around(value: float, tolerance: float) -> tuple[float, float]:
        return max(0.0, value - tolerance), min(1.0, value + tolerance)

    share = stats["candidate_planet_share"]
    share_min, share_max = around(share, suites.CANDIDATE_PLANET_SHARE_LIMIT)
    warn_min, warn_max = around(share, suites.CANDIDATE_PLANET_SHARE_TOLERANCE)
    mean_min, mean_max = around(stats["p_planet_mean"], suites.P_PLANET_MEAN_LIMIT)
    return {
        "reference_model_version": reference_version,
        "reference_load_batch_id": reference_batch,
        "candidate_planet_share_min": share_min,
        "candidate_planet_share_max": share_max,
        "candidate_planet_share_warn_min": warn_min,
        "candidate_planet_share_warn_max": warn_max,
        "p_planet_mean_min": mean_min,
        "p_planet_mean_max": mean_max,
        "p_planet_reference_histogram": stats["histogram"],
    }


def anomaly_target(
    conn: psycopg.Connection, model_version: str | None = None, batch_id: int | None = None
) -> Target:
    """An anomaly model's scores of a batch (default: the latest scored)."""
    from scoring.quality import suites

    row = conn.execute(
        """select model_version, load_batch_id from ml.koi_anomalies
            where (%(model)s::text is null or model_version = %(model)s)
              and (%(batch)s::bigint is null or load_batch_id = %(batch)s)
            order by scored_at desc limit 1""",
        {"model": model_version, "batch": batch_id},
    ).fetchone()
    if row is None:
        raise QualityError("no anomaly scores to validate in ml.koi_anomalies")
    return Target(
        "koi_anomalies",
        "anomalies",
        {"model_version": row[0], "load_batch_id": row[1]},
        {
            "flagged_share_min": max(0.0, ANOMALY_BUDGET - suites.ANOMALY_SHARE_TOLERANCE),
            "flagged_share_max": ANOMALY_BUDGET + suites.ANOMALY_SHARE_TOLERANCE,
        },
        row[1],
        row[0],
    )


def targets_for(
    conn: psycopg.Connection,
    stage: str,
    batch_id: int | None = None,
    model_version: str | None = None,
) -> tuple[list[Target], list[str]]:
    """The suites a stage runs, with their batches; and why a suite was left out."""
    if stage == "raw":
        return raw_targets(conn, batch_id), []
    if stage == "features":
        koi = features_target(conn)
        toi = toi_features_target(conn)
        if toi is None:
            return [koi], ["toi_features: no TOI batch has passed its raw checks"]
        return [koi, toi], []
    if stage == "predictions":
        return all_prediction_targets(conn, model_version, batch_id)
    if stage == "anomalies":
        return [anomaly_target(conn, model_version, batch_id)], []
    raise QualityError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
