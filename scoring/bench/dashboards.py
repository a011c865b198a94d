"""Dashboard benchmarks: chart-data latency of every chart of every dashboard, and the time from
``dashboards up`` on an existing install to /health answering.

Each chart's stored query (GET /api/v1/chart/{id}/data/, what a dashboard runs) is timed
against a baseline measured in the same run through the same API, authentication and
connection: a COUNT(*) of the smallest mart (fct_model_performance, a dozen rows). The goal is
a p95 under 500 ms per chart on the shipped snapshot.

The benchmark runs its own Superset (state under ``$EXOHUNTER_HOME/bench``, its own port) on
the warehouse it is given, and removes it afterwards; the user's Superset is not touched.
``prepare_warehouse`` first gives a scored scratch warehouse what the other dashboards show (the
shipped light curves analysed, one data-quality check of every stage), so that every chart is
timed on real rows rather than on an empty mart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from scoring import settings
from scoring.dashboards import service
from scoring.dashboards.client import SupersetClient

P95_GOAL_MS = 500
REPEATS = 15
BASELINE_TABLE = "fct_model_performance"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((service.HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _own_superset() -> Iterator[None]:
    root = settings.home() / "bench" / f"superset_{uuid.uuid4().hex[:8]}"
    previous = os.environ.get("EXOHUNTER_SUPERSET_HOME")
    os.environ["EXOHUNTER_SUPERSET_HOME"] = str(root)
    try:
        yield
    finally:
        service.stop()
        if previous is None:
            os.environ.pop("EXOHUNTER_SUPERSET_HOME", None)
        else:
            os.environ["EXOHUNTER_SUPERSET_HOME"] = previous
        shutil.rmtree(root, ignore_errors=True)


def _timed_ms(call: Callable[[], Any], repeats: int) -> list[float]:
    call()  # warm: connection pool, worker imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def _baseline_query(client: SupersetClient) -> dict[str, Any]:
    datasets = client.get(
        f"/api/v1/dataset/?q=(filters:!((col:table_name,opr:eq,value:{BASELINE_TABLE})))"
    )
    dataset_id = datasets["result"][0]["id"]
    count = {"expressionType": "SQL", "sqlExpression": "COUNT(*)", "label": "rows"}
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"columns": [], "metrics": [count], "filters": [], "row_limit": 1}],
        "form_data": {"viz_type": "big_number_total", "datasource": f"{dataset_id}__table"},
        "result_format": "json",
        "result_type": "full",
    }


def measure_charts(client: SupersetClient, repeats: int = REPEATS) -> dict[str, Any]:
    """Median and p95 of every dashboard chart's data request, and of the baseline."""
    baseline_body = _baseline_query(client)
    baseline = _timed_ms(lambda: client.post("/api/v1/chart/data", baseline_body), repeats)
    health = _timed_ms(lambda: service.healthy(service.status().port or 0), repeats)
    charts = {}
    for slug, title in service.DASHBOARDS.items():
        for chart in client.dashboard_charts(slug):
            path = f"/api/v1/chart/{chart['id']}/data/?force=true"
            times = _timed_ms(lambda path=path: client.get(path), repeats)
            charts[f"{title} / {chart['slice_name']}"] = {
                "median_ms": statistics.median(times),
                "p95_ms": p95(times),
            }
    return {
        "baseline_median_ms": statistics.median(baseline),
        "health_median_ms": statistics.median(health),
        "charts": charts,
    }


def prepare_warehouse(url: str) -> None:
    """The light-curve stage of ``exohunter run`` (Discoveries' Uploads) and the checks of every
    stage built into marts.fct_data_quality (Data quality), as after ``exohunter run``."""
    from rich.console import Console

    from scoring import pipeline
    from scoring.quality import gates
    from scoring.warehouse import dbt_runner

    with psycopg.connect(url, autocommit=True) as conn:
        pipeline.lightcurve_stage(conn, Console(quiet=True))
    gates.check(url)
    dbt_runner.run_dbt(["build", "--select", "tag:scored", "tag:dq"], url, on_line=lambda _: None)


def bench_dashboards(url: str, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Bootstrap a Superset of its own on ``url`` (a scored warehouse), time every chart, then
    time a restart of the existing install."""
    quiet: Callable[[str], None] = lambda _: None  # noqa: E731
    port = _free_port()
    with _own_superset():
        start = time.perf_counter()
        service.up(url, port, quiet)
        cold_s = time.perf_counter() - start
        client = SupersetClient(
            service.status().url, service.ADMIN_USERNAME,
            settings.secret("superset_admin_password"),
        )  # fmt: skip
        figures = measure_charts(client)
        service.stop()
        start = time.perf_counter()
        service.up(url, port, quiet)
        warm_s = time.perf_counter() - start
    base = figures["baseline_median_ms"]
    worst = max(figures["charts"].values(), key=lambda chart: chart["p95_ms"])
    say(
        f"dashboards: chart data of {len(figures['charts'])} charts, {REPEATS} requests each:"
        f" worst p95 {worst['p95_ms']:.0f} ms (goal < {P95_GOAL_MS} ms); baseline COUNT(*) of"
        f" {BASELINE_TABLE} through the same API: median {base:.0f} ms"
        f" (/health {figures['health_median_ms']:.1f} ms)"
    )
    for name, chart in figures["charts"].items():
        say(
            f"  {name}: median {chart['median_ms']:.0f} ms, p95 {chart['p95_ms']:.0f} ms"
            f" -> {chart['median_ms'] / base:.1f}x / {chart['p95_ms'] / base:.1f}x the baseline"
        )
    say(
        f"dashboards up -> /health: {warm_s:.1f} s on an existing install"
        f" (first install of this metadata: {cold_s:.1f} s, db upgrade + init included)"
    )
    return {**figures, "up_existing_s": warm_s, "up_first_s": cold_s}
