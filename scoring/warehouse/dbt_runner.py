"""Runs dbt against the current warehouse (embedded or external).

dbt's ``profiles.yml`` reads the libpq variables (PGHOST, PGPORT, ...); this module derives them
from the warehouse URL so that dbt, psql and ExoHunter always talk to the same database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scoring import settings
from scoring.errors import ExoHunterError

# "12 of 190 OK created sql view model staging.stg_kepler__koi ..." / "3 of 190 WARN 1 ..."
_NODE_LINE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP)\b")


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


@contextmanager
def dbt_progress(console: Console, title: str = "dbt") -> Iterator[Callable[[str], None]]:
    """A progress bar fed by dbt's own "N of M" lines; warnings, errors and dbt's closing report
    are printed, the rest of dbt's chatter is not."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(title, total=None)
        closing = False

        def on_line(line: str) -> None:
            nonlocal closing
            text = line.split("  ", 1)[-1].strip() if line[:2].isdigit() else line.strip()
            closing = closing or text.startswith("Finished running")
            node = _NODE_LINE.search(text)
            if node and node[3] != "START":
                progress.update(task, completed=int(node[1]), total=int(node[2]))
            if closing or (node and node[3] in {"WARN", "ERROR", "FAIL"}):
                console.print(text, markup=False, highlight=False)

        yield on_line
