"""Light curves in the warehouse: load (``raw``), analyse (``ml``), read back.

Loading mirrors the KOI ingest: a file is parsed completely before anything is written, then its
light curves, their points (COPY) and the upload row are written in one transaction. A light
curve is identified by the file's sha256 (and its series, for the multi-series JSON-lines
sample): loading the same file again from the command line changes nothing; uploading it again
through the web app records a new upload (with its own stellar parameters) of the same light
curve. A Kepler light curve's KIC id (from the FITS header, or named by the user) links it to
the KOIs of that star and to their stellar parameters.

An analysis runs the transit search, scores each signal (:mod:`scoring.lightcurves.model`, and
the CNN of :mod:`scoring.cnn` on the views of its fold) and the whole light curve
(:mod:`scoring.lightcurves.anomaly`), and replaces the upload's ``ml`` rows in one transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from scoring.cnn import predict as cnn
from scoring.cnn.views import FoldViews, ViewError
from scoring.lightcurves import anomaly, model, search, stars, stitch
from scoring.lightcurves.readers import LightCurve, LightCurveError, read_bytes, read_file
from scoring.ml import registry
from scoring.settings import DATA_DIR
from scoring.warehouse import writeback

LIGHTCURVE_DIR = DATA_DIR / "lightcurves"
#: The shipped files, with what their files do not say (the CSV has no header to read).
SHIPPED: dict[str, dict[str, str]] = {
    "kplr010874614-2009131105131_llc.fits": {},
    "kplr008462852-2012179063303_llc.fits": {},
    "kplr008462852-2013011073258_llc.fits": {},
    "kplr008462852-2013098041711_llc.fits": {},
    "kic8462852_tabby_normalized_flux_q0-q17.csv": {
        "star_id": "KIC 8462852",
        "time_system": "BKJD",
    },
    "kplr010002792-2009259160929_llc.fits": {},
    "kplr010002792-2010174085026_llc.fits": {},
    "ktwo211117077-c04_llc.fits": {},
    "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits": {},
    "kepler_q17_labeled_flux_sample_enosair.jsonl": {},
}
_STAR_ID = re.compile(r"^\s*(?:(kic|kplr|kepler|epic|tic)[\s_-]*)?0*(\d{1,10})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class StarInput:
    """What the user said about the star (all optional)."""

    star_id: str | None = None
    teff_k: float | None = None
    logg_cgs: float | None = None
    radius_solar: float | None = None

    def kepid(self) -> int | None:
        """The KIC id the star id names ('KIC 8462852', 'kplr008462852', '8462852')."""
        if not self.star_id:
            return None
        match = _STAR_ID.match(self.star_id)
        if match is None:
            raise LightCurveError(
                f"star id {self.star_id!r}: expected a KIC id such as 'KIC 10874614' (or EPIC/TIC)"
            )
        prefix = (match.group(1) or "kic").lower()
        return int(match.group(2)) if prefix in ("kic", "kplr", "kepler") else None


@dataclass(frozen=True)
class Loaded:
    upload_id: int | None  # None: loaded before from the command line, nothing new
    lightcurve_id: int
    new_lightcurve: bool
    lightcurve: LightCurve
    segments: tuple[stitch.Segment, ...] = ()  # the files of a stitched light curve


# -- load ---------------------------------------------------------------------------------------
def load(
    conn: psycopg.Connection,
    data: bytes,
    name: str,
    via: str,
    star: StarInput = StarInput(),
    time_system: str | None = None,
) -> list[Loaded]:
    """Parse ``data`` completely, then write its light curves and uploads in one transaction."""
    curves = read_bytes(data, name, time_system)
    star_kepid = star.kepid()
    sha256 = hashlib.sha256(data).hexdigest()
    loaded = []
    with conn.transaction():
        for curve in curves:
            lightcurve_id, new = _lightcurve_row(conn, curve, sha256, name, len(data))
            if via == "cli" and not new and _has_cli_upload(conn, lightcurve_id):
                loaded.append(Loaded(None, lightcurve_id, False, curve))
                continue
            upload_id = _insert_upload(conn, lightcurve_id, via, star, star_kepid)
            loaded.append(Loaded(upload_id, lightcurve_id, new, curve))
    return loaded


def _insert_upload(
    conn: psycopg.Connection, lightcurve_id: int, via: str, star: StarInput, star_kepid: int | None
) -> int:
    """One upload row of a stored light curve (single file or stitched); its id."""
    return conn.execute(
        """insert into raw.lightcurve_uploads (lightcurve_id, submitted_via, star_id,
               star_kepid, stellar_teff_k, stellar_logg_cgs, stellar_radius_solar)
           values (%s, %s, %s, %s, %s, %s, %s) returning upload_id""",
        (
            lightcurve_id,
            via,
            star.star_id,
            star_kepid,
            star.teff_k,
            star.logg_cgs,
            star.radius_solar,
        ),
    ).fetchone()[0]


def _has_cli_upload(conn: psycopg.Connection, lightcurve_id: int) -> bool:
    row = conn.execute(
        "select 1 from raw.lightcurve_uploads where lightcurve_id = %s and submitted_via = 'cli'",
        (lightcurve_id,),
    ).fetchone()
    return row is not None


def _lightcurve_row(
    conn: psycopg.Connection,
    curve: LightCurve,
    sha256: str,
    name: str,
    size: int,
    n_segments: int = 1,
) -> tuple[int, bool]:
    # Serialise loaders of the same file: the second finds the first's row.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (sha256 + curve.series_key,))
    row = conn.execute(
        "select lightcurve_id from raw.lightcurves where file_sha256 = %s and series_key = %s",
        (sha256, curve.series_key),
    ).fetchone()
    if row is not None:
        return int(row[0]), False
    lightcurve_id = conn.execute(
        """insert into raw.lightcurves (file_sha256, series_key, file_name, file_bytes,
               file_format, mission, target_id, kepid, section, label, time_system, flux_column,
               n_cadences, n_points, n_dropped_quality, n_dropped_nonfinite, time_start, time_end,
               time_span_days, cadence_minutes, n_segments)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   %s)
           returning lightcurve_id""",
        (
            sha256,
            curve.series_key,
            Path(name).name,
            size,
            curve.file_format,
            curve.mission,
            curve.target_id,
            curve.kepid,
            curve.section,
            curve.label,
            curve.time_system,
            curve.flux_column,
            curve.n_cadences,
            curve.n_points,
            curve.n_dropped_quality,
            curve.n_dropped_nonfinite,
            float(curve.time[0]),
            float(curve.time[-1]),
            curve.span_days,
            curve.cadence_minutes,
            n_segments,
        ),
    ).fetchone()[0]
    errors = curve.flux_err if curve.flux_err is not None else np.full(curve.n_points, np.nan)
    with conn.cursor().copy(
        "copy raw.lightcurve_points (lightcurve_id, point_index, time, flux, flux_err) from stdin"
    ) as copy:
        for i, (t, f, e) in enumerate(zip(curve.time, curve.flux, errors, strict=True)):
            copy.write_row(
                (lightcurve_id, i, float(t), float(f), None if np.isnan(e) else float(e))
            )
    return int(lightcurve_id), True


def load_stitched(
    conn: psycopg.Connection,
    stitched: stitch.Stitched,
    via: str,
    star: StarInput = StarInput(),
) -> Loaded:
    """Several files of one star as one stitched light curve and ONE upload: every file read and
    the set checked (:func:`stitch.read_segments`, before anything is written), then the light
    curve, its segments, its points and the upload in one transaction. The same set of files
    again from the command line (in any order) changes nothing."""
    star_kepid = star.kepid()
    curve = stitched.lightcurve
    with conn.transaction():
        lightcurve_id, new = _lightcurve_row(
            conn,
            curve,
            stitched.sha256,
            stitched.file_name,
            stitched.file_bytes,
            len(stitched.segments),
        )
        if new:
            with conn.cursor().copy(
                f"copy raw.lightcurve_segments ({', '.join(SEGMENT_COLUMNS)}) from stdin"
            ) as copy:
                for g in stitched.segments:
                    copy.write_row(
                        (
                            lightcurve_id,
                            g.number,
                            g.file_name,
                            g.file_sha256,
                            g.file_bytes,
                            g.file_format,
                            g.section,
                            g.flux_column,
                            g.n_cadences,
                            g.n_points,
                            g.n_dropped_quality,
                            g.n_dropped_nonfinite,
                            g.first_point,
                            g.time_start,
                            g.time_end,
                            g.median_flux,
                        )
                    )
        if via == "cli" and not new and _has_cli_upload(conn, lightcurve_id):
            return Loaded(None, lightcurve_id, False, curve, stitched.segments)
        upload_id = _insert_upload(conn, lightcurve_id, via, star, star_kepid)
    return Loaded(upload_id, lightcurve_id, new, curve, stitched.segments)


SEGMENT_COLUMNS = (
    "lightcurve_id",
    "segment_number",
    "file_name",
    "file_sha256",
    "file_bytes",
    "file_format",
    "section",
    "flux_column",
    "n_cadences",
    "n_points",
    "n_dropped_quality",
    "n_dropped_nonfinite",
    "first_point_index",
    "time_start",
    "time_end",
    "median_flux",
)


def load_and_analyse_stitched(
    conn: psycopg.Connection,
    stitched: stitch.Stitched,
    via: str,
    star: StarInput = StarInput(),
) -> tuple[Loaded, Analysis | None]:
    """Load and analyse a stitched set in one transaction (a search error leaves nothing)."""
    with conn.transaction():
        item = load_stitched(conn, stitched, via, star)
        return item, None if item.upload_id is None else analyse(conn, item.upload_id)


def load_and_analyse(
    conn: psycopg.Connection,
    data: bytes,
    name: str,
    via: str,
    star: StarInput = StarInput(),
    time_system: str | None = None,
) -> list[tuple[Loaded, Analysis | None]]:
    """Load and analyse in one transaction: a file that parses but cannot be searched (a
    :class:`transit_search.SearchError`) leaves nothing behind either. Light curves loaded
    before from the command line are not analysed again (None)."""
    with conn.transaction():
        return [
            (item, None if item.upload_id is None else analyse(conn, item.upload_id))
            for item in load(conn, data, name, via, star, time_system)
        ]


def load_shipped(conn: psycopg.Connection) -> list[Loaded]:
    loaded = []
    for name, extra in SHIPPED.items():
        path = LIGHTCURVE_DIR / name
        star = StarInput(star_id=extra.get("star_id"))
        data = read_file(path)
        loaded += load(conn, data, name, "cli", star, extra.get("time_system"))
    return loaded


# -- analyse ------------------------------------------------------------------------------------
@dataclass
class Analysis:
    upload_id: int
    search: search.SearchResult
    star: model.Star
    assessments: list[model.Assessment]
    anomaly: anomaly.AnomalyScore
    model_version: str | None
    cnn_version: str | None
    cnn_scores: list[CnnScore]  # one per signal


NO_CNN = "no CNN trained (exohunter cnn train)"


@dataclass(frozen=True)
class CnnScore:
    """The CNN's score of one signal and the views it saw; None when there is no CNN or no view
    could be made of the fold (``note`` says which)."""

    p_pc: float | None = None
    likely_pc: bool | None = None
    views: FoldViews | None = None
    note: str | None = None


def cnn_scores(model_: cnn.Model | None, found: search.SearchResult) -> list[CnnScore]:
    """Every signal scored by the CNN on the detrended light curve the search folded."""
    if model_ is None:
        return [CnnScore(note=NO_CNN) for _ in found.signals]
    scores = []
    for s in found.signals:
        try:
            score = cnn.score_signal(
                model_, found.time, found.detrended, s.period_days, s.epoch, s.duration_hours / 24
            )
        except ViewError as exc:  # e.g. a fold with too few points outside the transit
            scores.append(CnnScore(note=f"no views: {exc}"))
            continue
        scores.append(CnnScore(score.p_pc, score.likely_pc, score.views))
    return scores


def points(conn: psycopg.Connection, lightcurve_id: int):
    rows = conn.execute(
        """select time, flux, coalesce(flux_err, 'NaN'::float8) from raw.lightcurve_points
           where lightcurve_id = %s order by point_index""",
        (lightcurve_id,),
    ).fetchall()
    values = np.array(rows, dtype=float).reshape(-1, 3)
    return values[:, 0], values[:, 1], values[:, 2]


def upload(conn: psycopg.Connection, upload_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            """select u.*, l.file_name, l.file_format, l.mission, l.target_id,
                      coalesce(u.star_kepid, l.kepid) as kepid, l.section, l.label,
                      l.time_system, l.flux_column, l.n_cadences, l.n_points, l.n_dropped_quality,
                      l.n_dropped_nonfinite, l.time_start, l.time_end, l.time_span_days,
                      l.cadence_minutes, l.file_sha256, l.n_segments
               from raw.lightcurve_uploads u join raw.lightcurves l using (lightcurve_id)
               where u.upload_id = %s""",
            (upload_id,),
        ).fetchone()


def kois_of(conn: psycopg.Connection, kepid: int | None) -> list[dict[str, Any]]:
    """The KOIs of a star in the feature mart (empty when it is not built yet)."""
    if (
        kepid is None
        or conn.execute("select to_regclass('marts.fct_koi_features')").fetchone()[0] is None
    ):
        return []
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            """select kepoi_name, label_disposition, orbital_period_days, transit_depth_ppm,
                      transit_duration_hours, stellar_teff_k, stellar_logg_cgs,
                      stellar_radius_solar
               from marts.fct_koi_features where kepid = %s order by kepoi_name""",
            (kepid,),
        ).fetchall()


def star_for(row: dict[str, Any], kois: list[dict[str, Any]]) -> model.Star:
    """The user's stellar parameters if given, else the KOI table's, else none."""
    user = (row["stellar_teff_k"], row["stellar_logg_cgs"], row["stellar_radius_solar"])
    if any(v is not None for v in user):
        return model.Star(*user, source="user")
    if kois:
        k = kois[0]
        values = (k["stellar_teff_k"], k["stellar_logg_cgs"], k["stellar_radius_solar"])
        if any(v is not None for v in values):
            return model.Star(*values, source="koi_table")
    return model.Star()


def analyse(
    conn: psycopg.Connection,
    upload_id: int,
    config: search.SearchConfig = search.DEFAULT_CONFIG,
) -> Analysis:
    row = upload(conn, upload_id)
    if row is None:
        raise LightCurveError(f"no upload {upload_id}")
    time_, flux, flux_err = points(conn, row["lightcurve_id"])
    found = search.search(time_, flux, flux_err, config)
    star = stars.star_for(conn, row, star_for(row, kois_of(conn, row["kepid"])))
    version, artifact = model.champion_artifact(conn)
    assessments = [model.assess(artifact, s, star) for s in found.signals]
    cnn_version, cnn_model = cnn.champion(conn)
    analysis = Analysis(
        upload_id,
        found,
        star,
        assessments,
        anomaly.score(found),
        version,
        cnn_version,
        cnn_scores(cnn_model, found),
    )
    _store(conn, row["lightcurve_id"], analysis)
    return analysis


def _store(conn: psycopg.Connection, lightcurve_id: int, a: Analysis) -> None:
    probabilities = [x.p_planet for x in a.assessments if x.p_planet is not None]
    components = a.anomaly.components
    analysis_row = (
        a.upload_id,
        lightcurve_id,
        a.search.version,
        a.model_version,
        a.search.mode,
        a.search.n_periods,
        a.search.timings["total_s"],
        a.search.stopped_by,
        a.star.source,
        a.star.teff_k,
        a.star.logg_cgs,
        a.star.radius_solar,
        len(a.search.detections),
        sum(x.likely_planet for x in a.assessments),
        max(probabilities, default=None),
        a.anomaly.score,
        components["dip_depth"],
        components["dip_count"],
        components["dip_asymmetry"],
        components["dip_depth_variation"],
        len(a.anomaly.dips),
        a.anomaly.reasons,
        datetime.now(UTC),
        a.cnn_version,
    )
    signal_rows = [
        (
            a.upload_id,
            s.number,
            s.period_days,
            s.epoch,
            s.duration_hours,
            s.depth_ppm,
            s.depth_err_ppm,
            s.snr,
            s.sde,
            s.fap,
            s.n_transits,
            _finite(s.odd_depth_ppm),
            _finite(s.even_depth_ppm),
            s.odd_even_sigma,
            s.secondary_depth_ppm,
            s.secondary_snr,
            s.half_period_depth_ppm,
            s.sinusoid_preferred,
            s.period_check,
            s.significant,
            x.p_planet,
            x.variant,
            x.likely_planet,
            x.reasons,
            x.flags,
            *_cnn_columns(a.cnn_version, c),
        )
        for s, x, c in zip(a.search.signals, a.assessments, a.cnn_scores, strict=True)
    ]
    with conn.transaction():
        writeback.replace_rows(
            conn,
            "ml.lightcurve_analyses",
            {"upload_id": a.upload_id},
            ANALYSIS_COLUMNS,
            [analysis_row],
        )
        writeback.replace_rows(
            conn, "ml.lightcurve_signals", {"upload_id": a.upload_id}, SIGNAL_COLUMNS, signal_rows
        )


def _cnn_columns(version: str | None, c: CnnScore) -> tuple[Any, ...]:
    if c.views is None:
        return (version, c.p_pc, c.likely_pc, None, None, None, None, c.note)
    v = c.views
    shown = [x.tolist() for x in (v.global_view, v.local_view, v.secondary_view)]
    return (version, c.p_pc, c.likely_pc, *shown, v.secondary_phase, c.note)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


ANALYSIS_COLUMNS = (
    "upload_id",
    "lightcurve_id",
    "search_version",
    "model_version",
    "search_mode",
    "trial_periods",
    "search_seconds",
    "stopped_by",
    "stellar_source",
    "stellar_teff_k",
    "stellar_logg_cgs",
    "stellar_radius_solar",
    "n_signals",
    "n_likely_planets",
    "best_p_planet",
    "anomaly_score",
    "anomaly_dip_depth",
    "anomaly_dip_count",
    "anomaly_dip_asymmetry",
    "anomaly_dip_depth_variation",
    "n_dips",
    "anomaly_reasons",
    "analysed_at",
    "cnn_model_version",
)
CNN_COLUMNS = (
    "cnn_model_version",
    "cnn_p_pc",
    "cnn_likely_pc",
    "cnn_global_view",
    "cnn_local_view",
    "cnn_secondary_view",
    "cnn_secondary_days",
    "cnn_note",
)
SIGNAL_COLUMNS = (
    "upload_id",
    "signal_number",
    "period_days",
    "epoch",
    "duration_hours",
    "depth_ppm",
    "depth_err_ppm",
    "snr",
    "sde",
    "fap",
    "n_transits",
    "odd_depth_ppm",
    "even_depth_ppm",
    "odd_even_sigma",
    "secondary_depth_ppm",
    "secondary_snr",
    "half_period_depth_ppm",
    "sinusoid_preferred",
    "period_check",
    "significant",
    "p_planet",
    "model_variant",
    "likely_planet",
    "reasons",
    "flags",
    *CNN_COLUMNS,
)


def every_upload(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("select upload_id from raw.lightcurve_uploads order by 1")]


def pending(conn: psycopg.Connection) -> list[int]:
    """Uploads never analysed, or analysed by another search configuration, light-curve
    classifier or CNN."""
    version, _ = model.champion_artifact(conn)
    cnn_version = registry.champion(conn, registry.LIGHTCURVE_CNN)
    rows = conn.execute(
        """select u.upload_id from raw.lightcurve_uploads u
           left join ml.lightcurve_analyses a using (upload_id)
           where a.upload_id is null or a.search_version <> %s
              or a.model_version is distinct from %s
              or a.cnn_model_version is distinct from %s
           order by u.upload_id""",
        (search.DEFAULT_CONFIG.version(), version, cnn_version),
    ).fetchall()
    return [r[0] for r in rows]


# -- read back ----------------------------------------------------------------------------------
def result(conn: psycopg.Connection, upload_id: int) -> dict[str, Any] | None:
    """Everything stored about an upload, for the API and the result page."""
    row = upload(conn, upload_id)
    if row is None:
        return None
    with conn.cursor(row_factory=dict_row) as cursor:
        analysis = cursor.execute(
            "select * from ml.lightcurve_analyses where upload_id = %s", (upload_id,)
        ).fetchone()
        signals = cursor.execute(
            "select * from ml.lightcurve_signals where upload_id = %s order by signal_number",
            (upload_id,),
        ).fetchall()
    return {
        "upload": row,
        "segments": segments(conn, row["lightcurve_id"]),
        "kois": kois_of(conn, row["kepid"]),
        "analysis": analysis,
        "signals": signals,
        "cnn": cnn_context(row, analysis),
    }


#: The CNN's training data (docs/cnn.md): TESS Quick-Look Pipeline light curves of full-frame
#: images, at their 30-minute cadence. A shorter cadence is another pipeline (SPOC, 2 minutes).
CNN_MISSION = "TESS"
CNN_MIN_CADENCE_MINUTES = 10.0
CNN_TRAINED_ON = (
    "TESS Quick-Look Pipeline light curves of 30-minute full-frame images (Yu et al. 2019)"
)
#: Why the CNN's score is shown, not used: the light-curve benchmark's figures (docs/cnn.md).
CNN_NOT_IN_VERDICT = (
    "Not used in the verdict: on the public light-curve benchmark it removed no false planet and "
    "would have dropped a real one"
)


def cnn_context(row: dict[str, Any], analysis: dict[str, Any] | None) -> dict[str, Any]:
    """Which CNN scored the upload's signals, and whether the light curve is of the kind it
    was trained on (a Kepler upload is not: its scores are an extrapolation)."""
    version = analysis["cnn_model_version"] if analysis else None
    in_domain = row["mission"] == CNN_MISSION and row["cadence_minutes"] >= CNN_MIN_CADENCE_MINUTES
    if version is None:
        domain = NO_CNN
    elif in_domain:
        domain = (
            f"A TESS full-frame-image cadence, as in the CNN's training data: {CNN_TRAINED_ON}."
        )
    else:
        kind = (
            row["mission"]
            if row["mission"] != CNN_MISSION
            else f"{row['cadence_minutes']:.0f}-minute TESS"  # SPOC 2 minutes, later FFIs 200 s
        )
        domain = (
            f"Out of the CNN's training domain: it was trained on {CNN_TRAINED_ON}; on this "
            f"{kind} light curve its score is an extrapolation."
        )
    return {
        "model_version": version,
        "in_training_domain": in_domain,
        "domain_note": domain,
        "used_in_verdict": False,
        "verdict_note": CNN_NOT_IN_VERDICT,
    }


def segments(conn: psycopg.Connection, lightcurve_id: int) -> list[dict[str, Any]]:
    """The files of a stitched light curve in time order (empty for a single file)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            f"""select {", ".join(SEGMENT_COLUMNS[1:])} from raw.lightcurve_segments
                where lightcurve_id = %s order by segment_number""",
            (lightcurve_id,),
        ).fetchall()


def recent_uploads(conn: psycopg.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The latest uploads with their verdicts, newest first, for the upload page."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            """select u.upload_id, u.uploaded_at, u.submitted_via,
                      coalesce(l.target_id, u.star_id) as target, l.file_name, l.mission,
                      l.section, l.n_segments, l.time_span_days, a.upload_id is not null
                      as is_analysed, a.n_likely_planets, a.best_p_planet, a.anomaly_score,
                      (select s.period_days from ml.lightcurve_signals s
                       where s.upload_id = u.upload_id
                       order by s.significant desc, s.p_planet desc nulls last, s.signal_number
                       limit 1) as best_period_days
               from raw.lightcurve_uploads u
               join raw.lightcurves l using (lightcurve_id)
               left join ml.lightcurve_analyses a using (upload_id)
               order by u.upload_id desc limit %s""",
            (limit,),
        ).fetchall()


def anomaly_ranking(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every analysed light curve by anomaly score (one row per light curve: its latest upload)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            """select distinct on (l.lightcurve_id) l.lightcurve_id, a.upload_id, l.file_name,
                      l.series_key, coalesce(u.star_kepid, l.kepid) as kepid,
                      coalesce(l.target_id, u.star_id) as target, a.anomaly_score, a.anomaly_reasons
               from ml.lightcurve_analyses a
               join raw.lightcurve_uploads u using (upload_id)
               join raw.lightcurves l on l.lightcurve_id = a.lightcurve_id
               order by l.lightcurve_id, a.upload_id desc"""
        ).fetchall()


def star_margin(ranking: list[dict[str, Any]]) -> tuple[str | None, float]:
    """The most anomalous star (its best light curve) and its lead over the next star."""
    best: dict[str, float] = {}
    for row in ranking:
        star = row["target"] or f"light curve {row['lightcurve_id']}"
        best[star] = max(best.get(star, 0.0), row["anomaly_score"])
    ordered = sorted(best.items(), key=lambda item: -item[1])
    if not ordered:
        return None, 0.0
    second = ordered[1][1] if len(ordered) > 1 else 0.0
    return ordered[0][0], ordered[0][1] - second
