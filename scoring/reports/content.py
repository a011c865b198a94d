"""What a discovery report says about one KOI or TOI, read from the warehouse.

Everything comes from what the pipeline stored and the dashboards show. For a KOI: the marts
over the champion classifier's scores (``fct_koi_predictions``, ``fct_koi_explanations``), the
anomaly leaderboard (``fct_anomalies``), the data-quality results (``fct_data_quality``), the
feature mart for the star, the signal and the known population, the model's out-of-fold
calibration curve (``ml.model_curves``) and, when its star has one, a light curve
(``raw.lightcurves``). For a TOI: the TOI champion's rows of the latest batch it scored
(``ml.toi_predictions``) joined with ``fct_toi_features`` and ``dim_tess_star``, the same
calibration curve, figures and data-quality results; a TOI has no stored explanation, anomaly
score or light curve, and its report says so (:mod:`scoring.reports.missions`). Nothing is
recomputed from a model artifact, so a report agrees with the API and the dashboards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from scoring.errors import ExoHunterError
from scoring.lightcurves import search, store
from scoring.ml import registry
from scoring.reports.missions import KEPLER, TESS, Mission

TOP_REASONS = 8  # bars in the reasons chart: enough to see what drives the score
LIGHTCURVE_MISSIONS = ("Kepler",)  # the KOI ephemeris is in BKJD: only Kepler data folds on it


class ReportError(ExoHunterError):
    """A report cannot be made; the message says why and what to do."""


class UnknownName(ReportError):
    """The KOI or TOI is not among the champion's scored ones of the latest batch."""


class UnknownKoi(UnknownName):
    """The KOI is not in the warehouse's latest batch."""


class UnknownToi(UnknownName):
    """The TOI is not in the latest TOI batch the TOI champion scored."""


class NotScored(ReportError):
    """No model of the mission has scored a batch yet: nothing to report or serve."""


@dataclass(frozen=True)
class Reason:
    label: str
    unit: str | None
    value: float | None
    contribution: float  # TreeSHAP, P(planet) log-odds


@dataclass(frozen=True)
class Calibration:
    """The out-of-fold reliability bin nearest the KOI's score."""

    mean_predicted: float
    observed_confirmed: float
    n: int


@dataclass(frozen=True)
class QualityRun:
    suite: str
    stage: str
    status: str  # passed / warnings / failed
    n_expectations: int
    n_critical_failed: int
    n_warnings: int
    warnings: tuple[str, ...]


@dataclass
class LightCurveView:
    lightcurve_id: int
    file_name: str
    mission: str
    section: str | None
    time_system: str
    n_points: int
    time: np.ndarray
    flux: np.ndarray  # normalised to its median
    detrended: np.ndarray  # wotan biweight, as the transit search detrends
    search: dict[str, Any] | None  # the stored analysis' strongest signal (None: not analysed)


@dataclass
class Report:
    row: dict[str, Any]  # the prediction joined with the feature mart's row
    reasons: list[Reason]
    metrics: dict[str, float]  # the champion's out-of-fold P(planet) figures
    calibration: Calibration | None
    n_candidates: int  # the ranked ones: CANDIDATE KOIs, PC TOIs
    anomaly: dict[str, Any] | None
    n_anomaly_scored: int
    quality: list[QualityRun]
    population: dict[str, np.ndarray] = field(repr=False)  # label: missions.PLANET, ...
    lightcurve: LightCurveView | None = field(default=None, repr=False)
    mission: Mission = KEPLER

    @property
    def name(self) -> str:
        """As the report and its file are named: K00752.01, TOI-1234.01."""
        if self.mission is TESS:
            return f"TOI-{self.row['toi']}"
        return str(self.row["kepoi_name"])


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query, params).fetchall()


def _require_marts(conn: psycopg.Connection) -> None:
    for table in ("marts.fct_koi_predictions", "marts.fct_koi_features"):
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            raise ReportError(f"{table} does not exist yet: run `exohunter run` first")
    if conn.execute("select 1 from marts.fct_koi_predictions limit 1").fetchone() is None:
        raise ReportError("the champion has not scored the latest batch: run `exohunter run`")


def _known_or_fail(
    names: list[str],
    key: Callable[[str], str | None],
    known: dict[str, str],
    unknown: Callable[[str], UnknownName],
) -> list[str]:
    """``names`` as the warehouse spells them (``known``: key -> name), in the given order; one
    error naming every unknown one (``unknown`` of their quoted list), before any report."""
    missing = [n for n in names if key(n) not in known]
    if missing:
        raise unknown(", ".join(repr(n) for n in missing))
    return [known[str(key(n))] for n in names]


def _koi_key(name: str) -> str:
    return name.strip().upper()


def resolve(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """The KOIs as the warehouse spells them, in the given order; one error naming every
    unknown one, before any report is made."""
    _require_marts(conn)
    rows = conn.execute(
        "select kepoi_name from marts.fct_koi_predictions where upper(kepoi_name) = any(%s)",
        ([_koi_key(n) for n in names],),
    ).fetchall()
    return _known_or_fail(
        names,
        _koi_key,
        {r[0].upper(): r[0] for r in rows},
        lambda quoted: UnknownKoi(
            f"unknown KOI {quoted}: not among the champion's scored KOIs of the latest batch "
            "(names look like K00752.01)"
        ),
    )


def top_candidates(conn: psycopg.Connection, n: int) -> list[str]:
    """The ``n`` CANDIDATE KOIs the champion ranks most likely to be planets."""
    _require_marts(conn)
    rows = conn.execute(
        """select kepoi_name from marts.fct_koi_predictions where candidate_rank is not null
           order by candidate_rank limit %s""",
        (n,),
    ).fetchall()
    return [r[0] for r in rows]


def _koi(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    rows = _rows(
        conn,
        """select f.*, p.kepler_name, p.p_planet, p.p_confirmed, p.p_candidate,
                  p.p_false_positive, p.predicted_class, p.candidate_rank, p.model_version,
                  p.model_algorithm, p.scored_at
           from marts.fct_koi_predictions as p
           join marts.fct_koi_features as f using (kepoi_name, load_batch_id)
           where p.kepoi_name = %s""",
        (name,),
    )
    if not rows:
        raise UnknownKoi(f"unknown KOI {name!r}: not among the champion's scored KOIs")
    return rows[0]


def _reasons(conn: psycopg.Connection, koi: dict[str, Any]) -> list[Reason]:
    rows = conn.execute(
        """select feature_label, feature_unit, feature_value, contribution
           from marts.fct_koi_explanations
           where kepoi_name = %s and model_version = %s and load_batch_id = %s
           order by contribution_rank limit %s""",
        (koi["kepoi_name"], koi["model_version"], koi["load_batch_id"], TOP_REASONS),
    ).fetchall()
    return [Reason(*row) for row in rows]


def _metrics(conn: psycopg.Connection, version: str) -> dict[str, float]:
    rows = conn.execute(
        """select metric, value from ml.model_metrics
           where model_version = %s and task = 'p_planet' and estimator = 'xgboost'
             and class_label = '' and honest""",
        (version,),
    ).fetchall()
    return dict(rows)


def _calibration(conn: psycopg.Connection, version: str, p: float) -> Calibration | None:
    row = conn.execute(
        """select x, y, n from ml.model_curves
           where model_version = %s and task = 'p_planet' and estimator = 'xgboost'
             and curve = 'calibration'
           order by abs(x - %s) limit 1""",
        (version, p),
    ).fetchone()
    return None if row is None else Calibration(float(row[0]), float(row[1]), int(row[2] or 0))


def _anomaly(conn: psycopg.Connection, name: str) -> tuple[dict[str, Any] | None, int]:
    if conn.execute("select to_regclass('marts.fct_anomalies')").fetchone()[0] is None:
        return None, 0
    total = conn.execute("select count(*) from marts.fct_anomalies").fetchone()[0]
    rows = _rows(
        conn,
        """select anomaly_rank, is_anomaly, is_bayes_outlier, anomaly_kind, anomaly_reasons,
                  ensemble_score, p_outlier, p_outlier_low, p_outlier_high, model_version
           from marts.fct_anomalies where kepoi_name = %s""",
        (name,),
    )
    return (rows[0] if rows else None), int(total)


def _quality(conn: psycopg.Connection, batch: int) -> list[QualityRun]:
    """The latest run of each suite on the KOI's load batch."""
    if conn.execute("select to_regclass('marts.fct_data_quality')").fetchone()[0] is None:
        return []
    rows = _rows(
        conn,
        """with latest as (
               select distinct on (suite_name) validation_run_id
               from marts.fct_data_quality where load_batch_id = %s
               order by suite_name, started_at desc, validation_run_id desc)
           select suite_name, pipeline_stage, run_status, run_n_expectations,
                  run_n_critical_failed, run_n_warnings,
                  array_remove(array_agg(case when result_status <> 'passed'
                                              then expectation_key end
                                         order by expectation_key), null) as not_passed
           from marts.fct_data_quality join latest using (validation_run_id)
           group by 1, 2, 3, 4, 5, 6
           order by array_position(array['raw', 'features', 'predictions', 'anomalies'],
                                   pipeline_stage), suite_name""",
        (batch,),
    )
    return [
        QualityRun(
            r["suite_name"],
            r["pipeline_stage"],
            r["run_status"],
            r["run_n_expectations"],
            r["run_n_critical_failed"],
            r["run_n_warnings"],
            tuple(r["not_passed"]),
        )
        for r in rows
    ]


def _population(
    conn: psycopg.Connection, batch: int, mission: Mission = KEPLER
) -> dict[str, np.ndarray]:
    """Period and radius of every signal of the batch, labelled by its disposition's group."""
    query = sql.SQL(
        """select label_disposition, orbital_period_days, planet_radius_earth
           from {}
           where load_batch_id = %s and orbital_period_days > 0 and planet_radius_earth > 0"""
    ).format(sql.SQL(mission.feature_table))
    rows = conn.execute(query, (batch,)).fetchall()
    labels = np.array([mission.disposition(r[0]).group for r in rows], dtype=object)
    values = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 2)
    return {"label": labels, "period": values[:, 0], "radius": values[:, 1]}


def _lightcurve(conn: psycopg.Connection, kepid: int | None) -> LightCurveView | None:
    """The star's longest Kepler light curve in the warehouse, normalised and detrended."""
    if kepid is None:
        return None
    rows = _rows(
        conn,
        """select lightcurve_id, file_name, mission, section, time_system, n_points
           from raw.lightcurves where kepid = %s and mission = any(%s)
           order by time_span_days desc, lightcurve_id limit 1""",
        (kepid, list(LIGHTCURVE_MISSIONS)),
    )
    if not rows:
        return None
    row = rows[0]
    time_, flux, _ = store.points(conn, row["lightcurve_id"])
    flux = flux / np.nanmedian(flux)
    detrended, _ = search.detrend(time_, flux, search.DEFAULT_CONFIG)
    return LightCurveView(
        **row,
        time=time_,
        flux=flux,
        detrended=detrended,
        search=_search(conn, row["lightcurve_id"]),
    )


def _search(conn: psycopg.Connection, lightcurve_id: int) -> dict[str, Any] | None:
    """The strongest signal of the light curve's latest analysis; an analysis without a
    signal gives a row of nulls (found nothing), no analysis gives None."""
    rows = _rows(
        conn,
        """select s.period_days, s.depth_ppm, s.snr, s.n_transits, s.p_planet, s.likely_planet,
                  s.flags
           from ml.lightcurve_analyses as a
           left join ml.lightcurve_signals as s
               on s.upload_id = a.upload_id and s.signal_number = 1
           where a.lightcurve_id = %s
           order by a.upload_id desc limit 1""",
        (lightcurve_id,),
    )
    return rows[0] if rows else None


def load(conn: psycopg.Connection, name: str) -> Report:
    """Everything one report shows; :class:`UnknownKoi` for a KOI the champion did not score."""
    _require_marts(conn)
    koi = _koi(conn, name)
    version, batch = koi["model_version"], koi["load_batch_id"]
    anomaly, n_scored = _anomaly(conn, name)
    n_candidates = conn.execute(
        "select count(*) from marts.fct_koi_predictions where candidate_rank is not null"
    ).fetchone()[0]
    return Report(
        row=koi,
        reasons=_reasons(conn, koi),
        metrics=_metrics(conn, version),
        calibration=_calibration(conn, version, float(koi["p_planet"])),
        n_candidates=int(n_candidates),
        anomaly=anomaly,
        n_anomaly_scored=n_scored,
        quality=_quality(conn, batch),
        population=_population(conn, batch),
        lightcurve=_lightcurve(conn, koi["kepid"]),
    )


# -- TOIs ---------------------------------------------------------------------------------------
#: A TOI as the archive writes it (1234.01), or with its prefix (TOI-1234.01, toi 1234.01).
TOI_NAME = re.compile(r"(?:TOI[-\s]?)?(\d{1,6}\.\d{2})", re.IGNORECASE)


def toi_key(name: str) -> str | None:
    """The TOI as the archive writes it (``1234.01``), or None for a name that is not one."""
    match = TOI_NAME.fullmatch(name.strip())
    return match.group(1) if match else None


def _require_toi_marts(conn: psycopg.Connection) -> None:
    for table in ("marts.fct_toi_features", "marts.dim_tess_star"):
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            raise ReportError(f"{table} does not exist yet: run `exohunter run` first")


def toi_scores(conn: psycopg.Connection) -> tuple[str, int]:
    """The TOI champion and the latest TOI batch it scored (as the KOI endpoints read the KOI
    champion's), once the TOI marts exist; :class:`NotScored` while there is none."""
    version = registry.champion(conn, registry.TOI_CLASSIFIER)
    if version is None:
        raise NotScored(
            "no TOI model has scored yet: run `exohunter train --mission tess` and "
            "`exohunter score --mission tess` (or `exohunter run`)"
        )
    batch = conn.execute(
        "select max(load_batch_id) from ml.toi_predictions where model_version = %s", (version,)
    ).fetchone()[0]
    if batch is None:
        raise NotScored(
            f"the TOI champion {version} has not scored any TOI batch: run "
            "`exohunter score --mission tess`"
        )
    _require_toi_marts(conn)
    return version, int(batch)


def resolve_tois(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """The TOIs as the archive writes them (1234.01), in the given order; one error naming
    every unknown one, before any report is made."""
    version, batch = toi_scores(conn)
    rows = conn.execute(
        """select toi from ml.toi_predictions
           where model_version = %s and load_batch_id = %s and toi = any(%s)""",
        (version, batch, [k for n in names if (k := toi_key(n))]),
    ).fetchall()
    return _known_or_fail(
        names,
        toi_key,
        {r[0]: r[0] for r in rows},
        lambda quoted: UnknownToi(
            f"unknown TOI {quoted}: not among the TOI champion's scored TOIs of the latest "
            "batch (names look like 1234.01 or TOI-1234.01)"
        ),
    )


def top_tois(conn: psycopg.Connection, n: int) -> list[str]:
    """The ``n`` PC TOIs the TOI champion ranks most likely to be planets."""
    rows = conn.execute(
        """select toi from ml.toi_predictions
           where model_version = %s and load_batch_id = %s and candidate_rank is not null
           order by candidate_rank limit %s""",
        (*toi_scores(conn), n),
    ).fetchall()
    return [r[0] for r in rows]


def toi_row(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    """The TOI champion's prediction of one TOI of its latest batch, with the TOI's features and
    its star (``dim_tess_star``): what ``GET /tois/{toi}`` returns and the report shows."""
    version, batch = toi_scores(conn)
    key = toi_key(name)
    rows = _rows(
        conn,
        """select f.*, s.ra_deg, s.dec_deg,
                  p.toi, p.tic_id, p.model_version, p.load_batch_id, p.p_planet,
                  p.planet_log_odds, p.candidate_rank, p.scored_at,
                  r.algorithm as model_algorithm, f.toi is not null as in_feature_mart
           from ml.toi_predictions as p
           join ml.model_registry as r using (model_version)
           left join marts.fct_toi_features as f
               on f.toi = p.toi and f.load_batch_id = p.load_batch_id
           left join marts.dim_tess_star as s
               on s.tic_id = p.tic_id and s.load_batch_id = p.load_batch_id
           where p.model_version = %s and p.load_batch_id = %s and p.toi = %s""",
        (version, batch, key),
    )
    if not rows:
        raise UnknownToi(
            f"unknown TOI {name!r}: not among the TOI champion's scored TOIs of the latest batch "
            f"({batch}; names look like 1234.01 or TOI-1234.01)"
        )
    row = rows[0]
    if not row.pop("in_feature_mart"):
        raise ReportError(
            f"marts.fct_toi_features no longer holds TOI batch {batch}, the one the TOI champion "
            "scored: run `exohunter score --mission tess`"
        )
    return row


def load_toi(conn: psycopg.Connection, name: str) -> Report:
    """Everything a TOI's report shows; :class:`UnknownToi` for a TOI the champion did not
    score. No reasons, anomaly or light curve: none is stored for TOIs (the report says so)."""
    toi = toi_row(conn, name)
    version, batch = toi["model_version"], toi["load_batch_id"]
    n_candidates = conn.execute(
        """select count(candidate_rank) from ml.toi_predictions
           where model_version = %s and load_batch_id = %s""",
        (version, batch),
    ).fetchone()[0]
    return Report(
        row=toi,
        reasons=[],
        metrics=_metrics(conn, version),
        calibration=_calibration(conn, version, float(toi["p_planet"])),
        n_candidates=int(n_candidates),
        anomaly=None,
        n_anomaly_scored=0,
        quality=_quality(conn, batch),
        population=_population(conn, batch, TESS),
        mission=TESS,
    )


@dataclass(frozen=True)
class Reader:
    """How `exohunter report --mission` finds and reads one mission's reports."""

    mission: Mission
    resolve: Callable[[psycopg.Connection, list[str]], list[str]]
    top: Callable[[psycopg.Connection, int], list[str]]
    load: Callable[[psycopg.Connection, str], Report]


READERS = {
    KEPLER.key: Reader(KEPLER, resolve, top_candidates, load),
    TESS.key: Reader(TESS, resolve_tois, top_tois, load_toi),
}
