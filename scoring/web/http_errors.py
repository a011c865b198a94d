"""How an error becomes an HTTP answer: caught once, for the whole app, as JSON with one line.

Every error a user can cause derives from :class:`~scoring.errors.ExoHunterError`, and one handler
answers it with ``{"detail": "<one line>"}`` and the status of :func:`status_of`: a 4xx for the
user's own input (an unknown KOI or TOI, a file that is not a light curve, a refused upload), 503
for every other refusal (the warehouse is down or holds nothing to serve yet; the line says what to
run). A database failure that psycopg raises mid-request is a 503 as well, and a request that
fails validation a 422 naming the field, and a body over its route's limit (``max_body_size``,
counted by Starlette while it streams in) a 413 "Content Too Large". Anything else is a bug: a
500 that says so, the traceback going to the server log, never to the user.
"""

from __future__ import annotations

import math
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from scoring.errors import ExoHunterError
from scoring.lightcurves.readers import LightCurveError
from scoring.lightcurves.search import SearchError
from scoring.reports.content import UnknownName

UNAVAILABLE = 503
# The refusals caused by the user's own input; every other ExoHunterError is UNAVAILABLE.
USER_ERRORS: dict[type[ExoHunterError], int] = {
    UnknownName: 404,  # an unknown KOI or TOI
    LightCurveError: 422,
    SearchError: 422,
}


class Refused(ExoHunterError):
    """A request refused with the HTTP status that says why (413: too large, 422: unusable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __reduce__(self) -> tuple[type[Refused], tuple[int, str]]:
        # Raised in an analysis process, it is pickled back to the server.
        return (type(self), (self.status, self.message))


def check_text(name: str, text: str | None) -> None:
    """Refuse a control character (NUL above all: PostgreSQL cannot store it in text) in a text
    the user gave, before it goes anywhere near the warehouse."""
    if text is not None and (bad := next((c for c in text if ord(c) < 32 or ord(c) == 127), None)):
        raise Refused(422, f"{name}: contains the control character {bad!r}; remove it")


def status_of(exc: ExoHunterError) -> int:
    """The HTTP status that answers ``exc``."""
    if isinstance(exc, Refused):
        return exc.status
    for kind, status in USER_ERRORS.items():
        if isinstance(exc, kind):
            return status
    return UNAVAILABLE


def one_line(exc: BaseException) -> str:
    """The error's message on one line (psycopg's messages span several); a line that does not
    end a clause is closed with a semicolon."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    closed = [line if line[-1] in ".,:;!?" else f"{line};" for line in lines[:-1]]
    return " ".join(closed + lines[-1:])


def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExoHunterError)
    return JSONResponse({"detail": one_line(exc)}, status_code=status_of(exc))


def _database(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, psycopg.errors.UndefinedTable):
        missing = exc.diag.message_primary or one_line(exc)
        message = f"the warehouse schema is not ready ({missing}): run `exohunter run`"
    else:
        message = f"lost the warehouse connection: {one_line(exc)}"
    return JSONResponse({"detail": message}, status_code=UNAVAILABLE)


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


def _bug(_: Request, __: Exception) -> JSONResponse:
    # Starlette logs the exception after this answer (and re-raises it under a TestClient).
    return JSONResponse({"detail": "internal error: see the server log"}, status_code=500)


def install(app: FastAPI) -> None:
    """Answer every refusal, database failure, invalid request and bug of ``app`` as above."""
    app.add_exception_handler(ExoHunterError, _refused)
    app.add_exception_handler(psycopg.OperationalError, _database)
    app.add_exception_handler(psycopg.errors.UndefinedTable, _database)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _bug)
