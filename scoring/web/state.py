"""What the web app keeps across requests: the warehouse it reads and the artifacts it has loaded.

:func:`scoring.web.app.create_app` puts one :class:`Warehouse`, one :class:`ArtifactCache` and
the analysis processes (:class:`scoring.web.workers.Analyses`) on ``app.state``; the routers reach
them through :func:`warehouse`, :func:`artifacts` and :func:`analyses`. Every
request opens its own connection, so a restarted database is picked up without restarting the
app.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import psycopg
from fastapi import Request

from scoring import settings
from scoring.ml import registry
from scoring.warehouse import server
from scoring.web import workers

CONNECT_TIMEOUT_S = 5  # a health check must answer quickly, even when the database hangs


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
        conn = server.connect(
            self.url(),
            connect_timeout=CONNECT_TIMEOUT_S,
            statement_timeout_s=server.READ_STATEMENT_TIMEOUT_S,
        )
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


def warehouse(request: Request) -> Warehouse:
    """The warehouse of the app serving ``request``."""
    return request.app.state.warehouse


def artifacts(request: Request) -> ArtifactCache:
    """The champion artifacts of the app serving ``request``."""
    return request.app.state.artifacts


def analyses(request: Request) -> workers.Analyses:
    """The analysis processes of the app serving ``request``."""
    return request.app.state.analyses
