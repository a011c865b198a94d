"""``exohunter track-record``: how a model's old scores fared once the archive resolved them.

The figures are computed once, in SQL, by the dbt marts ``marts.fct_track_record`` and
``marts.fct_track_record_reliability`` (their honesty guard: only signals the model could not
have seen resolved count). This module only reads them, so the command, the dashboards and SQL
users see the same numbers; what it adds is saying why there is nothing to show, when there is
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from scoring.errors import ExoHunterError

TOP_KS = (50, 100, 250)
SOURCE_TABLES = {"Kepler": ("koi_cumulative", "koi"), "TESS": ("toi", "toi")}


class TrackRecordError(ExoHunterError):
    """No track record can be shown (too few snapshots, nothing scored, marts not built)."""


@dataclass(frozen=True)
class Bin:
    """One bin of old P(planet) and the share of its resolved signals that were confirmed."""

    p_planet_from: float
    p_planet_to: float
    n_signals: int
    n_resolved: int
    n_confirmed: int
    mean_old_p_planet_resolved: float | None
    share_confirmed: float | None


@dataclass(frozen=True)
class Record:
    """A row of marts.fct_track_record: a model's scores of one snapshot, judged by a later one."""

    model_version: str
    mission: str
    training_snapshot_at: datetime
    scored_snapshot_at: datetime
    later_snapshot_at: datetime
    n_signals_scored: int
    n_unresolved_scored: int
    n_resolved: int
    n_resolved_planet: int
    n_resolved_false_positive: int
    n_still_unresolved: int
    n_absent: int
    roc_auc: float | None
    average_precision: float | None
    precision_among_resolved: dict[int, float | None]
    precision_unresolved_as_not_confirmed: dict[int, float | None]
    reliability: list[Bin]


def snapshots(conn: psycopg.Connection, mission: str) -> list[datetime]:
    """The distinct archive snapshot times of the mission's table that passed the raw gate."""
    source_table = SOURCE_TABLES[mission][0]
    rows = conn.execute(
        "select distinct snapshot_at from raw.load_batches"
        " where source_table = %s and status = 'loaded' order by snapshot_at",
        (source_table,),
    ).fetchall()
    return [snapshot_at for (snapshot_at,) in rows]


def _require_two_snapshots(conn: psycopg.Connection, mission: str) -> None:
    """A track record compares two snapshots of one table: say which are loaded if not."""
    loaded = snapshots(conn, mission)
    if len(loaded) >= 2:
        return
    command = SOURCE_TABLES[mission][1]
    have = (
        f"only the {loaded[0]:%Y-%m-%d} one is loaded"
        if loaded
        else "none is loaded (or none passed the raw checks)"
    )
    raise TrackRecordError(
        f"a {mission} track record needs two snapshots of the {command.upper()} table and "
        f"{have}: load another export with `exohunter ingest {command} FILE`, then "
        "`exohunter transform`"
    )


def _require_marts(conn: psycopg.Connection) -> None:
    for table in ("marts.fct_track_record", "marts.fct_track_record_reliability"):
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            raise TrackRecordError(f"{table} is not built yet: run `exohunter transform`")


def _bins(conn: psycopg.Connection, row: dict[str, Any]) -> list[Bin]:
    with conn.cursor(row_factory=class_row(Bin)) as cur:
        return cur.execute(
            "select p_planet_from, p_planet_to, n_signals, n_resolved, n_confirmed,"
            " mean_old_p_planet_resolved, share_confirmed"
            " from marts.fct_track_record_reliability"
            " where model_version = %s and scored_load_batch_id = %s"
            " and later_load_batch_id = %s order by p_planet_bin",
            (row["model_version"], row["scored_load_batch_id"], row["later_load_batch_id"]),
        ).fetchall()


def _record(conn: psycopg.Connection, row: dict[str, Any]) -> Record:
    fields = {name: row[name] for name in Record.__dataclass_fields__ if name in row}
    return Record(
        **fields,
        precision_among_resolved={k: row[f"precision_at_{k}_among_resolved"] for k in TOP_KS},
        precision_unresolved_as_not_confirmed={
            k: row[f"precision_at_{k}_unresolved_as_not_confirmed"] for k in TOP_KS
        },
        reliability=_bins(conn, row),
    )


def _nothing_to_show(mission: str, model_version: str | None) -> TrackRecordError:
    if model_version:
        return TrackRecordError(
            f"model {model_version} has no {mission} track record: it scored no {mission} "
            "snapshot that a snapshot exported after it and after its training judges"
        )
    return TrackRecordError(
        f"no model has scored a {mission} snapshot that a later loaded one judges: train and "
        "score on an export before loading a newer one (`exohunter train` and `exohunter "
        "score`), then `exohunter transform`"
    )


def load(conn: psycopg.Connection, mission: str, model_version: str | None = None) -> list[Record]:
    """The mission's track records (every model version, or one), oldest scored snapshot first,
    then by later snapshot; a TrackRecordError saying what to do when there is none."""
    _require_two_snapshots(conn, mission)
    _require_marts(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select * from marts.fct_track_record"
            " where mission = %s and (%s::text is null or model_version = %s)"
            " order by scored_snapshot_at, later_snapshot_at, model_version",
            (mission, model_version, model_version),
        ).fetchall()
    if not rows:
        raise _nothing_to_show(mission, model_version)
    return [_record(conn, row) for row in rows]
