"""Anomaly benchmarks: the ensemble on the shipped KOIs (against one Isolation Forest, the
cheapest detector, timed on the same matrix) and on a large synthetic feature mart under a memory
bound; the Bayesian fit's wall time and effective samples per second (against a second fit of the
same data, which reuses the compiled model)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql
from pyod.models.iforest import IForest

from scoring.anomalies import detect, outlier_model, pyod_ensemble
from scoring.bench.harness import child_url, peak_rss_mb, run_child
from scoring.ml import feature_mart

SCALE_PEAK_RSS_TARGET_MB = 2048


def bench_anomalies(url: str) -> dict[str, float | int]:
    """Time both lenses on the feature mart in ``url`` (the shipped snapshot)."""
    with psycopg.connect(url) as conn:
        frame = detect.load_frame(conn)
    X = pyod_ensemble.FeatureScaler.fit(frame).transform(frame)
    start = time.perf_counter()
    IForest(n_estimators=200, random_state=0).fit(X)
    iforest_s = time.perf_counter() - start
    start = time.perf_counter()
    pyod_ensemble.score_batch(frame)
    ensemble_s = time.perf_counter() - start
    first = outlier_model.score_frame(
        frame, pyod_ensemble.DEFAULT_BUDGET, outlier_model.DEFAULT_SAMPLER
    )
    second = outlier_model.score_frame(
        frame, pyod_ensemble.DEFAULT_BUDGET, outlier_model.DEFAULT_SAMPLER
    )
    print(
        f"anomaly ensemble, {len(frame):,} KOIs (4 detectors + ranks): {ensemble_s:.2f} s vs one"
        f" Isolation Forest {iforest_s:.2f} s -> {ensemble_s / iforest_s:.1f}x"
    )
    for label, fit in (("first (with JIT compile)", first.fit), ("second (compiled)", second.fit)):
        d = fit.diagnostics()
        print(
            f"Bayesian outlier fit, {fit.n_kois:,} KOIs, {label}: {fit.seconds:.1f} s,"
            f" {d['ess_per_second']:.0f} effective samples/s (slowest parameter),"
            f" R-hat max {d['r_hat_max']:.3f}, {d['divergences']:.0f} divergences"
        )
    print(f"  -> compile share of the first fit: {1 - second.fit.seconds / first.fit.seconds:.0%}")
    return {
        "rows": len(frame),
        "ensemble_s": ensemble_s,
        "iforest_s": iforest_s,
        "ratio": ensemble_s / iforest_s,
        "bayes_first_s": first.fit.seconds,
        "bayes_second_s": second.fit.seconds,
        "bayes_ess_per_s": second.fit.diagnostics()["ess_per_second"],
    }


def bench_anomalies_scale(url: str, baseline: dict[str, float | int]) -> dict[str, Any]:
    """The ensemble on every row of the (large, synthetic) feature mart in ``url``, in a
    subprocess so that its peak RSS is its own; compared per row with the shipped snapshot."""
    figures = run_child(["scoring.bench.anomalies"], "anomaly-ensemble", url)
    per_row_ratio = (figures["seconds"] / figures["rows"]) / (
        baseline["ensemble_s"] / baseline["rows"]
    )
    ok = figures["peak_rss_mb"] < SCALE_PEAK_RSS_TARGET_MB
    print(
        f"anomaly ensemble, {figures['rows']:,} synthetic KOIs: {figures['seconds']:.1f} s"
        f" ({figures['rows'] / figures['seconds']:,.0f} rows/s; {per_row_ratio:.1f}x the shipped"
        f" snapshot's time per row), peak RSS {figures['peak_rss_mb']:.0f} MB"
        f" (target < {SCALE_PEAK_RSS_TARGET_MB} MB: {'met' if ok else 'MISSED'})"
    )
    return {**figures, "per_row_ratio": per_row_ratio}


def _ensemble_on_the_mart(url: str) -> None:
    """Run in a fresh interpreter: COPY the anomaly features out, score them, print figures."""
    columns = ["kepoi_name", *pyod_ensemble.ANOMALY_FEATURES]
    query = sql.SQL("copy (select {} from {}) to stdout with (format csv, header)").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(feature_mart.FEATURE_TABLE)
    )
    buffer = io.BytesIO()
    with psycopg.connect(url) as conn, conn.cursor().copy(query) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    frame = pd.read_csv(buffer)
    start = time.perf_counter()
    scores = pyod_ensemble.score_batch(frame)
    seconds = time.perf_counter() - start
    result = {"rows": len(frame), "seconds": seconds, "flagged": int(scores.is_anomaly.sum())}
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    _ensemble_on_the_mart(child_url())
