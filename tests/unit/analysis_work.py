"""What the analysis processes of tests/unit/test_web_security.py run: module-level functions,
as the app's are (they are pickled), in a module that imports next to nothing, so that a child
forked from the forkserver starts in milliseconds, as the app's do."""

from __future__ import annotations

import os
import time
from pathlib import Path

from scoring.web import http_errors, workers


def claim_after(gate: workers.Gate, seconds: float, marker: str) -> str:
    time.sleep(seconds)
    gate.claim()
    Path(marker).write_text("committed")
    return "done"


def claim_then_commit_for(gate: workers.Gate, seconds: float) -> str:
    gate.claim()  # claimed before the deadline, committed after it
    time.sleep(seconds)
    return "stored"


def refuse(_: workers.Gate) -> None:
    raise http_errors.Refused(422, "x.csv: not a light curve")


def die(_: workers.Gate) -> None:
    os._exit(3)
