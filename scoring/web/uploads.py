"""The upload web app and its JSON twin, served by ``exohunter serve`` beside the scoring API.

Pages (server-rendered Jinja, figures as PNG from matplotlib; the little JavaScript there only
enhances, every page works without it): ``GET /lightcurves`` the upload form (several files
at once, dropped or chosen), the past uploads with their verdicts and the shipped examples;
``POST /lightcurves`` load, analyse, redirect to the result; ``POST /lightcurves/examples/{key}``
the same for a shipped example; ``GET /lightcurves/{id}`` the result. JSON:
``POST /api/lightcurves`` (multipart, the same fields; several ``file`` fields are the files of
one star, stitched into one light curve and one upload) and ``GET /api/lightcurves/{id}``.

Uploads are bounded while they stream in: a request body over :data:`MAX_REQUEST_BYTES` is a
413 before it is read (``Content-Length``) or as soon as it is (counted); then
:data:`scoring.lightcurves.readers.MAX_FILE_BYTES` per file and :data:`MAX_UPLOAD_BYTES`
together, and :data:`scoring.lightcurves.readers.MAX_POINTS`. They are parsed completely before
anything is written: a file that is not a light curve, or a set of files that is not one star, is
a 4xx whose message says why, and the warehouse is untouched. A stored upload is searched and
scored at once, in one of the app's analysis processes (:mod:`scoring.web.workers`, never on
the event loop), in one transaction; its result is then read back from the warehouse, so the
page and the API say what the warehouse says.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import psycopg
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from scoring.errors import ExoHunterError
from scoring.lightcurves import anomaly, readers, search, stitch, store
from scoring.lightcurves.readers import LightCurveError
from scoring.warehouse import server
from scoring.web import http_errors, state, workers

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
DEFAULT_SUPERSET_URL = "http://127.0.0.1:8088"
_CHUNK = 1 << 20
_FIGURES_KEPT = 8
MAX_UPLOAD_BYTES = 4 * readers.MAX_FILE_BYTES  # all the files of one upload together
# The whole request: the files, the form fields and the multipart framing of up to
# stitch.MAX_FILES parts. Streamed bodies are counted, so nothing larger is ever spooled.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 2**20
_RECENT = 20
_BENCHMARK = Path("benchmark") / "kepler"


@dataclass(frozen=True)
class Example:
    title: str
    about: str
    files: tuple[str, ...]  # under data/lightcurves/
    star_id: str | None = None


#: The shipped light curves the upload page offers one click away.
EXAMPLES: dict[str, Example] = {
    "kepler-6": Example(
        "Kepler-6 b, Q0",
        "a hot Jupiter at 3.2347 d (K00017.01) in 9.7 days of Kepler data",
        ("kplr010874614-2009131105131_llc.fits",),
    ),
    "kepler-12": Example(
        "Kepler-12 b, Q5 + Q15 stitched",
        "a hot Jupiter at 4.4380 d (K00020.01), two quarters three years apart",
        tuple(
            str(_BENCHMARK / f"kplr011804465-{stamp}_llc.fits")
            for stamp in ("2010174085026", "2013011073258")
        ),
    ),
    "kepler-32": Example(
        "Kepler-32, Q1 + Q2 stitched",
        "an M dwarf with five planets (K00952.01-.05)",
        tuple(
            str(_BENCHMARK / f"kplr009787239-{stamp}_llc.fits")
            for stamp in ("2009166043257", "2009259160929")
        ),
    ),
    "boyajian": Example(
        "Boyajian's star, Q13 + Q15 + Q16 stitched",
        "KIC 8462852: deep, aperiodic dips no planet makes",
        tuple(
            f"kplr008462852-{stamp}_llc.fits"
            for stamp in ("2012179063303", "2013011073258", "2013098041711")
        ),
    ),
    "kic-11454304": Example(
        "KIC 11454304, Q0-Q17 stitched",
        "four years of a star whose Kepler TCEs were all false positives: no planet",
        tuple(
            sorted(
                str(_BENCHMARK / path.name)
                for path in (store.LIGHTCURVE_DIR / _BENCHMARK).glob("kplr011454304-*_llc.fits")
            )
        ),
    ),
    "tess": Example(
        "TIC 358108509, TESS sector 1",
        "27 days at 2-minute cadence",
        ("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits",),
    ),
}

router = APIRouter()


def superset_url() -> str:
    """Where Superset answers (``EXOHUNTER_SUPERSET_URL``), for the link to the star."""
    return os.environ.get("EXOHUNTER_SUPERSET_URL", DEFAULT_SUPERSET_URL).rstrip("/")


class UploadRefused(http_errors.Refused):
    """An upload refused before anything is written: the page shows the message, the JSON
    routes answer it with its status (413 or 422)."""


# -- input --------------------------------------------------------------------------------------
async def _read_bounded(file: UploadFile, already: int = 0) -> bytes:
    """The file's bytes, read in chunks and refused past the limit of one file, or past the
    limit of an upload's files together (``already`` read before this one)."""
    chunks, size = [], 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > readers.MAX_FILE_BYTES:
            raise UploadRefused(
                413,
                f"{file.filename}: larger than {readers.MAX_FILE_BYTES / 2**20:.0f} MB; "
                "upload one light curve at a time",
            )
        if already + size > MAX_UPLOAD_BYTES:
            raise UploadRefused(
                413,
                f"the files together are larger than {MAX_UPLOAD_BYTES / 2**20:.0f} MB "
                f"(at {file.filename}); upload fewer at a time",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _file_name(file: UploadFile) -> str:
    name = str(file.filename)
    http_errors.check_text("file name", name)
    return name


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
    http_errors.check_text("star id", star_id)
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
    request: Request, files: list[UploadFile] | None, star: store.StarInput, via: str
) -> int:
    """Read, parse, store and analyse the uploaded light curve (one file, or several files of
    one star stitched into one light curve); return its upload id."""
    chosen = [f for f in files or [] if f.filename]
    if not chosen:
        raise UploadRefused(422, "no file: choose a light curve to upload")
    if len(chosen) > stitch.MAX_FILES:
        raise UploadRefused(
            422, f"{len(chosen)} files; at most {stitch.MAX_FILES} files of one star are stitched"
        )
    named: list[tuple[str, bytes]] = []
    for file in chosen:
        name = _file_name(file)
        data = await _read_bounded(file, sum(len(d) for _, d in named))
        named.append((name, data))
    return await _analyse(request, named, star, via)


async def _analyse(
    request: Request, named: list[tuple[str, bytes]], star: store.StarInput, via: str
) -> int:
    """Store and analyse ``named`` (name, bytes pairs) in one of the app's analysis processes;
    remember its search for the result page; return the upload id."""
    url = state.warehouse(request).url()
    held = sum(len(data) for _, data in named)
    analysis = await state.analyses(request).run(
        _store_named, url, named, star, via, held_bytes=held
    )
    _remember(request, analysis)
    return analysis.upload_id


def _store_named(
    gate: workers.Gate,
    url: str,
    named: list[tuple[str, bytes]],
    star: store.StarInput,
    via: str,
) -> store.Analysis:
    """In an analysis process: parse every file, then load and analyse them in one transaction,
    committed only if the request still waits for it (``gate``)."""
    try:
        stitched = stitch.read_segments(named) if len(named) > 1 else None  # refusals first
        if stitched is None:
            ((name, data),) = named
            curves = readers.read_bytes(data, name)
            if len(curves) != 1:
                raise UploadRefused(
                    422, f"{name}: holds {len(curves)} light curves; upload one at a time"
                )
        with server.connect(url, autocommit=True) as conn, conn.transaction():
            # The store's own transactions nest in this one: savepoints.
            if stitched is not None:
                loaded, analysis = store.load_and_analyse_stitched(conn, stitched, via, star)
            else:
                ((loaded, analysis),) = store.load_and_analyse(conn, data, name, via, star)
            gate.claim()  # raises when the request timed out: rolled back
    except (LightCurveError, search.SearchError) as exc:
        raise UploadRefused(422, str(exc)) from None
    assert loaded.upload_id is not None and analysis is not None  # web uploads always record
    return analysis


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


def _cached_search(request: Request, upload_id: int) -> search.SearchResult | None:
    return getattr(request.app.state, "lightcurve_searches", {}).get(upload_id)


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
            "max_total_mb": MAX_UPLOAD_BYTES / 2**20,
            "max_files": stitch.MAX_FILES,
            "max_points": readers.MAX_POINTS,
            "recent": _recent(request),
            "examples": EXAMPLES,
            "superset_url": superset_url(),
        },
        status_code=status,
    )


def _recent(request: Request) -> list[dict[str, Any]] | None:
    """The latest uploads, or None when the warehouse does not answer (the form still works)."""
    try:
        with server.connect(state.warehouse(request).url()) as conn:
            return store.recent_uploads(conn, _RECENT)
    except (psycopg.Error, ExoHunterError):
        return None


@router.post(
    "/lightcurves", include_in_schema=False, response_model=None, max_body_size=MAX_REQUEST_BYTES
)
async def upload_submit(
    request: Request,
    file: Annotated[list[UploadFile] | None, File()] = None,
    star_id: Annotated[str | None, Form()] = None,
    teff: Annotated[str | None, Form()] = None,
    logg: Annotated[str | None, Form()] = None,
    radius: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        upload_id = await _store_upload(request, file, _star(star_id, teff, logg, radius), "web")
    except http_errors.Refused as exc:
        return _upload_form(request, exc.message, exc.status)
    return RedirectResponse(f"/lightcurves/{upload_id}", status_code=303)


def _example_files(example: Example) -> list[tuple[str, bytes]]:
    try:
        return [(name, readers.read_file(store.LIGHTCURVE_DIR / name)) for name in example.files]
    except LightCurveError as exc:
        raise UploadRefused(422, str(exc)) from None


@router.post("/lightcurves/examples/{key}", include_in_schema=False, response_model=None)
async def example_submit(request: Request, key: str) -> Response:
    """A shipped example, uploaded as a user would (a web upload of its own)."""
    example = EXAMPLES.get(key)
    if example is None:
        raise HTTPException(404, f"no example {key[:40]!r}")
    star = store.StarInput(star_id=example.star_id)
    try:
        named = await anyio.to_thread.run_sync(_example_files, example)
        upload_id = await _analyse(request, named, star, "web")
    except http_errors.Refused as exc:
        return _upload_form(request, exc.message, exc.status)
    return RedirectResponse(f"/lightcurves/{upload_id}", status_code=303)


def _stored(request: Request, upload_id: int) -> dict[str, Any]:
    with server.connect(state.warehouse(request).url()) as conn:
        stored = store.result(conn, upload_id)
    if stored is None or stored["analysis"] is None:
        raise HTTPException(404, f"no analysed light-curve upload {upload_id}")
    return stored


def _figures(
    _: workers.Gate, url: str, stored: dict[str, Any], cached: search.SearchResult | None
) -> dict[str, Any]:
    """In an analysis process: the result's figures, from its search (again, when it is not
    one of the last few searched), and the CNN's views of each signal, from the warehouse."""
    from scoring.lightcurves import plots

    found = cached
    if found is None:
        with server.connect(url) as conn:
            time_, flux, flux_err = store.points(conn, stored["upload"]["lightcurve_id"])
        found = search.search(time_, flux, flux_err)
    figures: dict[str, Any] = plots.all_figures(
        found, anomaly.score(found), stored["upload"]["time_system"]
    )
    figures["cnn"] = plots.cnn_figures(stored["signals"])
    return figures


@router.get("/lightcurves/{upload_id}", response_class=HTMLResponse, include_in_schema=False)
async def result_page(request: Request, upload_id: int) -> HTMLResponse:
    stored = await anyio.to_thread.run_sync(_stored, request, upload_id)
    url, cached = state.warehouse(request).url(), _cached_search(request, upload_id)
    figures = await state.analyses(request).run(_figures, url, stored, cached)
    return TEMPLATES.TemplateResponse(
        request,
        "result.html",
        {
            **stored,
            "figures": figures,
            "superset_url": superset_url(),
            "stellar_words": STELLAR_SOURCES,
        },
    )


#: Where the stellar parameters of an analysis came from, in words for the result page.
STELLAR_SOURCES = {
    "user": "as given with the upload",
    "koi_table": "from the KOI table (the star's KOIs, NASA Exoplanet Archive snapshot)",
    "toi_table": "from the TOI table (the TESS Input Catalog parameters of the TOI host)",
    "none": "none known: the light-curve-only model",
}


# -- JSON ---------------------------------------------------------------------------------------
@router.post(
    "/api/lightcurves",
    status_code=201,
    summary="Upload a light curve (FITS or CSV): stored, searched and scored",
    description=(
        "Several `file` fields are the files of one star (Kepler quarters, TESS sectors): each "
        "is normalised by its median flux and they are searched as one light curve, stored as "
        "one upload with its segments. Mixed stars or missions, a bad file among them, the same "
        "file twice or too many points together: 422, nothing written."
    ),
    responses={
        413: {"description": "File too large"},
        422: {"description": "Not a usable light curve, or files that are not one star"},
        503: {"description": "Busy: too many analyses running or waiting"},
        504: {"description": "The analysis did not finish in time; nothing stored"},
    },
    max_body_size=MAX_REQUEST_BYTES,
)
async def api_upload(
    request: Request,
    file: Annotated[
        list[UploadFile] | None,
        File(description="Kepler/K2/TESS FITS or CSV; several: the files of one star"),
    ] = None,
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
