"""Runs dbt against the current warehouse (embedded or external).

dbt's ``profiles.yml`` reads the libpq variables (PGHOST, PGPORT, ...); this module derives them
from the warehouse URL so that dbt, psql and ExoHunter always talk to the same database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scoring import settings
from scoring.errors import ExoHunterError


class TransformError(ExoHunterError):
    pass


def libpq_env(url: str) -> dict[str, str]:
    """PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for a ``postgresql://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise TransformError(f"not a PostgreSQL URL: {parts.scheme}://...")
    return {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": parts.path.lstrip("/") or "postgres",
    }


def dbt_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(libpq_env(url))
    env.update(
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        DBT_PROFILES_DIR=str(settings.DBT_PROJECT_DIR),
        DBT_PROJECT_DIR=str(settings.DBT_PROJECT_DIR),
        DBT_LOG_PATH=str(settings.home() / "dbt" / "logs"),
        DBT_TARGET_PATH=str(settings.home() / "dbt" / "target"),
    )
    return env


def run_dbt(args: list[str], url: str, on_line: Callable[[str], None] = print) -> None:
    """Run ``dbt ARGS`` and stream its output line by line; raise if dbt fails."""
    dbt = Path(sys.executable).with_name("dbt")
    with subprocess.Popen(
        [str(dbt), *args],
        cwd=settings.DBT_PROJECT_DIR,
        env=dbt_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        tail: deque[str] = deque(maxlen=12)  # a parse error says why only here
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            on_line(tail[-1])
    if process.returncode != 0:
        last = "\n  ".join(tail)
        raise TransformError(
            f"dbt {' '.join(args)} failed (exit {process.returncode}); its last lines:\n  {last}"
        )
