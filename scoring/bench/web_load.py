"""A load run of the web app, as `exohunter serve` runs it over the CLI's warehouse:
``python -m scoring.bench.web_load`` (after `exohunter run`).

Serves the app in a child process on a free port of 127.0.0.1 (the load must not share the
server's GIL), then fires :data:`READS` requests at ``/discoveries`` and ``/kois/{name}`` from
:data:`CONCURRENCY` clients, and :data:`UPLOADS` light-curve uploads of the shipped files at
once while ``/health`` is polled. Prints the errors, p50/p95 latencies, and the rows written to
``raw.lightcurve_uploads`` beside the uploads accepted: the two must agree.
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import psycopg

from scoring.lightcurves import store
from scoring.warehouse import server

READS = 400
CONCURRENCY = 8
UPLOADS = 20
HOST = "127.0.0.1"
# The shipped single-file light curves (the JSON-lines sample holds many: one upload each).
UPLOAD_FILES = sorted(
    path.name for path in store.LIGHTCURVE_DIR.iterdir() if path.suffix in {".fits", ".csv"}
)


@dataclass
class Phase:
    """What one phase measured: per-request latencies [s] and the failures, by reason."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    accepted: int = 0

    def record(self, call: Callable[[], httpx.Response], ok: int) -> None:
        started = time.perf_counter()
        try:
            outcome = str(call().status_code)
        except httpx.HTTPError as exc:  # a timeout, a connection refused or reset
            outcome = type(exc).__name__
        self.latencies.append(time.perf_counter() - started)
        if outcome == str(ok):
            self.accepted += 1
        else:
            self.errors[outcome] = self.errors.get(outcome, 0) + 1

    def line(self, name: str) -> str:
        q = statistics.quantiles(self.latencies, n=20)
        return (
            f"{name}: {len(self.latencies)} requests, {sum(self.errors.values())} errors "
            f"{self.errors or ''}, p50 {statistics.median(self.latencies) * 1000:.0f} ms, "
            f"p95 {q[18] * 1000:.0f} ms, max {max(self.latencies) * 1000:.0f} ms"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"exohunter serve did not answer at {base}")


def _uploads_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("select count(*) from raw.lightcurve_uploads").fetchone()[0])


def reads(base: str) -> Phase:
    """:data:`READS` reads at :data:`CONCURRENCY`: discoveries and single KOIs, alternating."""
    ranked = httpx.get(f"{base}/discoveries?limit=200", timeout=60)
    if ranked.status_code != 200:
        raise RuntimeError(f"/discoveries answers {ranked.status_code}: {ranked.text[:200]}")
    names = [row["kepoi_name"] for row in ranked.json()["items"]]
    paths = [
        "/discoveries?limit=50" if i % 2 else f"/kois/{names[i % len(names)]}" for i in range(READS)
    ]
    phase = Phase()
    with httpx.Client(base_url=base, timeout=60) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda path: phase.record(lambda: client.get(path), 200), paths))
    return phase


def uploads(base: str) -> tuple[Phase, Phase]:
    """:data:`UPLOADS` uploads at once (the shipped files in turn), and ``/health`` polled
    every 0.2 s meanwhile."""
    files = list(itertools.islice(itertools.cycle(UPLOAD_FILES), UPLOADS))
    phase, health, done = Phase(), Phase(), threading.Event()

    def upload(name: str) -> None:
        data = (store.LIGHTCURVE_DIR / name).read_bytes()
        phase.record(
            lambda: httpx.post(
                f"{base}/api/lightcurves", files={"file": (name, data)}, timeout=900
            ),
            201,
        )

    def poll() -> None:
        while not done.is_set():
            health.record(lambda: httpx.get(f"{base}/health", timeout=30), 200)
            time.sleep(0.2)

    poller = threading.Thread(target=poll)
    poller.start()
    with ThreadPoolExecutor(UPLOADS) as pool:
        list(pool.map(upload, files))
    done.set()
    poller.join()
    return phase, health


def main() -> None:
    url = server.database_url()  # the CLI's warehouse: EXOHUNTER_DATABASE_URL or the embedded
    port = _free_port()
    base = f"http://{HOST}:{port}"
    command = [sys.executable, "-m", "scoring", "serve", "--port", str(port)]
    with subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL) as child:
        try:
            _wait_until_up(base, child)
            try:
                print(reads(base).line(f"reads ({CONCURRENCY} at once)"))
            except RuntimeError as exc:  # no champion scored yet: the uploads still run
                print(f"reads: not run: {exc}")
            before = _uploads_count(url)
            started = time.perf_counter()
            sent, health = uploads(base)
            written = _uploads_count(url) - before
            print(sent.line(f"uploads ({UPLOADS} at once, {time.perf_counter() - started:.0f} s)"))
            print(health.line("/health during the uploads"))
            print(f"rows written (raw.lightcurve_uploads): {written}; accepted: {sent.accepted}")
        finally:
            child.terminate()
            child.wait(timeout=30)


if __name__ == "__main__":
    main()
