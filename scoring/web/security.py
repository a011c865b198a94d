"""What the web app checks before any route runs, and what every answer carries.

Three pure ASGI middlewares, installed once for the whole app by :func:`install` (outermost
first):

- :class:`SecurityHeaders`: every response says ``X-Content-Type-Options: nosniff``, may not be
  framed (``X-Frame-Options: DENY``) and sends its URL to no other site (``Referrer-Policy``);
  HTML pages also carry :data:`CONTENT_SECURITY_POLICY`: scripts, styles and everything else
  from this server only, no inline script or style (the pages' JavaScript and CSS are files under
  ``/static``), images also as ``data:`` (the figures are inline PNGs).
- Starlette's ``TrustedHostMiddleware``: a request whose ``Host`` is not one of the allowed hosts
  (:func:`allowed_hosts`) is a 400. A page of another site that a DNS rebinding points at this
  server still says its own name in ``Host``, so it never reaches the routes.
- :class:`SameOrigin`: a POST (any unsafe method) that a browser sends from another site's page
  is a 403 (cross-site request forgery). Browsers say where a request comes from in ``Origin``
  (``Referer`` when there is no ``Origin``); scripts (curl, httpx) send neither and are served.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoring import settings

#: The hosts every server answers to: its own machine's names.
LOCAL_HOSTS = ("127.0.0.1", "localhost")
#: Addresses one listens on but no browser sends as a Host.
_ANY_INTERFACE = {"0.0.0.0", "::", ""}
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Same-origin requests keep their Referer (and a real Origin, which SameOrigin compares);
    # other sites learn nothing of this server's URLs.
    "Referrer-Policy": "same-origin",
}
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def allowed_hosts(serve_host: str | None = None) -> list[str]:
    """The ``Host`` names the app answers to: :data:`LOCAL_HOSTS`, the interface ``exohunter
    serve --host`` listens on (unless it is every interface) and ``EXOHUNTER_ALLOWED_HOSTS``."""
    hosts = list(LOCAL_HOSTS)
    if serve_host is not None and serve_host not in _ANY_INTERFACE:
        hosts.append(serve_host)
    hosts += settings.allowed_hosts()
    return list(dict.fromkeys(host.lower() for host in hosts))


class SecurityHeaders:
    """Adds :data:`HEADERS` to every response, and the CSP to every HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cross_origin(headers: Headers) -> str | None:
    """Why a request with these headers comes from another site's page, or None when it comes
    from this server's own pages or from no browser at all."""
    host = headers.get("host", "").lower()
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value is None:
            continue
        source = "" if value == "null" else urlsplit(value).netloc.lower()
        if source == host:
            return None
        return (
            f"cross-origin request refused: it comes from {value[:100]!r} ({name}), not from "
            f"this server's own pages ({host}); submit the form on this server"
        )
    return None  # neither header: not a browser (a browser sends Origin with a cross-site POST)


class SameOrigin:
    """Refuses an unsafe request that another site's page sent: a 403 that says why."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _UNSAFE_METHODS:
            reason = cross_origin(Headers(scope=scope))
            if reason is not None:
                await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI, hosts: Sequence[str]) -> None:
    """The three middlewares above on ``app``, answering to ``hosts``."""
    # add_middleware puts each one outside those added before: add them innermost first.
    app.add_middleware(SameOrigin)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts), www_redirect=False)
    app.add_middleware(SecurityHeaders)
