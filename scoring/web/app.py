"""The web app that ``exohunter serve`` runs under uvicorn: the scoring API and the light-curve
uploads over one warehouse, with one way of answering errors, one set of security checks and
headers (:mod:`scoring.web.security`) and the analyses in child processes
(:mod:`scoring.web.workers`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from scoring.web import api, http_errors, security, state, uploads, workers

STATIC = Path(__file__).parent / "static"
#: Swagger UI's JS and CSS, from a package (fastapi-offline): /docs works without the internet.
SWAGGER_UI = Path(str(resources.files("fastapi_offline") / "static"))
SWAGGER_UI_URL = "/static/swagger-ui"


def create_app(
    database_url: str | None = None,
    *,
    allowed_hosts: Sequence[str] | None = None,
    analysis_timeout_s: float = workers.TIMEOUT_S,
) -> FastAPI:
    """The app over ``database_url``, or over the warehouse the CLI uses
    (``EXOHUNTER_DATABASE_URL`` or the embedded server) when it is None, answering to
    ``allowed_hosts`` (default: :func:`scoring.web.security.allowed_hosts`)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The server answers once its analysis processes can start at once: the forkserver
        # imports the science here (seconds, once per server), not at the first upload.
        await anyio.to_thread.run_sync(workers.warm_up)
        yield

    app = FastAPI(
        title="ExoHunter scoring API",
        summary="Exoplanet signal predictions from the ExoHunter warehouse, and live scoring.",
        version="1",
        docs_url=None,  # served below from the package's assets, not from a CDN
        redoc_url=None,
        max_body_size=api.MAX_BODY_BYTES,  # every route; the upload routes allow more
        lifespan=lifespan,
    )
    app.state.warehouse = state.Warehouse(database_url)
    app.state.artifacts = state.ArtifactCache()
    app.state.analyses = workers.Analyses(timeout_s=analysis_timeout_s)
    http_errors.install(app)
    security.install(app, security.allowed_hosts() if allowed_hosts is None else allowed_hosts)
    app.mount(SWAGGER_UI_URL, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/docs", docs, include_in_schema=False, response_class=HTMLResponse)
    app.include_router(api.router)  # predictions, discoveries, models, reports, live scoring
    app.include_router(uploads.router)  # light-curve upload pages and /api/lightcurves
    return app


def docs(request: Request) -> HTMLResponse:
    """Swagger UI over the app's OpenAPI document, its assets served by the app itself."""
    return uploads.TEMPLATES.TemplateResponse(
        request,
        "docs.html",
        {
            "title": request.app.title,
            "openapi_url": request.app.openapi_url,
            "swagger_ui": SWAGGER_UI_URL,
        },
    )
