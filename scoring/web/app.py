"""The web app that ``exohunter serve`` runs under uvicorn: the scoring API and the light-curve
uploads over one warehouse, with one way of answering errors."""

from __future__ import annotations

from fastapi import FastAPI

from scoring.web import api, http_errors, state, uploads


def create_app(database_url: str | None = None) -> FastAPI:
    """The app over ``database_url``, or over the warehouse the CLI uses
    (``EXOHUNTER_DATABASE_URL`` or the embedded server) when it is None."""
    app = FastAPI(
        title="ExoHunter scoring API",
        summary="Exoplanet signal predictions from the ExoHunter warehouse, and live scoring.",
        version="1",
    )
    app.state.warehouse = state.Warehouse(database_url)
    app.state.artifacts = state.ArtifactCache()
    http_errors.install(app)
    app.include_router(api.router)  # predictions, discoveries, models, reports, live scoring
    app.include_router(uploads.router)  # light-curve upload pages and /api/lightcurves
    return app
