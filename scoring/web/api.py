"""The scoring API: ExoHunter's predictions over HTTP, and live scoring of new signals.

The routes only read the warehouse (``ml`` and ``marts``, through one read-only connection per
request, :mod:`scoring.web.state`) and score posted signals with the champion artifact, loaded
once per model version. The request and response models are :mod:`scoring.web.schemas`; errors
are answered once for the whole app (:mod:`scoring.web.http_errors`): a database that is down is
a 503 with the reason, never a traceback; a bad request is a 422 that names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import pandas as pd
import psycopg
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from psycopg.rows import dict_row

from scoring.classifier import predict
from scoring.errors import ExoHunterError
from scoring.ml import registry
from scoring.reports import content, pdf
from scoring.warehouse import server
from scoring.web import http_errors, schemas, state

MAX_BATCH = 1000  # signals per POST /score: bounds the memory and time of one request
MAX_BODY_BYTES = 4 * 1024 * 1024  # ~3x a full batch of archive rows; larger is a 413
TOP_CONTRIBUTIONS = 5  # explanation size of POST /score
HEADLINE_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "recall_at_precision_0.90",
    "recall_at_precision_0.95",
    "recall_at_precision_0.99",
)


class NotReady(ExoHunterError):
    """The warehouse answers but holds nothing to serve yet (no champion, nothing scored)."""


# -- warehouse reads ---------------------------------------------------------------------------
def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    # dict rows per cursor: the registry helpers shared with the CLI expect tuple rows.
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(query, params).fetchall()


def _one(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any] | None:
    rows = _rows(conn, query, params)
    return rows[0] if rows else None


def _champion(conn: psycopg.Connection) -> str:
    version = registry.champion(conn, registry.KOI_CLASSIFIER)
    if version is None:
        raise NotReady("no champion model yet: run `exohunter train` (or `exohunter run`)")
    return version


def _latest_batch(conn: psycopg.Connection, version: str) -> int | None:
    row = _one(
        conn,
        "select max(load_batch_id) as batch from ml.koi_predictions where model_version = %s",
        (version,),
    )
    return None if row is None or row["batch"] is None else int(row["batch"])


def _scored_batch(conn: psycopg.Connection, version: str) -> int:
    batch = _latest_batch(conn, version)
    if batch is None:
        raise NotReady(f"the champion {version} has not scored any batch: run `exohunter score`")
    return batch


# -- endpoint helpers --------------------------------------------------------------------------
def _health(conn: psycopg.Connection) -> schemas.Health:
    version = _one(conn, "show server_version")["server_version"]
    if _one(conn, "select to_regclass('ml.koi_predictions') as t")["t"] is None:
        return schemas.Health(
            status="no_model",
            database="up",
            server_version=version,
            detail="the warehouse has no ml schema yet: run `exohunter run`",
        )
    champion = registry.champion(conn, registry.KOI_CLASSIFIER)
    batch = None if champion is None else _latest_batch(conn, champion)
    return schemas.Health(
        status="ok" if batch is not None else "no_model",
        database="up",
        server_version=version,
        champion=champion,
        scored_batch=batch,
        detail=None if batch is not None else "no scored champion yet: run `exohunter run`",
    )


def _models(conn: psycopg.Connection) -> list[schemas.ModelSummary]:
    models = _rows(
        conn,
        """select model_version, task, algorithm, is_champion, training_load_batch_id,
                  training_data, training_snapshot_at, training_rows, created_at,
                  model_card_path
           from ml.model_registry order by created_at desc, model_version""",
    )
    figures = _rows(
        conn,
        """select model_version, metric, value, protocol from ml.model_metrics
           where task = 'p_planet' and estimator = 'xgboost' and class_label = ''
             and metric = any(%s)""",
        (list(HEADLINE_METRICS),),
    )
    by_version: dict[str, dict[str, float]] = {}
    protocols: dict[str, str] = {}
    for row in figures:
        by_version.setdefault(row["model_version"], {})[row["metric"]] = row["value"]
        protocols[row["model_version"]] = row["protocol"]
    return [
        schemas.ModelSummary(
            **m,
            metrics=by_version.get(m["model_version"], {}),
            protocol=protocols.get(m["model_version"]),
        )
        for m in models
    ]


def _koi(conn: psycopg.Connection, kepoi_name: str, top: int) -> schemas.KoiDetail:
    version = _champion(conn)
    key = (version, _scored_batch(conn, version), kepoi_name)
    prediction = _one(
        conn,
        """select model_version, load_batch_id, p_planet, p_confirmed, p_candidate,
                  p_false_positive, predicted_class, candidate_rank, scored_at
           from ml.koi_predictions
           where model_version = %s and load_batch_id = %s and kepoi_name = %s""",
        key,
    )
    explanation = _rows(
        conn,
        """select feature, feature_value as value, contribution, rank from ml.koi_explanations
           where model_version = %s and load_batch_id = %s and kepoi_name = %s and rank <= %s
           order by rank""",
        (*key, top),
    )
    row = _one(conn, "select * from marts.fct_koi_features where kepoi_name = %s", (kepoi_name,))
    if prediction is None and row is None:
        raise content.UnknownKoi(f"unknown KOI {kepoi_name!r}: not in the latest batch")
    return schemas.KoiDetail(
        kepoi_name=kepoi_name,
        prediction=schemas.KoiPrediction(**prediction) if prediction else None,
        explanation=[schemas.Contribution(**e) for e in explanation],
        features=row,
    )


def _discoveries(conn: psycopg.Connection, limit: int, min_p: float) -> schemas.Discoveries:
    version = _champion(conn)
    batch = _scored_batch(conn, version)
    rows = _rows(
        conn,
        """select p.candidate_rank, p.kepoi_name, f.kepid, p.p_planet, p.p_confirmed,
                  p.p_candidate, p.p_false_positive, p.predicted_class, f.orbital_period_days,
                  f.planet_radius_earth, f.equilibrium_temp_k,
                  count(*) over () as matching  -- before the limit: all that pass min_p
           from ml.koi_predictions as p
           left join marts.fct_koi_features as f
               on f.kepoi_name = p.kepoi_name and f.load_batch_id = p.load_batch_id
           where p.model_version = %(version)s and p.load_batch_id = %(batch)s
             and p.candidate_rank is not null and p.p_planet >= %(min_p)s
           order by p.candidate_rank
           limit %(limit)s""",
        {"version": version, "batch": batch, "min_p": min_p, "limit": limit},
    )
    return schemas.Discoveries(
        model_version=version,
        load_batch_id=batch,
        matching=rows[0]["matching"] if rows else 0,
        items=[schemas.Discovery(**{k: v for k, v in r.items() if k != "matching"}) for r in rows],
    )


# -- live scoring ------------------------------------------------------------------------------
def signal_frame(signals: list[schemas.SignalBase], names: tuple[str, ...]) -> pd.DataFrame:
    """The validated signals in the feature mart's shape (floats, NaN for missing)."""
    values = np.array(
        [[np.nan if (v := getattr(s, n)) is None else float(v) for n in names] for s in signals],
        dtype="float64",
    ).reshape(len(signals), len(names))
    frame = pd.DataFrame(values, columns=list(names))
    frame.insert(0, "kepoi_name", [f"signal_{i}" for i in range(len(signals))])
    return frame


def score_signals(
    artifact: dict[str, Any], version: str, signals: list[schemas.SignalBase]
) -> schemas.ScoreResponse:
    """Score with the same code path as ``exohunter score``, so both agree to the last bit."""
    names = tuple(artifact["features"])
    unknown = sorted(set(names) - set(schemas.SIGNAL_FIELDS))
    if unknown:
        raise NotReady(f"the champion {version} needs features the API does not accept: {unknown}")
    scores = predict.predict(artifact, signal_frame(signals, names))
    top: dict[str, list[schemas.Contribution]] = {}
    for _, _, name, feature, value, contribution, rank in predict.explanation_rows(
        version, 0, scores
    ):
        if rank <= TOP_CONTRIBUTIONS:
            top.setdefault(name, []).append(
                schemas.Contribution(
                    feature=feature, value=value, contribution=contribution, rank=rank
                )
            )
    threshold = float(artifact["threshold"])
    results = [
        schemas.SignalScore(
            index=i,
            signal_id=signal.signal_id,
            p_planet=float(row.p_planet),
            p_confirmed=float(row.p_confirmed),
            p_candidate=float(row.p_candidate),
            p_false_positive=float(row.p_false_positive),
            predicted_class=str(row.predicted_class),
            planet_at_threshold=bool(row.p_planet >= threshold),
            explanation=top[row.kepoi_name],
        )
        for i, (signal, row) in enumerate(zip(signals, scores.frame.itertuples(), strict=True))
    ]
    return schemas.ScoreResponse(model_version=version, threshold=threshold, results=results)


# -- the endpoints -----------------------------------------------------------------------------
# Each opens its connection inside the handler, not as a dependency: FastAPI resolves
# dependencies before it validates parameters, and a bad request must be a 422 whatever the
# database does.
router = APIRouter()
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Warehouse down, or no champion model yet"}
}
#: A KOI as the archive names it: a malformed name (a NUL byte, a path) is a 422 naming the
#: pattern, before it reaches the warehouse; an unknown well-formed one is a 404.
KoiName = Annotated[str, Path(pattern=r"^K\d{5}\.\d{2}$", examples=["K00752.01"])]
#: A TOI as the archive writes it (1234.01) or with its prefix (TOI-1234.01); the same rules.
ToiName = Annotated[
    str,
    Path(pattern=r"^(?:[Tt][Oo][Ii]-)?\d{1,6}\.\d{2}$", examples=["1234.01", "TOI-1234.01"]),
]


@router.get(
    "/health",
    summary="Warehouse connection and champion model",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "The warehouse is down"}},
)
def health(request: Request) -> schemas.Health | JSONResponse:
    try:
        with state.warehouse(request).connect() as conn:
            return _health(conn)
    except (server.WarehouseError, psycopg.OperationalError) as exc:
        detail = http_errors.one_line(exc)
        down = schemas.Health(status="unavailable", database="down", detail=detail)
        return JSONResponse(down.model_dump(), status_code=503)


@router.get(
    "/models",
    summary="Registered model versions with headline metrics",
    response_model=list[schemas.ModelSummary],
    responses=UNAVAILABLE,
)
def models(request: Request) -> list[schemas.ModelSummary]:
    with state.warehouse(request).connect() as conn:
        return _models(conn)


@router.get(
    "/kois/{kepoi_name}",
    summary="The champion's prediction, explanation and features of one KOI",
    response_model=schemas.KoiDetail,
    responses={404: {"description": "Unknown KOI"}, **UNAVAILABLE},
)
def koi(
    request: Request,
    kepoi_name: KoiName,
    top: Annotated[
        int, Query(ge=1, le=len(schemas.SIGNAL_FIELDS), description="Contributions")
    ] = 10,
) -> schemas.KoiDetail:
    with state.warehouse(request).connect() as conn:
        return _koi(conn, kepoi_name, top)


@router.get(
    "/kois/{kepoi_name}/report.pdf",
    summary="The discovery report of one KOI as a PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "A two-page A4 report"},
        404: {"description": "Unknown KOI"},
        **UNAVAILABLE,
    },
)
def koi_report(
    request: Request,
    kepoi_name: KoiName,
) -> Response:
    return _report_pdf(request, content.load, kepoi_name)  # content.UnknownKoi: a 404


def _report_pdf(
    request: Request, load: Callable[[psycopg.Connection, str], content.Report], name: str
) -> Response:
    """The discovery report of ``name`` as read by ``load``, inline as a PDF."""
    with state.warehouse(request).connect() as conn:
        report = load(conn, name)
    document = pdf.render(report)  # after the connection is released: drawing takes a second
    disposition = f'inline; filename="{pdf.file_name(report.name)}"'
    return Response(
        document, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@router.get(
    "/tois/{toi}",
    summary="The TOI champion's P(planet), rank, star and signal of one TESS TOI",
    response_model=schemas.ToiDetail,
    responses={404: {"description": "Unknown TOI"}, **UNAVAILABLE},
)
def toi(request: Request, toi: ToiName) -> schemas.ToiDetail:
    with state.warehouse(request).connect() as conn:
        row = content.toi_row(conn, toi)  # content.UnknownToi: a 404; no TOI model: a 503
    return schemas.ToiDetail.model_validate(
        {**row, "name": f"TOI-{row['toi']}", "star": row, "signal": row}
    )


@router.get(
    "/tois/{toi}/report.pdf",
    summary="The discovery report of one TESS TOI as a PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "A two-page A4 report"},
        404: {"description": "Unknown TOI"},
        **UNAVAILABLE,
    },
)
def toi_report(request: Request, toi: ToiName) -> Response:
    return _report_pdf(request, content.load_toi, toi)


@router.get(
    "/discoveries",
    summary="CANDIDATE KOIs ranked by the champion's P(planet)",
    response_model=schemas.Discoveries,
    responses=UNAVAILABLE,
)
def discoveries(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows to return")] = 50,
    min_p: Annotated[float, Query(ge=0, le=1, description="Lowest p_planet")] = 0.0,
) -> schemas.Discoveries:
    with state.warehouse(request).connect() as conn:
        return _discoveries(conn, limit, min_p)


@router.post(
    "/score",
    summary="Score new signals with the champion model",
    response_model=schemas.ScoreResponse,
    responses={413: {"description": "Request body too large"}, **UNAVAILABLE},
    max_body_size=MAX_BODY_BYTES,
)
def score(
    request: Request,
    signals: Annotated[
        list[schemas.Signal],  # type: ignore[valid-type]
        Body(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} signals"),
    ],
) -> schemas.ScoreResponse:
    with state.warehouse(request).connect() as conn:  # released before the model runs
        version = _champion(conn)
        artifact = state.artifacts(request).get(conn, version)
    return score_signals(artifact, version, signals)
