"""The benchmarks' child processes get the warehouse URL through their environment: a command
line is public (``ps``, /proc/PID/cmdline), and the URL holds the app role's password.

Each benchmark that starts a child runs for real while this process watches the command lines
of its children."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scoring.bench import anomalies, ingest
from scoring.bench import scoring as bench_scoring

pytestmark = pytest.mark.integration


def _children_command_lines() -> list[str]:
    me = str(os.getpid())
    lines = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if (
                proc.name.isdigit()
                and (proc / "stat").read_text().rsplit(")", 1)[1].split()[1] == me
            ):
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


@contextlib.contextmanager
def watched_children() -> Iterator[list[str]]:
    """The command lines of every child this process starts inside the block."""
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(line for line in _children_command_lines() if line not in seen)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


def _runs(url: str) -> dict[str, tuple[str, Callable[[], Any]]]:
    return {
        "ingest": (
            "scoring.bench.ingest",
            lambda: ingest.bench_ingest(url, scale_rows=2_000, repeats=1, quiet=True),
        ),
        "scoring": ("scoring.bench.scoring", lambda: bench_scoring.bench_scoring_scale(url)),
        "anomalies": (
            "scoring.bench.anomalies",
            lambda: anomalies.bench_anomalies_scale(url, {"ensemble_s": 1.0, "rows": 1}),
        ),
    }


@pytest.mark.parametrize("bench", ["ingest", "scoring", "anomalies"])
def test_no_child_gets_the_password_on_its_command_line(
    bench: str, request: pytest.FixtureRequest
) -> None:
    # The ingest child loads a file (into a fresh database); the others read the scored marts.
    url = request.getfixturevalue("database_url" if bench == "ingest" else "scored_warehouse")
    module, run = _runs(url)[bench]
    with watched_children() as seen:
        run()  # a child that could not find its URL would fail the benchmark
    children = [line for line in seen if f"-m {module}" in line]
    assert children, seen
    password = urlsplit(url).password
    assert password and not any(password in line for line in seen), children
