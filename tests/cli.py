"""The command line as a user runs it: ``python -m scoring`` in a child process."""

from __future__ import annotations

import os
import subprocess
import sys


def exohunter(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``exohunter ARGS`` with ``env`` (default: this process's), wide enough that rich does
    not wrap its one-line errors."""
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        env={**(os.environ if env is None else env), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
