"""How the CLI and the pipeline show long work: progress bars fed by the work's own output.

Presentation only: the stages never import this (they take ``say``/``status`` callables, see
:mod:`scoring.progress`); the CLI, the pipeline and the benchmarks do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

# "12 of 190 OK created sql view model staging.stg_kepler__koi ..." / "3 of 190 WARN 1 ..."
_NODE_LINE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|FAIL|SKIP)\b")


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


@contextmanager
def byte_progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar by bytes, fed ``(phase, done_bytes, total_bytes)`` (a total of 0: unknown),
    as ingest's ``progress`` takes it; gone when the block ends."""
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    # Not on a pipe or in CI logs: a bar there is only noise.
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task("starting", total=None)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total or None)

        yield update
