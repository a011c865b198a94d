"""The scoring API: ExoHunter's predictions over HTTP, and live scoring of new signals.

``exohunter serve`` runs :func:`create_app` under uvicorn. The API only reads the warehouse
(``ml`` and ``marts``; every request opens its own read-only connection, so a restarted database
is picked up without restarting the API) and scores posted signals with the champion artifact,
loaded once per model version. A database that is down is a 503 with the reason, never a
traceback; a bad request is a 422 that names the field.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
import psycopg
from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from scoring import settings
from scoring.classifier import predict
from scoring.errors import ExoHunterError
from scoring.ml import features, registry
from scoring.reports import content, pdf
from scoring.warehouse import server
from scoring.web import uploads

MAX_BATCH = 1000  # signals per POST /score: bounds the memory and time of one request
TOP_CONTRIBUTIONS = 5  # explanation size of POST /score
CONNECT_TIMEOUT_S = 5  # a health check must answer quickly, even when the database hangs
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


# -- the signal schema -------------------------------------------------------------------------
# (type, required, constraints, description) per feature of features.HONEST_FEATURES. Bounds are
# physical (or definitional for derived ratios) and agree with the feature mart's data tests, so
# no archive KOI is refused for its values. Required: what defines a transit (period, duration,
# depth: a signal without a measured depth is not a detection; 363 archive KOIs lack one and are
# scored in batch only) and the multiplicity counts, never missing in the mart, so the model has
# never seen them missing. Every other value may be null: the model handles missing values
# natively, as it does for archive rows without them.
_POSITIVE = {"gt": 0}
_NON_NEGATIVE = {"ge": 0}
SIGNAL_FIELDS: dict[str, tuple[type, bool, dict[str, float], str]] = {
    "orbital_period_days": (float, True, _POSITIVE, "Orbital period [days]"),
    "transit_duration_hours": (float, True, _POSITIVE, "Total transit duration [hours]"),
    "transit_depth_ppm": (float, True, _NON_NEGATIVE, "Transit depth [ppm]"),
    "impact_parameter": (float, False, _NON_NEGATIVE, "Impact parameter [stellar radii]"),
    "planet_radius_earth": (float, False, _POSITIVE, "Planet radius [Earth radii]"),
    "equilibrium_temp_k": (float, False, _POSITIVE, "Equilibrium temperature [K]"),
    "insolation_earth_flux": (float, False, _NON_NEGATIVE, "Insolation [Earth flux]"),
    "transit_model_snr": (float, False, _NON_NEGATIVE, "Transit model S/N"),
    "stellar_teff_k": (float, False, {"ge": 2000, "le": 60000}, "Stellar Teff [K]"),
    "stellar_logg_cgs": (float, False, {"ge": 0, "le": 6}, "Stellar log g [cgs dex]"),
    "stellar_radius_solar": (float, False, _POSITIVE, "Stellar radius [solar radii]"),
    "kepler_magnitude": (float, False, {"ge": 0, "le": 30}, "Kepler magnitude [mag]"),
    "radius_ratio": (float, False, _NON_NEGATIVE, "sqrt(depth_ppm / 1e6)"),
    "is_grazing": (bool, False, {}, "impact_parameter > 1 - radius_ratio"),
    "planet_radius_consistency": (float, False, _NON_NEGATIVE, "prad / (k * srad * 109.076)"),
    "stellar_density_transit_gcc": (float, False, _POSITIVE, "Transit stellar density [g/cm3]"),
    "stellar_density_catalogue_gcc": (float, False, _POSITIVE, "Catalogue density [g/cm3]"),
    "log10_density_ratio": (float, False, {}, "log10(transit / catalogue density) [dex]"),
    "duration_ratio": (float, False, _NON_NEGATIVE, "Observed / expected duration"),
    "snr_per_transit": (float, False, _NON_NEGATIVE, "S/N / sqrt(number of transits)"),
    "n_kois_on_star": (int, True, {"ge": 1}, "KOIs on the same star, this one included"),
    "period_rank_on_star": (int, True, {"ge": 1}, "Rank by period on the star, 1 = shortest"),
    "nearest_period_ratio_on_star": (float, False, {"ge": 1}, "Closest period ratio (>= 1)"),
    "period_ratio_integer_offset": (float, False, {"ge": 0, "le": 0.5}, "Distance to harmonic"),
    "orbital_period_rel_unc": (float, False, _NON_NEGATIVE, "Relative period uncertainty"),
    "transit_duration_rel_unc": (float, False, _NON_NEGATIVE, "Relative duration uncertainty"),
    "transit_depth_rel_unc": (float, False, _NON_NEGATIVE, "Relative depth uncertainty"),
    "impact_parameter_rel_unc": (float, False, _NON_NEGATIVE, "Relative impact uncertainty"),
    "impact_parameter_err1": (float, False, _NON_NEGATIVE, "Impact upper uncertainty (>= 0)"),
    "impact_parameter_err2": (float, False, {"le": 0}, "Impact lower uncertainty (<= 0)"),
}


class _SignalBase(BaseModel):
    """Shared rules: unknown fields are errors (a typo must not silently become a missing
    value), and NaN/Infinity are refused (Python's JSON parser accepts them)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    signal_id: str | None = Field(
        None, max_length=100, description="Your label for the signal, echoed in the result."
    )

    @model_validator(mode="after")
    def _rank_within_count(self) -> _SignalBase:
        rank, count = self.period_rank_on_star, self.n_kois_on_star
        if rank > count:
            raise ValueError(f"period_rank_on_star ({rank}) exceeds n_kois_on_star ({count})")
        return self


def build_signal_model() -> type[BaseModel]:
    """The request model, generated from the feature list so the two cannot drift apart."""
    missing = set(features.HONEST_FEATURES) ^ set(SIGNAL_FIELDS)
    if missing:
        raise RuntimeError(f"SIGNAL_FIELDS and HONEST_FEATURES differ: {sorted(missing)}")
    fields: dict[str, Any] = {}
    for name in features.HONEST_FEATURES:
        kind, required, bounds, description = SIGNAL_FIELDS[name]
        if required:
            fields[name] = (kind, Field(..., description=description, **bounds))
        else:
            fields[name] = (kind | None, Field(None, description=description, **bounds))
    return create_model(
        "Signal",
        __base__=_SignalBase,
        __doc__="The honest features of one transit signal, as in marts.fct_koi_features.",
        **fields,
    )


Signal = build_signal_model()


# -- response models ---------------------------------------------------------------------------
class Health(BaseModel):
    status: str = Field(description="ok, no_model (nothing to serve yet) or unavailable")
    database: str = Field(description="up or down")
    detail: str | None = None
    server_version: str | None = None
    champion: str | None = Field(None, description="Champion model version of the classifier")
    scored_batch: int | None = Field(None, description="Latest load batch the champion scored")


class ModelSummary(BaseModel):
    model_version: str
    task: str
    algorithm: str
    is_champion: bool
    training_load_batch_id: int
    training_snapshot_at: datetime
    training_rows: int
    created_at: datetime
    model_card_path: str | None
    metrics: dict[str, float] = Field(
        description="Headline P(planet) figures of the XGBoost model (grouped nested CV)"
    )
    protocol: str | None = Field(None, description="How the metrics were measured")


class Contribution(BaseModel):
    feature: str
    value: float | None = Field(description="The feature value (null: missing)")
    contribution: float = Field(description="TreeSHAP contribution to the P(planet) log-odds")
    rank: int = Field(description="1 = largest |contribution|")


class Probabilities(BaseModel):
    p_planet: float = Field(description="Calibrated P(CONFIRMED) vs FALSE POSITIVE")
    p_confirmed: float
    p_candidate: float
    p_false_positive: float
    predicted_class: str


class KoiPrediction(Probabilities):
    model_version: str
    load_batch_id: int
    candidate_rank: int | None
    scored_at: datetime


class KoiDetail(BaseModel):
    kepoi_name: str
    prediction: KoiPrediction | None
    explanation: list[Contribution]
    features: dict[str, Any] | None = Field(description="The marts.fct_koi_features row")


class Discovery(Probabilities):
    candidate_rank: int
    kepoi_name: str
    kepid: int | None
    orbital_period_days: float | None
    planet_radius_earth: float | None
    equilibrium_temp_k: float | None


class Discoveries(BaseModel):
    model_version: str
    load_batch_id: int
    matching: int = Field(description="CANDIDATE KOIs with p_planet >= min_p")
    items: list[Discovery]


class SignalScore(Probabilities):
    index: int = Field(description="Position of the signal in the request")
    signal_id: str | None
    planet_at_threshold: bool = Field(description="p_planet >= the model's threshold")
    explanation: list[Contribution]


class ScoreResponse(BaseModel):
    model_version: str
    threshold: float
    results: list[SignalScore]


# -- warehouse access --------------------------------------------------------------------------
class Warehouse:
    """Per-request connections to the warehouse the rest of ExoHunter uses."""

    def __init__(self, url: str | None) -> None:
        self._url = url

    def url(self) -> str:
        # Resolved per request: the embedded server may have moved port since start-up.
        return self._url or settings.external_database_url() or server.database_url(start=False)

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A read-only, repeatable-read connection: one consistent snapshot per request."""
        conn = server.connect(self.url(), connect_timeout=CONNECT_TIMEOUT_S)
        with conn:
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            yield conn


class ArtifactCache:
    """Champion artifacts by version: loaded (and sha256-checked) once, not per request."""

    def __init__(self, keep: int = 2) -> None:
        self._keep = keep
        self._artifacts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, conn: psycopg.Connection, version: str) -> dict[str, Any]:
        with self._lock:
            if version not in self._artifacts:
                self._artifacts[version] = registry.load_artifact(conn, version)
                self.loads += 1
                while len(self._artifacts) > self._keep:
                    self._artifacts.popitem(last=False)
            return self._artifacts[version]


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
def _health(conn: psycopg.Connection) -> Health:
    version = _one(conn, "show server_version")["server_version"]
    if _one(conn, "select to_regclass('ml.koi_predictions') as t")["t"] is None:
        return Health(
            status="no_model",
            database="up",
            server_version=version,
            detail="the warehouse has no ml schema yet: run `exohunter run`",
        )
    champion = registry.champion(conn, registry.KOI_CLASSIFIER)
    batch = None if champion is None else _latest_batch(conn, champion)
    return Health(
        status="ok" if batch is not None else "no_model",
        database="up",
        server_version=version,
        champion=champion,
        scored_batch=batch,
        detail=None if batch is not None else "no scored champion yet: run `exohunter run`",
    )


def _models(conn: psycopg.Connection) -> list[ModelSummary]:
    models = _rows(
        conn,
        """select model_version, task, algorithm, is_champion, training_load_batch_id,
                  training_snapshot_at, training_rows, created_at, model_card_path
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
        ModelSummary(
            **m,
            metrics=by_version.get(m["model_version"], {}),
            protocol=protocols.get(m["model_version"]),
        )
        for m in models
    ]


def _koi(conn: psycopg.Connection, kepoi_name: str, top: int) -> KoiDetail:
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
        raise HTTPException(404, f"unknown KOI {kepoi_name!r}: not in the latest batch")
    return KoiDetail(
        kepoi_name=kepoi_name,
        prediction=KoiPrediction(**prediction) if prediction else None,
        explanation=[Contribution(**e) for e in explanation],
        features=row,
    )


def _discoveries(conn: psycopg.Connection, limit: int, min_p: float) -> Discoveries:
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
    return Discoveries(
        model_version=version,
        load_batch_id=batch,
        matching=rows[0]["matching"] if rows else 0,
        items=[Discovery(**{k: v for k, v in r.items() if k != "matching"}) for r in rows],
    )


def signal_frame(signals: list[_SignalBase], names: tuple[str, ...]) -> pd.DataFrame:
    """The validated signals in the feature mart's shape (floats, NaN for missing)."""
    values = np.array(
        [[np.nan if (v := getattr(s, n)) is None else float(v) for n in names] for s in signals],
        dtype="float64",
    ).reshape(len(signals), len(names))
    frame = pd.DataFrame(values, columns=list(names))
    frame.insert(0, "kepoi_name", [f"signal_{i}" for i in range(len(signals))])
    return frame


def score_signals(
    artifact: dict[str, Any], version: str, signals: list[_SignalBase]
) -> ScoreResponse:
    """Score with the same code path as ``exohunter score``, so both agree to the last bit."""
    names = tuple(artifact["features"])
    unknown = sorted(set(names) - set(SIGNAL_FIELDS))
    if unknown:
        raise NotReady(f"the champion {version} needs features the API does not accept: {unknown}")
    scores = predict.predict(artifact, signal_frame(signals, names))
    top: dict[str, list[Contribution]] = {}
    for _, _, name, feature, value, contribution, rank in predict.explanation_rows(
        version, 0, scores
    ):
        if rank <= TOP_CONTRIBUTIONS:
            top.setdefault(name, []).append(
                Contribution(feature=feature, value=value, contribution=contribution, rank=rank)
            )
    threshold = float(artifact["threshold"])
    results = [
        SignalScore(
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
    return ScoreResponse(model_version=version, threshold=threshold, results=results)


# -- error handling ----------------------------------------------------------------------------
def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    message = str(exc).strip()
    if isinstance(exc, psycopg.errors.UndefinedTable):
        message = f"the warehouse schema is not ready ({message}): run `exohunter run`"
    elif isinstance(exc, psycopg.OperationalError):
        message = f"lost the warehouse connection: {message}"
    return JSONResponse({"detail": message}, status_code=503)


def _describe(error: dict[str, Any]) -> str:
    """`body[0].orbital_period_days: Field required` — the field a client has to fix."""
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path}: {error['msg']}"


def _json_safe(value: Any) -> Any:
    """Errors echo the input, which may hold NaN or Infinity (Python's JSON parser accepts
    them, strict JSON does not): render those as strings instead of failing the 422."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    shown = "; ".join(_describe(e) for e in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return JSONResponse(
        {"message": shown + more, "detail": _json_safe(jsonable_encoder(errors))}, status_code=422
    )


# -- the endpoints -----------------------------------------------------------------------------
# Each opens its connection inside the handler, not as a dependency: FastAPI resolves
# dependencies before it validates parameters, and a bad request must be a 422 whatever the
# database does.
router = APIRouter()
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Warehouse down, or no champion model yet"}
}
MAX_BODY_BYTES = 4 * 1024 * 1024  # ~3x a full batch of archive rows; larger is a 413


def _store(request: Request) -> Warehouse:
    return request.app.state.warehouse


@router.get(
    "/health",
    summary="Warehouse connection and champion model",
    response_model=Health,
    responses={503: {"model": Health, "description": "The warehouse is down"}},
)
def health(request: Request) -> Health | JSONResponse:
    try:
        with _store(request).connect() as conn:
            return _health(conn)
    except (server.WarehouseError, psycopg.OperationalError) as exc:
        down = Health(status="unavailable", database="down", detail=str(exc).strip())
        return JSONResponse(down.model_dump(), status_code=503)


@router.get(
    "/models",
    summary="Registered model versions with headline metrics",
    response_model=list[ModelSummary],
    responses=UNAVAILABLE,
)
def models(request: Request) -> list[ModelSummary]:
    with _store(request).connect() as conn:
        return _models(conn)


@router.get(
    "/kois/{kepoi_name}",
    summary="The champion's prediction, explanation and features of one KOI",
    response_model=KoiDetail,
    responses={404: {"description": "Unknown KOI"}, **UNAVAILABLE},
)
def koi(
    request: Request,
    kepoi_name: Annotated[str, Path(max_length=32, examples=["K00752.01"])],
    top: Annotated[int, Query(ge=1, le=len(SIGNAL_FIELDS), description="Contributions")] = 10,
) -> KoiDetail:
    with _store(request).connect() as conn:
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
    kepoi_name: Annotated[str, Path(max_length=32, examples=["K00752.01"])],
) -> Response:
    with _store(request).connect() as conn:
        try:
            report = content.load(conn, kepoi_name)
        except content.UnknownKoi as exc:
            raise HTTPException(404, str(exc)) from exc
    document = pdf.render(report)  # after the connection is released: drawing takes a second
    disposition = f'inline; filename="{pdf.file_name(report.name)}"'
    return Response(
        document, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@router.get(
    "/discoveries",
    summary="CANDIDATE KOIs ranked by the champion's P(planet)",
    response_model=Discoveries,
    responses=UNAVAILABLE,
)
def discoveries(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows to return")] = 50,
    min_p: Annotated[float, Query(ge=0, le=1, description="Lowest p_planet")] = 0.0,
) -> Discoveries:
    with _store(request).connect() as conn:
        return _discoveries(conn, limit, min_p)


@router.post(
    "/score",
    summary="Score new signals with the champion model",
    response_model=ScoreResponse,
    responses={413: {"description": "Request body too large"}, **UNAVAILABLE},
    max_body_size=MAX_BODY_BYTES,
)
def score(
    request: Request,
    signals: Annotated[
        list[Signal],  # type: ignore[valid-type]
        Body(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} signals"),
    ],
) -> ScoreResponse:
    with _store(request).connect() as conn:  # released before the model runs
        version = _champion(conn)
        artifact = request.app.state.artifacts.get(conn, version)
    return score_signals(artifact, version, signals)


# -- the app -----------------------------------------------------------------------------------
def create_app(database_url: str | None = None) -> FastAPI:
    """The API over ``database_url``, or over the warehouse the CLI uses
    (``EXOHUNTER_DATABASE_URL`` or the embedded server) when it is None."""
    app = FastAPI(
        title="ExoHunter scoring API",
        summary="Exoplanet signal predictions from the ExoHunter warehouse, and live scoring.",
        version="1",
    )
    app.state.warehouse = Warehouse(database_url)
    app.state.artifacts = ArtifactCache()
    for error in (
        server.WarehouseError,
        registry.RegistryError,
        NotReady,
        content.ReportError,
        psycopg.OperationalError,
        psycopg.errors.UndefinedTable,
    ):
        app.add_exception_handler(error, _unavailable)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.include_router(router)
    app.include_router(uploads.router)  # light-curve upload pages and /api/lightcurves
    return app
