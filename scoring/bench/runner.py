"""``exohunter bench``: every benchmark, each printed as a ratio to a baseline measured in the
same run, in scratch databases of the embedded warehouse (never the user's data)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg

from scoring import settings
from scoring.bench.harness import admit_unchecked, write_synthetic
from scoring.ingest import loader
from scoring.warehouse import server


def _load_and_build(url: str, path: Path) -> float:
    """Ingest ``path`` as the newest batch, then time ``dbt build`` of the pre-scoring models."""
    with psycopg.connect(url, autocommit=True) as conn:
        admit_unchecked(conn, loader.load_koi_file(conn, path).batch_id)
    return _timed_dbt_build(url)


def _timed_dbt_build(url: str) -> float:
    from scoring.warehouse import dbt_runner

    start = time.perf_counter()
    dbt_runner.run_dbt(["build", "--exclude", "tag:scored"], url, on_line=lambda _: None)
    return time.perf_counter() - start


def run_all(scale_rows: int = 1_000_000) -> dict[str, object]:
    """Every benchmark, each in a scratch database of the embedded warehouse (never the user's
    data). The second database walks the pipeline: the shipped snapshot (baseline dbt build,
    training, scoring, the light curves and data-quality checks, the marts over them and the
    dashboards on them), then ``scale_rows`` synthetic rows (dbt build and batch scoring)."""
    from scoring.bench import anomalies, cnn, dashboards, ingest, lightcurves, scoring

    cluster = server.embedded()
    cluster.up()
    results: dict[str, object] = {"lightcurves": lightcurves.bench_lightcurves()}
    results["cnn"] = cnn.bench_cnn()
    with cluster.scratch_database("bench") as url:
        results["ingest"] = ingest.bench_ingest(url, scale_rows=scale_rows)
    synthetic = settings.home() / "bench" / f"koi_synthetic_dbt_{uuid.uuid4().hex[:8]}.csv"
    with cluster.scratch_database("bench") as url:
        baseline_s = _load_and_build(url, settings.SHIPPED_KOI_FILE)
        results["scoring"] = scoring.bench_scoring(url)
        results["anomalies"] = anomalies.bench_anomalies(url)
        dashboards.prepare_warehouse(url)
        results["dashboards"] = dashboards.bench_dashboards(url)
        try:
            write_synthetic(settings.SHIPPED_KOI_FILE, synthetic, scale_rows)
            scale_s = _load_and_build(url, synthetic)
        finally:
            synthetic.unlink(missing_ok=True)
        print(
            f"dbt build, {scale_rows:,} synthetic rows: {scale_s:.1f} s"
            f" ({scale_rows / scale_s:,.0f} rows/s) vs the shipped snapshot {baseline_s:.1f} s"
            f" -> {scale_s / baseline_s:.1f}x for {scale_rows / 9564:.0f}x the rows"
        )
        results["transform"] = {"baseline_s": baseline_s, "scale_s": scale_s, "rows": scale_rows}
        results["scoring_scale"] = scoring.bench_scoring_scale(url)
        results["anomalies_scale"] = anomalies.bench_anomalies_scale(url, results["anomalies"])
    return results
