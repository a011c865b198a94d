"""The upload web app and its JSON twin, served by ``exohunter serve`` beside the scoring API.

Pages (server-rendered Jinja, no JavaScript, figures as PNG from matplotlib):
``GET /lightcurves`` the upload form; ``POST /lightcurves`` load, analyse, redirect to the
result; ``GET /lightcurves/{id}`` the result. JSON: ``POST /api/lightcurves`` (multipart, the
same fields) and ``GET /api/lightcurves/{id}``.

Uploads are bounded (:data:`scoring.lightcurves.readers.MAX_FILE_BYTES`, read in chunks and cut
off past the limit; :data:`scoring.lightcurves.readers.MAX_POINTS`) and parsed completely before
anything is written: a file that is not a light curve is a 4xx whose message says why, and the
warehouse is untouched. A stored upload is searched and scored at once; its result is then read
back from the warehouse, so the page and the API say what the warehouse says.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from scoring.lightcurves import anomaly, readers, search, store
from scoring.lightcurves.readers import LightCurveError
from scoring.warehouse import server
from scoring.web import http_errors, state

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
DEFAULT_SUPERSET_URL = "http://127.0.0.1:8088"
_CHUNK = 1 << 20
_FIGURES_KEPT = 8

router = APIRouter()


def superset_url() -> str:
    """Where Superset answers (``EXOHUNTER_SUPERSET_URL``), for the link to the star."""
    return os.environ.get("EXOHUNTER_SUPERSET_URL", DEFAULT_SUPERSET_URL).rstrip("/")


class UploadRefused(http_errors.Refused):
    """An upload refused before anything is written: the page shows the message, the JSON
    routes answer it with its status (413 or 422)."""


# -- input --------------------------------------------------------------------------------------
async def _read_bounded(file: UploadFile) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > readers.MAX_FILE_BYTES:
            raise UploadRefused(
                413,
                f"{file.filename}: larger than {readers.MAX_FILE_BYTES / 2**20:.0f} MB; "
                "upload one light curve at a time",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _number(name: str, text: str | None, low: float, high: float) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise UploadRefused(422, f"{name}: {text[:30]!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UploadRefused(422, f"{name}: {value:g} is outside {low:g} to {high:g}")
    return value


def _star(
    star_id: str | None, teff: str | None, logg: str | None, radius: str | None
) -> store.StarInput:
    star = store.StarInput(
        star_id=(star_id or "").strip()[:40] or None,
        teff_k=_number("stellar Teff [K]", teff, 2000, 60000),
        logg_cgs=_number("stellar log g [cgs]", logg, 0, 6),
        radius_solar=_number("stellar radius [R_sun]", radius, 0.05, 300),
    )
    try:
        star.kepid()
    except LightCurveError as exc:
        raise UploadRefused(422, str(exc)) from None
    return star


async def _store_upload(
    request: Request, file: UploadFile | None, star: store.StarInput, via: str
) -> int:
    """Read, parse, store and analyse one uploaded light curve; return its upload id."""
    if file is None or not file.filename:
        raise UploadRefused(422, "no file: choose a light curve to upload")
    data = await _read_bounded(file)
    try:
        curves = readers.read_bytes(data, file.filename)
        if len(curves) != 1:
            raise UploadRefused(
                422, f"{file.filename}: holds {len(curves)} light curves; upload one at a time"
            )
        with server.connect(state.warehouse(request).url(), autocommit=True) as conn:
            ((loaded, analysis),) = store.load_and_analyse(conn, data, file.filename, via, star)
    except (LightCurveError, search.SearchError) as exc:
        raise UploadRefused(422, str(exc)) from None
    assert loaded.upload_id is not None and analysis is not None  # web uploads always record
    _remember(request, analysis)
    return int(loaded.upload_id)


# -- figures cache ------------------------------------------------------------------------------
def _remember(request: Request, analysis: store.Analysis) -> None:
    """Keep the last few searches in memory: the result page right after an upload need not
    search again to draw its figures."""
    state = request.app.state
    if not hasattr(state, "lightcurve_searches"):
        state.lightcurve_searches = OrderedDict()
        state.lightcurve_lock = threading.Lock()
    with state.lightcurve_lock:
        state.lightcurve_searches[analysis.upload_id] = analysis.search
        while len(state.lightcurve_searches) > _FIGURES_KEPT:
            state.lightcurve_searches.popitem(last=False)


def _search_for(request: Request, conn: Any, stored: dict[str, Any]) -> Any:
    cache = getattr(request.app.state, "lightcurve_searches", {})
    upload_id = stored["upload"]["upload_id"]
    if upload_id in cache:
        return cache[upload_id]
    time_, flux, flux_err = store.points(conn, stored["upload"]["lightcurve_id"])
    return search.search(time_, flux, flux_err)


# -- pages --------------------------------------------------------------------------------------
@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/lightcurves", status_code=307)


@router.get("/lightcurves", response_class=HTMLResponse, include_in_schema=False)
def upload_page(request: Request) -> HTMLResponse:
    return _upload_form(request)


def _upload_form(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "upload.html",
        {
            "error": error,
            "max_mb": readers.MAX_FILE_BYTES / 2**20,
            "max_points": readers.MAX_POINTS,
        },
        status_code=status,
    )


@router.post("/lightcurves", include_in_schema=False, response_model=None)
async def upload_submit(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    star_id: Annotated[str | None, Form()] = None,
    teff: Annotated[str | None, Form()] = None,
    logg: Annotated[str | None, Form()] = None,
    radius: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        upload_id = await _store_upload(request, file, _star(star_id, teff, logg, radius), "web")
    except UploadRefused as exc:
        return _upload_form(request, exc.message, exc.status)
    return RedirectResponse(f"/lightcurves/{upload_id}", status_code=303)


@router.get("/lightcurves/{upload_id}", response_class=HTMLResponse, include_in_schema=False)
def result_page(request: Request, upload_id: int) -> HTMLResponse:
    from scoring.lightcurves import plots

    with server.connect(state.warehouse(request).url()) as conn:
        stored = store.result(conn, upload_id)
        if stored is None or stored["analysis"] is None:
            raise HTTPException(404, f"no analysed light-curve upload {upload_id}")
        search = _search_for(request, conn, stored)
    dips = anomaly.score(search)
    figures = plots.all_figures(search, dips, stored["upload"]["time_system"])
    return TEMPLATES.TemplateResponse(
        request,
        "result.html",
        {**stored, "figures": figures, "superset_url": superset_url()},
    )


# -- JSON ---------------------------------------------------------------------------------------
@router.post(
    "/api/lightcurves",
    status_code=201,
    summary="Upload a light curve (FITS or CSV): stored, searched and scored",
    responses={
        413: {"description": "File too large"},
        422: {"description": "Not a usable light curve"},
    },
)
async def api_upload(
    request: Request,
    file: Annotated[UploadFile | None, File(description="Kepler/K2/TESS FITS or CSV")] = None,
    star_id: Annotated[str | None, Form(description="e.g. KIC 10874614")] = None,
    teff: Annotated[str | None, Form(description="Stellar Teff [K]")] = None,
    logg: Annotated[str | None, Form(description="Stellar log g [cgs]")] = None,
    radius: Annotated[str | None, Form(description="Stellar radius [R_sun]")] = None,
) -> JSONResponse:
    upload_id = await _store_upload(request, file, _star(star_id, teff, logg, radius), "api")
    with server.connect(state.warehouse(request).url()) as conn:
        stored = store.result(conn, upload_id)
    return JSONResponse(
        jsonable_encoder(stored),
        status_code=201,
        headers={"Location": f"/api/lightcurves/{upload_id}"},
    )


@router.get(
    "/api/lightcurves/{upload_id}",
    summary="A light-curve upload: provenance, signals with P(planet), anomaly score",
    responses={404: {"description": "Unknown upload"}},
)
def api_result(request: Request, upload_id: int) -> JSONResponse:
    with server.connect(state.warehouse(request).url()) as conn:
        stored = store.result(conn, upload_id)
    if stored is None:
        raise HTTPException(404, f"no light-curve upload {upload_id}")
    return JSONResponse(jsonable_encoder(stored))
