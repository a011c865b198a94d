"""Scoring benchmarks: score + write-back of every KOI, COPY against pandas ``to_sql`` for the
same rows, and batch scoring of a large synthetic feature mart under a memory bound."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
import psycopg
from sqlalchemy import create_engine

from scoring.bench.harness import child_url, peak_rss_mb, run_child
from scoring.classifier import predict, training
from scoring.ml import feature_mart, registry
from scoring.warehouse import writeback

SCALE_PEAK_RSS_TARGET_MB = 2048
BATCH_ROWS = 100_000


def bench_scoring(url: str) -> dict[str, float]:
    """Train on the shipped snapshot in ``url``, then time scoring and the write-back paths."""
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        training.train(conn)
        train_s = time.perf_counter() - start
        result = predict.score(conn)
        rows = _prediction_frame(conn)
    copy_s, to_sql_s = _write_back_race(url, rows)
    print(f"train (all candidates, grouped nested CV + production fit): {train_s:.1f} s")
    print(
        f"score + write back {result.predictions:,} KOIs ({result.explanations:,} explanation"
        f" rows): {result.seconds:.2f} s"
    )
    print(
        f"write-back of {len(rows):,} predictions: COPY {copy_s * 1e3:.0f} ms vs pandas to_sql"
        f" {to_sql_s * 1e3:.0f} ms -> to_sql is {to_sql_s / copy_s:.1f}x slower"
    )
    return {
        "train_s": train_s,
        "score_s": result.seconds,
        "copy_s": copy_s,
        "to_sql_s": to_sql_s,
        "ratio": to_sql_s / copy_s,
    }


def _prediction_frame(conn: psycopg.Connection) -> pd.DataFrame:
    with conn.cursor() as cursor:
        cursor.execute("select * from ml.koi_predictions")
        names = [d.name for d in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=names)
    frame["candidate_rank"] = frame["candidate_rank"].astype("Int64")  # NULL for non-candidates
    return frame


def _write_back_race(url: str, rows: pd.DataFrame) -> tuple[float, float]:
    """The same prediction rows written by COPY (writeback.replace_rows) and by pandas
    ``to_sql`` row inserts, each into its own empty copy of ml.koi_predictions."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("bench_copy", "bench_to_sql"):
            conn.execute(f"drop table if exists ml.{name}")
            conn.execute(f"create table ml.{name} (like ml.koi_predictions including all)")
        records = rows.astype(object).where(rows.notna(), None)  # NaN rank -> NULL
        start = time.perf_counter()
        writeback.replace_rows(
            conn,
            "ml.bench_copy",
            {"model_version": "none"},
            list(rows.columns),
            records.itertuples(index=False, name=None),
        )
        copy_s = time.perf_counter() - start
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        start = time.perf_counter()
        rows.to_sql(
            "bench_to_sql", engine, schema="ml", if_exists="append", index=False, chunksize=1000
        )
        to_sql_s = time.perf_counter() - start
    finally:
        engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        counts = [
            conn.execute(f"select count(*) from ml.{name}").fetchone()[0]
            for name in ("bench_copy", "bench_to_sql")
        ]
        conn.execute("drop table ml.bench_copy; drop table ml.bench_to_sql")
    if counts != [len(rows)] * 2:
        raise RuntimeError(f"write-back race wrote {counts} rows, expected {len(rows)}")
    return copy_s, to_sql_s


def bench_scoring_scale(url: str) -> dict[str, Any]:
    """Score every row of the (large, synthetic) feature mart in ``url`` batch by batch, in a
    subprocess so that its peak RSS is its own."""
    figures = run_child(["scoring.bench.scoring"], "batch-scoring", url)
    ok = figures["peak_rss_mb"] < SCALE_PEAK_RSS_TARGET_MB
    print(
        f"batch scoring, {figures['rows']:,} synthetic KOIs in batches of {BATCH_ROWS:,}:"
        f" {figures['seconds']:.1f} s, {figures['rows'] / figures['seconds']:,.0f} rows/s,"
        f" peak RSS {figures['peak_rss_mb']:.0f} MB (target < {SCALE_PEAK_RSS_TARGET_MB} MB:"
        f" {'met' if ok else 'MISSED'})"
    )
    return figures


def _score_mart_in_batches(url: str) -> None:
    """Stream the feature mart with a server-side cursor and score it batch by batch."""
    with psycopg.connect(url) as conn:
        version = registry.champion(conn, training.TASK)
        artifact = registry.load_artifact(conn, version)
        columns = ["kepoi_name", *artifact["features"]]
        start = time.perf_counter()
        rows = 0
        with conn.cursor(name="bench_scoring") as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(f"select {', '.join(columns)} from {feature_mart.FEATURE_TABLE}")
            while batch := cursor.fetchmany(BATCH_ROWS):
                frame = pd.DataFrame(batch, columns=columns)
                frame[columns[1:]] = frame[columns[1:]].astype("float64")
                rows += len(predict.predict(artifact, frame).frame)
        seconds = time.perf_counter() - start
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    _score_mart_in_batches(child_url())
