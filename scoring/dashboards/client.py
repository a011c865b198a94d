"""A small client of Superset's REST API (standard library only): log in, read JSON.

Used by the dashboards benchmark and the tests; the analytics environment does not need an HTTP
library for it. ``POST /api/v1/chart/data`` is exempt from CSRF, so a bearer token is enough.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from scoring.errors import ExoHunterError


class SupersetAPIError(ExoHunterError):
    pass


class SupersetClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 60):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        answer = self._request(
            "POST",
            "/api/v1/security/login",
            {"username": username, "password": password, "provider": "db", "refresh": False},
            token=None,
        )
        self.token: str = answer["access_token"]

    def get(self, path: str) -> Any:
        return self._request("GET", path, None, self.token)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", path, body, self.token)

    def dashboard_charts(self, slug: str) -> list[dict[str, Any]]:
        """The charts of a dashboard (id, slice_name, form_data …)."""
        return self.get(f"/api/v1/dashboard/{slug}/charts")["result"]

    def count(self, resource: str) -> int:
        """How many charts, dashboards, datasets or databases Superset holds."""
        return self.get(f"/api/v1/{resource}/?q=(page_size:1)")["count"]

    def _request(self, method: str, path: str, body: Any, token: str | None) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise SupersetAPIError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
