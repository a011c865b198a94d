"""The benchmarks' shared harness: synthetic inputs, child processes with their own memory peak.

Every benchmark is reported as a ratio to a baseline measured in the same run: absolute timings
depend on the machine, a ratio to the same work done the plain way a moment earlier does not.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

SEED = 20190120
#: How run_child hands a child the warehouse URL, password included: a command line is public
#: (``ps``, /proc/PID/cmdline), a process's environment is readable by its owner only.
URL_VARIABLE = "EXOHUNTER_BENCH_URL"


def write_synthetic(source: Path, target: Path, rows: int, seed: int = SEED) -> None:
    """``rows`` KOI-like rows made by resampling whole real stars (with replacement), so that
    the per-star structure (several KOIs on one star) stays realistic. Synthetic: every copy of
    a star gets a new kepid (copy x 10^9 + kepid), every kepoi_name a ``-sNNNNNNN`` suffix, and
    the header says so; never load it as data."""
    with source.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    column_row, *data = [line for line in lines if not line.startswith("#")]
    columns = column_row.split(",")
    star, key = columns.index("kepid"), columns.index("kepoi_name")
    if '"' in "".join(data) or not star < key < len(columns) - 1:
        raise ValueError("the resampler expects unquoted rows with kepid, then kepoi_name")
    stars: dict[str, list[list[str]]] = {}
    for line in data:
        fields = line.split(",", key + 1)
        stars.setdefault(fields[star], []).append(fields)
    systems = list(stars.values())
    rng = random.Random(seed)
    comments.insert(
        2,
        f"# SYNTHETIC: {rows:,} rows resampled by star from {source.name}; kepid and kepoi_name "
        "rewritten",
    )
    with target.open("w", encoding="utf-8") as out:
        out.write("\n".join(comments) + "\n" + column_row + "\n")
        chunk: list[str] = []
        written = 0
        copy = 0
        while written < rows:
            copy += 1
            for fields in systems[rng.randrange(len(systems))][: rows - written]:
                new = list(fields)
                new[star] = str(copy * 1_000_000_000 + int(fields[star]))
                new[key] = f"{fields[key]}-s{written:07d}"
                chunk.append(",".join(new) + "\n")
                written += 1
            if len(chunk) >= 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


def admit_unchecked(conn: psycopg.Connection, batch_id: int) -> None:
    """Let staging read a batch the raw gate has not checked. Only the benchmarks do this: they
    time the transform of a batch, and a synthetic batch fails the raw checks by design (its
    row count and its ``-sNNNNNNN`` designations)."""
    conn.execute(
        "update raw.load_batches set status = 'loaded' where load_batch_id = %s", (batch_id,)
    )


def run_child(module_args: list[str], what: str, url: str) -> dict[str, Any]:
    """Run ``python -m MODULE ARGS`` in a fresh interpreter, so that its peak RSS is its own,
    on the warehouse at ``url`` (:func:`child_url`); return the JSON object it prints last."""
    child = subprocess.run(
        [sys.executable, "-m", *module_args],
        env={**os.environ, URL_VARIABLE: url},
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"the {what} benchmark subprocess failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def child_url() -> str:
    """The warehouse URL :func:`run_child` gave this process."""
    return os.environ[URL_VARIABLE]


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
