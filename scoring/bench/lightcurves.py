"""Transit-search benchmark: ExoHunter's search against lightkurve's default BLS periodogram on
the same data in the same run, and against Transit Least Squares on one quarter.

Two light curves of KIC 8462852: one Kepler quarter (Q16, 3,161 good cadences) and the whole
mission (65,316 points). lightkurve is timed on its default ``to_periodogram("bls")`` (its own
period grid, one 0.25-day duration, one peak, no detrending); where it refuses the data, the
refusal is reported. TLS runs with its defaults on the same detrended quarter. ExoHunter's time
is end to end: detrending, every pass of the multi-signal search, refinement and diagnostics,
in a warm process (the one-time numba load of wotan's kernels is measured apart).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from scoring.lightcurves import search, store
from scoring.lightcurves.readers import LightCurve, read_bytes

QUARTER = "kplr008462852-2013098041711_llc.fits"
FULL_MISSION = "kic8462852_tabby_normalized_flux_q0-q17.csv"
FULL_MISSION_TARGET_S = 10.0


def _read(name: str, time_system: str | None = None) -> LightCurve:
    (lc,) = read_bytes((store.LIGHTCURVE_DIR / name).read_bytes(), name, time_system)
    return lc


def _timed(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _lightkurve_bls(lc: LightCurve) -> tuple[float | None, str]:
    """(seconds, what it found or why it refused) of lightkurve's default BLS periodogram."""
    import lightkurve

    curve = lightkurve.LightCurve(time=lc.time, flux=lc.flux / np.median(lc.flux))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            periodogram = curve.to_periodogram(method="bls")
    except ValueError as exc:
        return None, f"refused: {str(exc).split('.')[0]}"
    seconds = time.perf_counter() - start
    return (
        seconds,
        f"peak at {periodogram.period_at_max_power.value:.4f} d, "
        f"{len(periodogram.period):,} periods",
    )


def _tls(lc: LightCurve) -> tuple[float, str]:
    from transitleastsquares import transitleastsquares

    flux = lc.flux / np.median(lc.flux)
    detrended, _ = search.detrend(lc.time, flux, search.DEFAULT_CONFIG)
    good = np.isfinite(detrended)
    model = transitleastsquares(lc.time[good], detrended[good])
    start = time.perf_counter()
    # TLS prints its own banner and grid: keep the benchmark's output to its figures
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        result = model.power(use_threads=2, show_progress_bar=False)
    seconds = time.perf_counter() - start
    return (
        seconds,
        f"peak at {result.period:.4f} d, SDE {result.SDE:.1f}, {len(result.periods):,} periods",
    )


def _ours(lc: LightCurve, repeats: int) -> tuple[float, str, search.SearchResult]:
    seconds, result = _timed(lambda: search.search(lc.time, lc.flux, lc.flux_err), repeats)
    best = result.signals[0]
    what = (
        f"{result.mode}, {result.n_periods:,} periods, first signal {best.period_days:.4f} d "
        f"({'significant' if best.significant else 'not significant'}), "
        f"stopped: {result.stopped_by}"
    )
    return seconds, what, result


def bench_lightcurves(quiet: bool = False) -> dict[str, Any]:
    say: Callable[[str], None] = (lambda _: None) if quiet else print
    quarter, full = _read(QUARTER), _read(FULL_MISSION, "BKJD")
    start = time.perf_counter()
    search.detrend(
        quarter.time[:200],
        quarter.flux[:200] / np.median(quarter.flux),
        search.DEFAULT_CONFIG,
    )
    warm_s = time.perf_counter() - start
    say(f"light curves: one-time wotan/numba warm-up {warm_s:.2f} s (not counted below)")
    figures: dict[str, Any] = {"warm_up_s": warm_s}
    for label, lc, repeats in (("one quarter (Q16)", quarter, 3), ("full mission", full, 1)):
        ours_s, ours_what, _ = _ours(lc, repeats)
        lk_s, lk_what = _lightkurve_bls(lc)
        key = "quarter" if lc is quarter else "full_mission"
        figures[key] = {"points": lc.n_points, "ours_s": ours_s, "lightkurve_s": lk_s}
        versus = f"{ours_s / lk_s:.2f}x lightkurve's time" if lk_s else "lightkurve " + lk_what
        say(
            f"transit search, KIC 8462852 {label} ({lc.n_points:,} points): {ours_s:.2f} s end to "
            f"end [{ours_what}] vs lightkurve default BLS "
            + (f"{lk_s:.2f} s [{lk_what}] -> {versus}" if lk_s else f"-> {versus}")
        )
    tls_s, tls_what = _tls(quarter)
    figures["quarter"]["tls_s"] = tls_s
    ratio = figures["quarter"]["ours_s"] / tls_s
    say(
        f"transit search, one quarter: {figures['quarter']['ours_s']:.2f} s vs TLS {tls_s:.1f} s "
        f"[{tls_what}] -> {ratio:.3f}x TLS's time"
    )
    full_s = figures["full_mission"]["ours_s"]
    say(
        f"full mission within {FULL_MISSION_TARGET_S:.0f} s: "
        f"{'met' if full_s <= FULL_MISSION_TARGET_S else 'MISSED'} ({full_s:.1f} s)"
    )
    return figures


if __name__ == "__main__":
    bench_lightcurves()
