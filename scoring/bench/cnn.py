"""The CNN benchmark: training time on both protocols, inference time per signal (the views
built from a shipped Kepler light curve, then the network), and the metrics table, each time
against the scalar-only XGBoost measured in the same run.

``python -m scoring.bench.cnn`` runs it alone; ``exohunter bench`` runs it with the others.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from scoring import settings
from scoring.cnn import model_card, predict, publish, tfrecords, training
from scoring.lightcurves import readers, search

KEPLER_6 = settings.DATA_DIR / "lightcurves" / "kplr010874614-2009131105131_llc.fits"
KEPLER_6_SIGNAL = (3.234699282, 121.4865708, 3.59385 / 24)  # the KOI table's K00017.01
REPEATS = 50


def _load() -> str:
    """The load average, to read every timing against."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _per_call(call, repeats: int = REPEATS) -> float:
    call()  # the first call compiles (JAX) and warms the caches
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def bench_inference(result: training.ProtocolResult, threshold: float) -> dict[str, float]:
    """Seconds per signal: views + CNN on Kepler-6 b, against XGBoost on one row of scalars."""
    model = predict.Model.from_artifact(publish.artifact(result, threshold))
    lc = readers.read_fits(KEPLER_6.read_bytes(), KEPLER_6.name)
    flat, _ = search.detrend(lc.time, lc.flux, search.SearchConfig())
    period, epoch, duration = KEPLER_6_SIGNAL
    cnn_s = _per_call(lambda: predict.score_signal(model, lc.time, flat, period, epoch, duration))
    row = np.array([[period, duration, 0.0, 50.0, 0.0, 0.2, 0.0]])
    xgb_s = _per_call(lambda: result.booster.predict_proba(row))
    score = predict.score_signal(model, lc.time, flat, period, epoch, duration)
    print(
        f"CNN inference per signal (Kepler-6 b Q0: views + network): {cnn_s * 1e3:.1f} ms vs "
        f"XGBoost on one row of scalars {xgb_s * 1e3:.1f} ms -> {cnn_s / xgb_s:.1f}x; "
        f"P(PC) {score.p_pc:.3f} (out of the training domain: Kepler, not TESS FFI); "
        f"load average {_load()}"
    )
    return {"cnn_ms": cnn_s * 1e3, "xgboost_ms": xgb_s * 1e3, "kepler_6b_p_pc": score.p_pc}


def bench_cnn(config: training.Config = training.DEFAULT) -> dict[str, Any]:
    """Train and measure both protocols; time the product's CNN per signal."""
    views = tfrecords.load()
    print(f"CNN: {len(views):,} TESS signals; load average {_load()}")
    measured = {}
    for protocol in config.protocols:
        start = time.perf_counter()
        result = training.run_protocol(views, protocol, config)
        measured[protocol] = result
        cnn_s, xgb_s = result.seconds["cnn"], result.seconds["xgboost_scalars"]
        print(
            f"CNN training, {protocol} split ({len(result.split.train):,} signals, "
            f"{result.epochs['cnn']} epochs): {cnn_s:.0f} s vs XGBoost on the scalars "
            f"{xgb_s:.1f} s -> {cnn_s / xgb_s:.0f}x; the four scorers "
            f"{time.perf_counter() - start:.0f} s; load average {_load()}"
        )
    evaluations = [e for r in measured.values() for e in r.evaluations]
    print(model_card.metrics_table(evaluations))
    product = measured[publish.PRODUCT_PROTOCOL]
    threshold = next(e for e in product.evaluations if e.estimator == "cnn").value("threshold")
    return {
        "training_s": {p: r.seconds for p, r in measured.items()},
        "epochs": {p: r.epochs for p, r in measured.items()},
        "metrics": {f"{e.task}/{e.estimator}": training.headline(e) for e in evaluations},
        "inference": bench_inference(product, threshold),
    }


if __name__ == "__main__":
    bench_cnn()
