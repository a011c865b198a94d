"""``exohunter bench lightcurves``: ExoHunter's transit search, lightkurve's default BLS and
Transit Least Squares on every item of the public benchmark (:mod:`scoring.bench.lc_items`), in
the same run, judged first by what they recover, then by their time.

How each method is run and judged
---------------------------------
- **ExoHunter**: ``scoring.lightcurves.search.search`` end to end (detrending, every pass,
  refinement, diagnostics) on the item's light curve; a planet is recovered when one of its
  *significant* signals is at the planet's period. Its verdict is the product's:
  ``scoring.lightcurves.model.assess`` with the light-curve P(planet) model and the KOI table's
  star (when the star is a KOI host). The model is trained in a scratch database of the embedded
  warehouse from the shipped KOI table (never the user's data), so the figures do not depend on
  what a user has trained; the run prints its version and training time.
- **lightkurve's default BLS**: ``LightCurve.flatten()`` then ``to_periodogram("bls")``, its
  defaults (its period grid, six durations of 0.05-0.33 d), timed together. lightkurve gives no
  significance, so one is defined here as the field does for TLS: the signal detection
  efficiency of its power spectrum, SDE = (peak - mean) / standard deviation; a "likely planet" is
  its top peak at SDE >= :data:`SDE_THRESHOLD`. Where lightkurve refuses the light curve (its
  default grid is too large for a 4-year curve) the item is "refused".
- **TLS** (``transitleastsquares``, defaults, two threads) on ExoHunter's own detrended flux (the
  wotan biweight; TLS expects detrended data and the same input isolates the two searches); a
  "likely planet" is its top peak at SDE >= :data:`SDE_THRESHOLD` (Hippke & Heller 2019: SDE 9
  gives a false-alarm probability below 1e-4). Detrending is counted in its time.
- BLS and TLS report one peak; a recovery is that peak, above the threshold, at the planet's
  period. Neither vets: a deep eclipse above the threshold is their "likely planet".
- **The CNN** (a column of ExoHunter's, not a method): the champion of ``lightcurve_cnn`` in the
  warehouse (``exohunter cnn train``; the column is empty without one) scores every signal
  ExoHunter found, on the detrended light curve the search folded, as the product does. The
  items are Kepler light curves and one 2-minute TESS one: all outside the CNN's training domain
  (TESS QLP full-frame images). The summary also gives the verdict of a rule that would ask for
  the CNN's likely PC too, to decide whether the CNN belongs in the verdict.

Budgets: every method runs in a warm worker process of its own (imports and numba compilation
are paid once, before, and printed apart) and gets :data:`BUDGET_S` seconds per item; a worker
that has not answered by then is killed and the item is "not run (budget)". Before a BLS or TLS
run whose predicted time (its own period grid x points, at the rate the same method showed on
this run's finished items) exceeds :data:`SKIP_FACTOR` x the budget, the run is skipped as "not
run (budget)" — except the first such item per method, which runs until killed, to check the
prediction. An item a method did not
finish (budget, refusal, error) counts neither as a recovery nor as a false verdict.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import multiprocessing
import os
import signal
import statistics
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.bench import lc_items
from scoring.bench.harness import admit_unchecked
from scoring.bench.lc_items import Item, Series

OURS, BLS, TLS = "ExoHunter", "lightkurve BLS", "TLS"
METHODS = (OURS, BLS, TLS)
BASELINE = BLS
SDE_THRESHOLD = 9.0
BUDGET_S = {OURS: 90.0, BLS: 90.0, TLS: 90.0}
SKIP_FACTOR = 3.0
BLS_MAX_PERIODS = 10_000_000  # lightkurve refuses a larger default grid
RUN_TARGET_S = 30 * 60
STITCHED_TARGET_S = 10.0


# -- the methods (run inside their worker process) ----------------------------------------------
def _run_ours(t: np.ndarray, f: np.ndarray, e: np.ndarray | None) -> dict[str, Any]:
    from scoring.lightcurves import search

    start = time.perf_counter()
    result = search.search(t, f, e)
    return {
        "seconds": time.perf_counter() - start,
        "signals": result.signals,
        "n_periods": result.n_periods,
        "detail": f"{result.mode}, {result.n_periods:,} periods, stopped: {result.stopped_by}",
        # what the search folded: the CNN's views are made of it (not timed: after the search)
        "time": result.time,
        "detrended": result.detrended,
    }


def _sde(power: np.ndarray) -> float:
    power = power[np.isfinite(power)]
    spread = float(np.std(power))
    return float((power.max() - power.mean()) / spread) if spread > 0 else math.nan


def _run_bls(t: np.ndarray, f: np.ndarray, e: np.ndarray | None) -> dict[str, Any]:
    with warnings.catch_warnings():  # its import warns about an optional submodule
        warnings.simplefilter("ignore")
        import lightkurve
    logging.getLogger("lightkurve").setLevel(logging.ERROR)  # "likely to be large": we time it

    start = time.perf_counter()
    curve = lightkurve.LightCurve(time=t, flux=f, flux_err=e)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            periodogram = curve.flatten().to_periodogram(method="bls")
    except ValueError as exc:
        return {
            "seconds": time.perf_counter() - start,
            "refused": str(exc).split(".")[0].replace("`", ""),
        }
    power = np.asarray(periodogram.power.value, float)
    return {
        "seconds": time.perf_counter() - start,
        "period": float(periodogram.period_at_max_power.value),
        "sde": _sde(power),
        "n_periods": len(power),
    }


def _run_tls(t: np.ndarray, f: np.ndarray, e: np.ndarray | None) -> dict[str, Any]:
    from transitleastsquares import transitleastsquares

    from scoring.lightcurves import search

    start = time.perf_counter()
    detrended, _ = search.detrend(t, f, search.DEFAULT_CONFIG)
    good = np.isfinite(detrended)
    model = transitleastsquares(t[good], detrended[good])
    # TLS prints its banner and grid: keep the benchmark's output to its figures
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        result = model.power(use_threads=2, show_progress_bar=False)
    return {
        "seconds": time.perf_counter() - start,
        "period": float(result.period),
        "sde": float(result.SDE),
        "n_periods": len(result.periods),
    }


_RUNNERS = {OURS: _run_ours, BLS: _run_bls, TLS: _run_tls}


def tls_grid_size(series: Series) -> int:
    """The number of trial periods TLS's defaults search on this light curve."""
    from transitleastsquares import period_grid

    grid = period_grid(
        R_star=1.0,
        M_star=1.0,
        time_span=series.span_days,
        period_min=0,
        period_max=float("inf"),
        oversampling_factor=3,
    )
    return len(grid)


def bls_grid_size(series: Series) -> int:
    """The number of trial periods of lightkurve's default BLS grid (its own formula: durations
    0.05-0.33 d; periods from max(4 cadences, 0.33 d + a cadence) to a third of the span;
    frequency step 10 x 0.05 d / span^2); lightkurve refuses more than 10^7."""
    cadence = float(np.median(np.diff(series.time)))
    shortest = max(4 * cadence, 0.33 + cadence)
    longest = series.span_days / 3
    step = 10 * 0.05 / series.span_days**2
    return max(int((1 / shortest - 1 / longest) / step), 0) if longest > shortest else 0


#: Methods whose time is predicted before a run (see the module docstring).
GRID_SIZE = {BLS: bls_grid_size, TLS: tls_grid_size}


def _warm_up_series() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise with a box dip, 12 days: enough for every method's imports and compilation."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 12, 0.0204)
    f = 1 + 1e-4 * rng.standard_normal(len(t))
    f[(t % 3.0) < 0.1] -= 2e-3
    return t, f, np.full(len(t), 1e-4)


def _serve(conn: Any, method: str, warm_up: bool = True) -> None:
    """A worker: warm up, then run the method on every light curve sent, until told to stop."""
    os.setpgrp()  # its own process group: a budget kill takes TLS's pool processes with it
    run = _RUNNERS[method]
    start = time.perf_counter()
    if warm_up:
        with contextlib.suppress(Exception):
            run(*_warm_up_series())
    conn.send(time.perf_counter() - start)
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(run(*job))
        except Exception as exc:  # reported in the table, never hidden
            conn.send({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})


class Worker:
    """One method in its own process, so that a budget can be enforced by killing it."""

    def __init__(self, method: str, warm_up: bool = True) -> None:
        self.method = method
        self.warm_up = warm_up
        self.warm_up_s: list[float] = []
        self._start()

    def _start(self) -> None:
        # spawn, not fork: forking a process that already ran OpenMP (XGBoost, scikit-learn)
        # kills the child ("fork() called from a process already using GNU OpenMP")
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        # not a daemon: TLS starts a process pool of its own
        self._process = context.Process(target=_serve, args=(child, self.method, self.warm_up))
        self._process.start()
        child.close()
        if not self._conn.poll(600):
            raise RuntimeError(f"the {self.method} benchmark worker did not start")
        self.warm_up_s.append(self._conn.recv())

    def run(self, series: Series, budget_s: float) -> dict[str, Any] | None:
        """The method's result, or None when it did not finish within ``budget_s``."""
        self._conn.send((series.time, series.flux, series.flux_err))
        if self._conn.poll(budget_s):
            return self._conn.recv()
        self._kill()
        self._start()
        return None

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.join()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._kill()


# -- per item, per method -----------------------------------------------------------------------
@dataclass
class Outcome:
    """What one method did with one item, judged."""

    method: str
    status: str  # 'ok', 'not run (budget)', 'refused', 'error'
    seconds: float | None = None
    detail: str = ""
    top_period: float | None = None  # the first signal / top peak
    top_sde: float | None = None
    likely_periods: list[float] = field(default_factory=list)  # periods called likely planet
    planets: dict[str, str] = field(default_factory=dict)  # KOI -> recovered / alias P/3 / missed
    planets_likely: dict[str, bool] = field(default_factory=dict)  # recovered KOI -> verdict
    p_planet: float | None = None  # ExoHunter: of the first signal
    known_periods: list[float] = field(default_factory=list)  # the item's planets' periods
    cnn_p_pc: float | None = None  # ExoHunter: the CNN's P(PC) of the first signal
    cnn_planets: dict[str, float | None] = field(default_factory=dict)  # recovered KOI -> P(PC)
    cnn_likely_periods: list[float] = field(default_factory=list)  # significant, CNN likely PC
    both_likely_periods: list[float] = field(default_factory=list)  # likely planet and CNN PC

    @property
    def finished(self) -> bool:
        return self.status == "ok"

    def _false(self, periods: list[float]) -> int:
        return sum(
            1
            for period in periods
            if not any(lc_items.match(period, p) == "recovered" for p in self.known_periods)
        )

    @property
    def false_likely(self) -> int:
        """Likely-planet verdicts at no known planet's period (all of them on a no-planet item)."""
        return self._false(self.likely_periods)

    @property
    def false_cnn_likely(self) -> int:
        """The same for the CNN's likely-PC calls on significant signals."""
        return self._false(self.cnn_likely_periods)

    @property
    def false_both_likely(self) -> int:
        return self._false(self.both_likely_periods)


def judge(
    method: str,
    raw: dict[str, Any] | None,
    item: Item,
    assess: Any = None,
    cnn: Any = None,
) -> Outcome:
    """Judge a method's raw result on an item: recoveries (0.1 %, aliases), verdicts.

    ``assess(signal) -> (likely, p_planet)`` gives ExoHunter's verdict per signal (None: no
    model, so no signal is a likely planet); ``cnn(raw, signal) -> (likely_pc, p_pc)`` the CNN's
    (None: no CNN, no CNN column)."""
    if raw is None:
        return Outcome(method, "not run (budget)", detail=f"> {BUDGET_S[method]:.0f} s")
    if "skipped" in raw:
        return Outcome(method, "not run (budget)", detail=raw["skipped"])
    if "refused" in raw:
        return Outcome(method, "refused", raw["seconds"], raw["refused"])
    if "error" in raw:
        return Outcome(method, "error", detail=raw["error"])
    out = Outcome(method, "ok", raw["seconds"], raw.get("detail", ""))
    out.known_periods = [p.period_days for p in item.planets]
    if method == OURS:
        signals = raw["signals"]
        verdicts = [assess(s) if assess else (False, None) for s in signals]
        if signals:
            out.top_period, out.top_sde = signals[0].period_days, signals[0].sde
            out.p_planet = verdicts[0][1]
        found = [s for s in signals if s.significant]
        out.likely_periods = [s.period_days for s, v in zip(signals, verdicts, strict=True) if v[0]]
        scores = [cnn(raw, s) for s in signals] if cnn else []
        _judge_cnn(out, signals, verdicts, scores)
        for planet in item.planets:
            verdict, period = lc_items.classify([s.period_days for s in found], planet)
            out.planets[planet.koi] = verdict
            if verdict == "recovered":
                out.planets_likely[planet.koi] = period in out.likely_periods
                if scores:
                    out.cnn_planets[planet.koi] = next(
                        p
                        for s, (_, p) in zip(signals, scores, strict=True)
                        if s.significant and s.period_days == period
                    )
    else:
        out.top_period, out.top_sde = raw["period"], raw["sde"]
        out.detail = f"{raw['n_periods']:,} periods"
        above = out.top_sde >= SDE_THRESHOLD
        out.likely_periods = [out.top_period] if above else []
        for planet in item.planets:
            verdict, _ = lc_items.classify([out.top_period], planet)
            if verdict == "recovered" and not above:
                verdict = "below threshold"
            out.planets[planet.koi] = verdict
            if verdict == "recovered":
                out.planets_likely[planet.koi] = True
    return out


def _judge_cnn(
    out: Outcome,
    signals: list[Any],
    verdicts: list[tuple[bool, Any]],
    scores: list[tuple[bool, float | None]],
) -> None:
    """The CNN's figures of ExoHunter's outcome: its P(PC) of the first signal, its likely-PC
    calls among the significant signals, and the likely planets it also calls likely PC."""
    if not scores:
        return
    out.cnn_p_pc = scores[0][1] if signals else None
    for s, (likely, _), (likely_pc, _) in zip(signals, verdicts, scores, strict=True):
        if s.significant and likely_pc:
            out.cnn_likely_periods.append(s.period_days)
        if likely and likely_pc:
            out.both_likely_periods.append(s.period_days)


@dataclass
class ItemResult:
    item: Item
    label: str
    points: int
    span_days: float
    eligibility: list[lc_items.Eligibility]
    outcomes: dict[str, Outcome]
    section: str = ""

    @property
    def is_kepler_quarter(self) -> bool:
        return (
            len(self.item.paths) == 1 and self.section.startswith("Q") and "-" not in self.section
        )


def label(item: Item, series: Series) -> str:
    if item.paths[0].suffix == ".npy":
        return item.name
    return f"{item.target} {series.section}"


def run_methods(
    chosen: list[Item],
    methods: tuple[str, ...] = METHODS,
    budgets: dict[str, float] | None = None,
    say: Any = print,
    warm_up: bool = True,
) -> tuple[list[tuple[Item, Series, dict[str, dict[str, Any] | None]]], dict[str, float]]:
    """Every method on every item, one at a time (the timings do not compete with each other).
    ``warm_up=False`` (tests) leaves imports and compilation inside the first item's time."""
    budgets = budgets or BUDGET_S
    workers = {m: Worker(m, warm_up) for m in methods}
    warm = {m: w.warm_up_s[0] for m, w in workers.items()}
    say(
        "workers warm (imports, numba compilation; not counted): "
        + ", ".join(f"{m} {s:.1f} s" for m, s in warm.items())
    )
    rates: dict[str, list[float]] = {m: [] for m in GRID_SIZE}  # s per point x trial period
    checked: set[str] = set()
    raw_all = []
    try:
        for item in chosen:
            series = lc_items.load(item)
            raws: dict[str, dict[str, Any] | None] = {}
            for method in methods:
                budget = budgets[method]
                periods = GRID_SIZE[method](series) if method in GRID_SIZE else 0
                work = series.n_points * periods
                refuses = method == BLS and periods > BLS_MAX_PERIODS  # at once: let it say so
                if rates.get(method) and work and not refuses:
                    predicted = statistics.median(rates[method]) * work
                    if predicted > SKIP_FACTOR * budget:
                        if method in checked:
                            raws[method] = {"skipped": f"predicted {predicted:,.0f} s"}
                            continue
                        checked.add(method)  # the first such item runs, to check the prediction
                raw = workers[method].run(series, budget)
                if work and raw and "n_periods" in raw:
                    rates[method].append(raw["seconds"] / work)
                raws[method] = raw
            say(f"  {label(item, series)}: " + ", ".join(_brief(m, r) for m, r in raws.items()))
            raw_all.append((item, series, raws))
    finally:
        for worker in workers.values():
            worker.close()
    warm_total = {m: sum(w.warm_up_s) for m, w in workers.items()}
    return raw_all, warm_total


def _brief(method: str, raw: dict[str, Any] | None) -> str:
    if raw is None or "skipped" in raw:
        return f"{method} not run (budget)"
    if "error" in raw or "refused" in raw:
        return f"{method} {'refused' if 'refused' in raw else 'error'}"
    return f"{method} {raw['seconds']:.1f} s"


def judge_all(
    raw_all: list[tuple[Item, Series, dict[str, dict[str, Any] | None]]],
    assessor: Any = None,
    cnn: Any = None,
) -> list[ItemResult]:
    """``assessor(item, series) -> assess(signal)`` gives ExoHunter's verdicts on an item;
    ``cnn`` the CNN's (:func:`cnn_scorer`)."""
    results = []
    for item, series, raws in raw_all:
        assess = assessor(item, series) if assessor else None
        outcomes = {m: judge(m, r, item, assess, cnn) for m, r in raws.items()}
        results.append(
            ItemResult(
                item,
                label(item, series),
                series.n_points,
                series.span_days,
                lc_items.eligibility(series, item.planets),
                outcomes,
                series.section,
            )
        )
    return results


# -- summary ------------------------------------------------------------------------------------
def summarise(results: list[ItemResult], method: str) -> dict[str, Any]:
    eligible = [(r, e) for r in results for e in r.eligibility if e.eligible]
    ran = [r for r in results if r.outcomes.get(method) and r.outcomes[method].finished]
    recovered = [
        (r, e) for r, e in eligible if r.outcomes[method].planets.get(e.planet.koi) == "recovered"
    ]
    aliases = [
        (r, e)
        for r, e in eligible
        if r.outcomes[method].planets.get(e.planet.koi, "").startswith("alias")
    ]
    not_eligible_recovered = sum(
        1
        for r in ran
        for e in r.eligibility
        if not e.eligible and r.outcomes[method].planets.get(e.planet.koi) == "recovered"
    )
    likely_of_recovered = sum(
        1 for r, e in recovered if r.outcomes[method].planets_likely.get(e.planet.koi)
    )
    no_planet = [r for r in ran if not r.item.expects_planet]
    false_items = [r.label for r in no_planet if r.outcomes[method].false_likely]
    hosts_wrong = sum(r.outcomes[method].false_likely for r in ran if r.item.expects_planet)
    not_run = [r.label for r in results if r.outcomes[method].status == "not run (budget)"]
    refused = [r.label for r in results if r.outcomes[method].status in ("refused", "error")]
    quarters = [r.outcomes[method].seconds for r in ran if r.is_kepler_quarter]
    stitched = [r for r in ran if len(r.item.paths) > 1]
    return {
        "eligible": len(eligible),
        "recovered": len(recovered),
        "recovered_planets": [f"{e.planet.name or e.planet.koi} ({r.label})" for r, e in recovered],
        "aliases": len(aliases),
        "missed": sum(
            1
            for r, e in eligible
            if r.outcomes[method].planets.get(e.planet.koi) in ("missed", "below threshold")
        ),
        "eligible_not_run": sum(1 for r, _ in eligible if not r.outcomes[method].finished),
        "recovered_not_eligible": not_eligible_recovered,
        "likely_of_recovered": likely_of_recovered,
        "false_likely_no_planet": len(false_items),
        "false_likely_items": false_items,
        "no_planet_items_run": len(no_planet),
        "likely_wrong_period_on_hosts": hosts_wrong,
        "not_run_budget": not_run,
        "refused_or_error": refused,
        "items_run": len(ran),
        "total_s": sum(r.outcomes[method].seconds for r in ran),
        "quarter_median_s": statistics.median(quarters) if quarters else None,
        "stitched_s": stitched[0].outcomes[method].seconds if stitched else None,
        "cnn": _cnn_summary(recovered, no_planet, ran, method),
    }


def _cnn_summary(
    recovered: list[tuple[ItemResult, Any]],
    no_planet: list[ItemResult],
    ran: list[ItemResult],
    method: str,
) -> dict[str, Any] | None:
    """The CNN's figures on a method's items (None: the CNN scored none of them): its P(PC) of
    the recovered planets, its likely-PC calls, and the verdict of a rule that would also ask
    for the CNN's likely PC, on the recovered planets and on the items with no planet."""
    if not any(r.outcomes[method].cnn_p_pc is not None for r in ran):
        return None

    def called(r: ItemResult, e: Any, periods: list[float]) -> bool:
        return any(lc_items.match(p, e.planet.period_days) == "recovered" for p in periods)

    scores = [
        p
        for r, e in recovered
        if (p := r.outcomes[method].cnn_planets.get(e.planet.koi)) is not None
    ]
    return {
        "recovered_scored": len(scores),
        "recovered_p_pc": sorted(scores),
        "likely_pc_of_recovered": sum(
            called(r, e, r.outcomes[method].cnn_likely_periods) for r, e in recovered
        ),
        "false_likely_pc_no_planet": sum(
            1 for r in no_planet if r.outcomes[method].false_cnn_likely
        ),
        "with_cnn_likely_of_recovered": sum(
            called(r, e, r.outcomes[method].both_likely_periods) for r, e in recovered
        ),
        "with_cnn_false_likely_no_planet": sum(
            1 for r in no_planet if r.outcomes[method].false_both_likely
        ),
    }


def ratio(results: list[ItemResult], method: str, baseline: str) -> dict[str, Any] | None:
    """Time of ``method`` over ``baseline`` on the items both finished, with both recoveries on
    those items: the ratio counts as a speed-up only at equal or better recovery."""
    both = [
        r
        for r in results
        if r.outcomes.get(method)
        and r.outcomes.get(baseline)
        and r.outcomes[method].finished
        and r.outcomes[baseline].finished
    ]
    if not both:
        return None

    def rec(m: str) -> int:
        return sum(
            1
            for r in both
            for e in r.eligibility
            if e.eligible and r.outcomes[m].planets.get(e.planet.koi) == "recovered"
        )

    def false(m: str) -> int:
        return sum(1 for r in both if not r.item.expects_planet and r.outcomes[m].false_likely)

    mine = sum(r.outcomes[method].seconds for r in both)
    theirs = sum(r.outcomes[baseline].seconds for r in both)
    return {
        "items": len(both),
        "ratio": mine / theirs if theirs else math.nan,
        "seconds": (mine, theirs),
        "recovered": (rec(method), rec(baseline)),
        "false_likely": (false(method), false(baseline)),
        "equal_or_better": rec(method) >= rec(baseline) and false(method) <= false(baseline),
    }


# -- the light-curve model, in a scratch database -----------------------------------------------
@dataclass
class Verdicts:
    model_version: str | None
    train_s: float
    stars: dict[int, Any]
    artifact: dict[str, Any] | None
    note: str


def train_in_scratch(kepids: set[int], say: Any = print) -> Verdicts:
    """Build the KOI feature mart and train the light-curve P(planet) model in a scratch
    database of the embedded warehouse (never the user's data); the stars of ``kepids`` come from
    its KOI table."""
    import psycopg

    from scoring import settings
    from scoring.ingest import loader
    from scoring.lightcurves import model, store
    from scoring.warehouse import dbt_runner, server

    cluster = server.embedded()
    cluster.up()
    start = time.perf_counter()
    with cluster.scratch_database("bench_lc") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            admit_unchecked(conn, loader.load_koi_file(conn, settings.SHIPPED_KOI_FILE).batch_id)
        dbt_runner.run_dbt(["build", "--exclude", "tag:scored"], url, on_line=lambda _: None)
        with psycopg.connect(url, autocommit=True) as conn:
            trained = model.train(conn, force=True)
            version, artifact = model.champion_artifact(conn)
            empty = {"stellar_teff_k": None, "stellar_logg_cgs": None, "stellar_radius_solar": None}
            stars = {k: store.star_for(empty, store.kois_of(conn, k)) for k in kepids}
    seconds = time.perf_counter() - start
    note = (
        f"light-curve P(planet) model {version} trained in a scratch database of the embedded "
        f"warehouse from the shipped KOI table ({trained.n_rows:,} KOIs; ingest, dbt build and "
        f"training {seconds:.0f} s, not counted in any method's time)"
    )
    say(note)
    return Verdicts(version, seconds, stars, artifact, note)


def assessor_for(verdicts: Verdicts) -> Any:
    from scoring.lightcurves import model

    def for_item(item: Item, series: Series) -> Any:
        star = verdicts.stars.get(series.kepid) or model.Star()

        def assess(signal: Any) -> tuple[bool, float | None]:
            a = model.assess(verdicts.artifact, signal, star)
            return a.likely_planet, a.p_planet

        return assess

    return for_item


# -- the CNN, from the warehouse -----------------------------------------------------------------
@dataclass
class Cnn:
    model_version: str | None
    model: Any
    note: str


def champion_cnn(say: Any = print) -> Cnn:
    """The warehouse's CNN champion (``exohunter cnn train``), or none: then no CNN column."""
    from scoring.cnn import predict
    from scoring.warehouse import server

    with server.connect(server.database_url()) as conn:
        version, model = predict.champion(conn)
    note = (
        f"CNN {version} (the warehouse's champion of lightcurve_cnn): trained on TESS QLP "
        "full-frame-image views; every item here is Kepler, outside its training domain"
        if version
        else "no CNN trained in the warehouse (exohunter cnn train): no CNN column"
    )
    say(note)
    return Cnn(version, model, note)


def cnn_scorer(cnn: Cnn) -> Any:
    """``score(raw, signal) -> (likely_pc, p_pc)`` on the detrended light curve the search
    folded (None, None when no view can be made of the fold); None without a CNN."""
    if cnn.model is None:
        return None
    from scoring.cnn import predict
    from scoring.cnn.views import ViewError

    def score(raw: dict[str, Any], signal: Any) -> tuple[bool, float | None]:
        try:
            s = predict.score_signal(
                cnn.model,
                raw["time"],
                raw["detrended"],
                signal.period_days,
                signal.epoch,
                signal.duration_hours / 24,
            )
        except ViewError:
            return False, None
        return s.likely_pc, s.p_pc

    return score


# -- the table ----------------------------------------------------------------------------------
def _cell(o: Outcome | None, item: ItemResult) -> str:
    if o is None:
        return ""
    if not o.finished:
        return o.status + (f" ({o.detail})" if o.detail else "")
    parts = [f"{o.seconds:.1f} s"]
    if o.top_period is not None:
        parts.append(f"top {o.top_period:.4f} d SDE {o.top_sde:.1f}")
    for e in item.eligibility:
        mark = "" if e.eligible else " (not eligible)"
        likely = " likely" if o.planets_likely.get(e.planet.koi) else ""
        parts.append(f"{e.planet.name or e.planet.koi}: {o.planets[e.planet.koi]}{likely}{mark}")
    if o.false_likely:
        parts.append(f"FALSE likely planet x{o.false_likely}")
    return "; ".join(parts)


def _cnn_cell(o: Outcome | None) -> str:
    """The CNN's P(PC) of the first signal and of each recovered planet; its false calls."""
    if o is None or o.cnn_p_pc is None:
        return "-"
    parts = [f"top {o.cnn_p_pc:.3f}"]
    parts += [f"{koi} {p:.3f}" for koi, p in o.cnn_planets.items() if p is not None]
    if o.false_cnn_likely:
        parts.append(f"likely PC at a wrong period x{o.false_cnn_likely}")
    return "; ".join(parts)


CNN_ROWS = (
    (
        "CNN: likely PC of recovered (significant signals)",
        lambda c: f"{c['likely_pc_of_recovered']}/{c['recovered_scored']}",
    ),
    (
        "CNN: P(PC) of recovered planets",
        lambda c: ", ".join(f"{p:.2f}" for p in c["recovered_p_pc"]) or "-",
    ),
    ("CNN: false likely PC (no-planet items)", lambda c: str(c["false_likely_pc_no_planet"])),
    (
        "verdict AND CNN likely PC: likely of recovered",
        lambda c: str(c["with_cnn_likely_of_recovered"]),
    ),
    (
        "verdict AND CNN likely PC: false likely (no planet)",
        lambda c: str(c["with_cnn_false_likely_no_planet"]),
    ),
)


def _if_cnn(value: Any) -> Any:
    return lambda s: "-" if s["cnn"] is None else value(s["cnn"])


def print_tables(
    results: list[ItemResult], summaries: dict[str, dict[str, Any]], ratios: dict, console: Any
) -> None:
    from rich.table import Table

    per_item = Table(
        title="transit search on the light-curve benchmark, per item", show_lines=False
    )
    per_item.add_column("item")
    per_item.add_column("kind")
    per_item.add_column("points", justify="right")
    for method in summaries:
        per_item.add_column(method)
    per_item.add_column("CNN P(PC) (ExoHunter's signals)")
    for r in results:
        per_item.add_row(
            r.label,
            r.item.kind,
            f"{r.points:,}",
            *(_cell(r.outcomes.get(m), r) for m in summaries),
            _cnn_cell(r.outcomes.get(OURS)),
        )
    console.print(per_item)

    eligible = next(iter(summaries.values()))["eligible"]
    table = Table(
        title=f"per method ({eligible} eligible planets: >= {lc_items.MIN_TRANSITS} "
        f"transits, depth >= {lc_items.MIN_DEPTH_OVER_NOISE:g}x noise per duration)"
    )
    table.add_column("")
    for method in summaries:
        table.add_column(method, justify="right")
    rows = [
        ("recovered at the period (0.1 %)", lambda s: f"{s['recovered']}/{s['eligible']}"),
        ("  aliases (P/n, nP, n/m P)", lambda s: str(s["aliases"])),
        ("  missed (or below threshold)", lambda s: str(s["missed"])),
        ("  eligible, not run", lambda s: str(s["eligible_not_run"])),
        ("  recovered, not eligible", lambda s: str(s["recovered_not_eligible"])),
        (
            "likely-planet verdict of recovered",
            lambda s: f"{s['likely_of_recovered']}/{s['recovered']}",
        ),
        (
            "false likely planet (EBs, KIC 11454304, flaring)",
            lambda s: f"{s['false_likely_no_planet']}/{s['no_planet_items_run']}",
        ),
        (
            "likely planet at a wrong period (hosts)",
            lambda s: str(s["likely_wrong_period_on_hosts"]),
        ),
        ("not run (budget)", lambda s: str(len(s["not_run_budget"]))),
        ("refused / error", lambda s: str(len(s["refused_or_error"]))),
        ("time, items it finished", lambda s: f"{s['total_s']:.1f} s ({s['items_run']})"),
        (
            "time per quarter (median)",
            lambda s: "-" if s["quarter_median_s"] is None else f"{s['quarter_median_s']:.2f} s",
        ),
        (
            "stitched KIC 11454304 (18 quarters)",
            lambda s: "-" if s["stitched_s"] is None else f"{s['stitched_s']:.1f} s",
        ),
    ]
    rows += [(name, _if_cnn(value)) for name, value in CNN_ROWS]
    for name, value in rows:
        table.add_row(name, *(value(s) for s in summaries.values()))
    for baseline in (BLS, TLS):
        cells = []
        for method in summaries:
            r = ratios.get((method, baseline))
            if method == baseline or r is None:
                cells.append("-")
                continue
            verdict = "" if r["equal_or_better"] else " (fewer found: not a speed-up)"
            cells.append(
                f"{r['ratio']:.2f}x on {r['items']} items, recovered {r['recovered'][0]} vs "
                f"{r['recovered'][1]}{verdict}"
            )
        table.add_row(f"time / {baseline}'s, same items", *cells)
    console.print(table)


def _revision() -> str:
    """The commit the search runs from, and whether the light-curve code differs from it."""
    import subprocess

    from scoring import settings

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=settings.PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "scoring/lightcurves")
    return head + (" + uncommitted changes in scoring/lightcurves" if dirty else "")


def bench_lightcurves(
    quiet: bool = False,
    budgets: dict[str, float] | None = None,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """The whole benchmark; ``only`` restricts it to items whose label contains one of the
    given strings (for a quick look). Returns the figures."""
    from rich.console import Console

    console = Console(quiet=quiet, width=200)
    say = console.print
    started = time.perf_counter()
    load = os.getloadavg()
    revision = _revision()
    chosen = lc_items.items()
    if only:
        chosen = [i for i in chosen if any(o in i.name or o in str(i.paths[0]) for o in only)]
    budgets = budgets or BUDGET_S
    say(
        f"light-curve benchmark: {len(chosen)} items, {', '.join(METHODS)}; budget per item "
        + ", ".join(f"{m} {b:.0f} s" for m, b in budgets.items())
        + f"; likely planet for BLS/TLS: top peak SDE >= {SDE_THRESHOLD:g}"
    )
    raw_all, warm = run_methods(chosen, METHODS, budgets, say)
    kepids = {s.kepid for _, s, _ in raw_all if s.kepid is not None}
    verdicts = train_in_scratch(kepids, say)
    cnn = champion_cnn(say)
    results = judge_all(raw_all, assessor_for(verdicts), cnn_scorer(cnn))
    summaries = {m: summarise(results, m) for m in METHODS}
    ratios = {(m, b): ratio(results, m, b) for m in METHODS for b in (BLS, TLS) if m != b}
    print_tables(results, summaries, ratios, console)
    wall = time.perf_counter() - started
    end = os.getloadavg()
    say(
        f"whole run {wall / 60:.1f} min (target {RUN_TARGET_S / 60:.0f} min) on "
        f"{os.cpu_count()} cores, load average (1 min) {load[0]:.1f} at the start, {end[0]:.1f} "
        f"at the end; search code {revision}; not-run items count neither as recovered nor as a "
        "false verdict"
    )
    return {
        "methods": summaries,
        "ratios": {f"{m} / {b}": r for (m, b), r in ratios.items()},
        "items": [
            {
                "item": r.label,
                "kind": r.item.kind,
                "points": r.points,
                "eligibility": [
                    {
                        "planet": e.planet.koi,
                        "transits": e.n_transits,
                        "depth_over_noise": e.depth_over_noise,
                        "eligible": e.eligible,
                    }
                    for e in r.eligibility
                ],
                **{
                    m: {
                        "status": o.status,
                        "seconds": o.seconds,
                        "top_period": o.top_period,
                        "planets": o.planets,
                        "false_likely": o.false_likely,
                        "cnn_p_pc": o.cnn_p_pc,
                        "cnn_planets": o.cnn_planets,
                    }
                    for m, o in r.outcomes.items()
                },
            }
            for r in results
        ],
        "model": {
            "version": verdicts.model_version,
            "train_s": verdicts.train_s,
            "how": verdicts.note,
        },
        "cnn": {"version": cnn.model_version, "how": cnn.note},
        "warm_up_s": warm,
        "budgets_s": budgets,
        "load_average": {"start": load, "end": end},
        "search_revision": revision,
        "wall_s": wall,
    }


if __name__ == "__main__":
    bench_lightcurves()
