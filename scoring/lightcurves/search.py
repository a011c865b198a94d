"""Search a light curve for periodic transits: robust detrending, a bounded box search, and the
per-signal diagnostics a vetter asks for first.

Why it is built this way
------------------------
- **Detrending**: wotan's biweight (a robust sliding location) with a window of three times the
  longest transit searched, so that a transit keeps its depth while stellar variability on
  longer time scales is removed (Hippke et al. 2019, "Wōtan").
- **Period grid**: uniform in frequency^(1/3) (Ofir 2014), spaced so that over the whole
  baseline a transit drifts by less than ``1 / oversampling`` (3, TLS's default) of the
  *shortest duration searched* at that period — the duty-cycle-aware spacing of Ofir, TLS and
  the Kepler pipeline's TPS, with the duration the band actually searches rather than a Sun-like
  star's (a denser star, or a grazing transit, is shorter). The grid grows with the baseline and
  thins out at long periods, instead of astropy's ``autoperiod`` (43 million trial periods for
  the Kepler mission).
- **Bounded work**: the grid is cut into period bands (a factor of two each); a band searches only
  the durations a transit can have at its periods, on data binned to half its shortest
  duration. A light curve longer than ``coherent_days`` is searched *semi-coherently*: each band
  on segments that hold ``segment_transits`` transits of its longest period, each segment on the
  grid its own baseline needs, the per-segment log-likelihoods summed (as in semi-coherent
  pulsar and gravitational-wave searches); only the longest periods see the whole baseline at
  once. All passes together stop at ``max_work`` units of BLS work (points plus phase bins, per
  trial period: :func:`bls_cost`). Every candidate
  is refined by a coherent box fit on a fine local grid over the full, unbinned light curve and
  a trapezoid fit, so the reported period and epoch have the full baseline's precision.
- **Which peak**: the spectrum is the box's delta chi-square at each trial period (its S/N
  squared), and the peak is chosen on the whole spectrum at once, after TLS's running-median
  detrending (``sde_kernel`` x oversampling trial periods), never per band: a hot Jupiter's
  sub-harmonics must not win in a band of their own.
- **Harmonics and aliases**: the peak's period P is compared with P/3, P/2, 2P and 3P, each refined
  coherently on the unbinned data; the fold with the largest delta chi-square wins (a transit of
  one depth at every epoch is fitted best at its own period: at P/k the empty epochs dilute it,
  at kP the others are lost), and a shorter period that fits as well is preferred (its extra
  epochs fell in gaps). Odd/even depths, the depth at half the period and at phase 0.5 then say
  whether an eclipsing binary is being folded.
- **Significance**, as the field measures it: the signal detection efficiency (SDE, Kovács et al.
  2002) of the detrended spectrum, with TLS's threshold SDE >= 9 (a white-noise false-alarm
  probability below 1e-4 in Hippke & Heller 2019, whose calibration gives the reported FAP);
  the S/N against the light curve's own noise at the transit's duration (white and red noise,
  Pont et al. 2006) at the Kepler pipeline's 7.1 sigma; at least ``min_transits`` transits with
  data; and stronger than anything the *inverted* light curve produces (the Kepler DR25
  inverted-light-curve test: systematics and flares make "transits" in the inverted flux too,
  a transit does not), which calibrates the threshold on the light curve's own noise.
- **Several signals**: the transits of a detection are masked and the search repeats, up to
  ``max_signals`` times. A pass that is not significant ends the search only when nothing in it
  could hide another signal (its S/N is below the threshold or below the inverted light
  curve's); a strong but non-significant feature (a single deep event) is masked and the search
  goes on.
- **Diagnostics** (astropy's ``compute_stats`` on the unbinned detrended flux): odd/even depth
  difference in sigma, the depth at phase 0.5 (secondary eclipse), the depth at half the period,
  whether a sinusoid explains the fold better than a box (variability, not a transit), and the
  transit's shape: a V (no flat bottom: a grazing eclipse) against a U (a planet's flat bottom),
  by the chi-square of the two trapezoids.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
from astropy.timeseries import BoxLeastSquares

from scoring.errors import ExoHunterError

#: Days per year, and a central transit of the Sun seen edge-on at 1 AU lasts ~13 hours.
_YEAR_DAYS = 365.25
_SUN_CENTRAL_DURATION_HOURS = 13.0
#: R_sun / (G M_sun)^(1/3) in days^(2/3): the stellar-size term of Ofir's (2014) grid spacing.
_R_SUN_M = 6.957e8
_GM_SUN = 1.32712440018e20
_DAY_S = 86400.0
_SUN_SCALE = _R_SUN_M / _GM_SUN ** (1 / 3) / _DAY_S ** (2 / 3)


class SearchError(ExoHunterError, ValueError):
    """The light curve cannot be searched (too short, too few points); the message says why."""


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; hashed into ``version``."""

    min_period_days: float = 0.5
    durations_hours: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 9.0, 13.5)
    oversampling: float = 3.0  # TLS's default (Hippke & Heller 2019)
    coherent_days: float = 100.0
    segment_transits: int = 4
    max_work: float = 4.8e8  # BLS work (bls_cost: points + phase bins per period), all passes
    first_work: float = 3e8  # the first pass's share: its grid is coarsened to fit
    max_signals: int = 5
    min_sde: float = 9.0  # TLS: SDE >= 9 is a white-noise false-alarm probability < 1e-4
    min_snr: float = 7.1  # the Kepler pipeline's multiple-event statistic threshold
    min_transits: int = 2
    refine_periods: int = 200
    sde_kernel: int = 30  # TLS's running-median kernel, in trial periods per oversampling
    harmonics: tuple[float, ...] = (1 / 3, 1 / 2, 2.0, 3.0)
    invert: bool = True  # search the inverted light curve too: its own false-alarm level
    threads: int = 2

    @property
    def window_days(self) -> float:
        """The biweight window: three times the longest transit searched."""
        return 3.0 * max(self.durations_hours) / 24.0

    def version(self) -> str:
        payload = json.dumps({"search": asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


DEFAULT_CONFIG = SearchConfig()


@dataclass
class Signal:
    """One detected periodic signal, in the units of the KOI table."""

    number: int
    period_days: float
    epoch: float  # mid-transit time, in the light curve's time system
    duration_hours: float
    depth_ppm: float
    depth_err_ppm: float
    snr: float
    sde: float
    fap: float
    n_transits: int
    odd_depth_ppm: float
    even_depth_ppm: float
    odd_even_sigma: float
    secondary_depth_ppm: float
    secondary_snr: float
    half_period_depth_ppm: float
    sinusoid_preferred: bool
    period_check: str  # 'consistent', 'half period fits as well', 'double period: odd/even differ'
    significant: bool
    transit_depths_ppm: list[float] = field(default_factory=list)  # per transit with data
    snr_white: float = float("nan")  # the box's formal S/N (white noise only)
    noise_per_transit_ppm: float = float("nan")  # scatter of the flux binned to the duration
    inverted_snr: float = float("nan")  # the strongest S/N the inverted light curve reaches
    peak_ratio: float = 1.0  # chosen period / the spectrum's peak (1/3, 1/2, 1, 2, 3)
    ingress_fraction: float = float("nan")  # trapezoid ingress / total duration (0.5: a V)
    v_shape_chi2: float = 0.0  # chi2(flat-bottomed U) - chi2(V): > 9 prefers a V at 3 sigma
    others_snr: float = float("nan")  # S/N of the transits without the deepest one
    depth_consistency_p: float = 1.0  # chi-square p-value of one depth for every transit
    failed: list[str] = field(default_factory=list)  # the significance criteria it misses
    # an earlier signal with this one's period: this is its secondary eclipse (no two planets
    # share an orbit), found once that signal's transits were masked; and its phase from it
    eclipse_of: int | None = None
    eclipse_phase: float = float("nan")
    # on that earlier signal: the later one, when it is deeper than a planet's occultation
    # can be (a tenth of the transit, as for the phase-0.5 secondary): an eclipsing binary
    deep_eclipse: int | None = None

    @property
    def snr_per_transit(self) -> float:
        return self.snr / math.sqrt(max(self.n_transits, 1))


@dataclass
class Periodogram:
    period_days: np.ndarray
    power: np.ndarray  # detrended delta chi-square in standard deviations: SDE at the peak
    snr: np.ndarray  # sqrt(delta chi-square): the box's S/N at each trial period
    band: np.ndarray  # band number of each trial period


@dataclass
class SearchResult:
    time: np.ndarray
    flux: np.ndarray  # normalised to a median of 1
    trend: np.ndarray
    detrended: np.ndarray
    signals: list[Signal]  # significant ones, then the first non-significant peak (if any)
    periodogram: Periodogram  # of the first pass
    mode: str  # 'coherent' or 'semi-coherent'
    n_periods: int
    work: float  # the first pass's BLS work (bls_cost)
    timings: dict[str, float] = field(default_factory=dict)
    version: str = ""
    stopped_by: str = ""  # why the search for further signals ended
    inverted_snr: float = float("nan")  # the inverted light curve's strongest S/N

    @property
    def detections(self) -> list[Signal]:
        return [s for s in self.signals if s.significant]


# -- grid ---------------------------------------------------------------------------------------
def central_duration_days(period_days: float | np.ndarray) -> float | np.ndarray:
    """Duration of a central transit across a Sun-like star (scales as P^(1/3))."""
    return _SUN_CENTRAL_DURATION_HOURS / 24.0 * (np.asarray(period_days) / _YEAR_DAYS) ** (1 / 3)


def period_grid(
    span_days: float,
    min_period: float,
    max_period: float,
    oversampling: float,
    duration_ratio: float = 1.0,
):
    """Trial periods uniform in frequency^(1/3) (Ofir 2014), ascending.

    ``duration_ratio``: the shortest duration searched over a Sun-like star's central one; the
    step shrinks with it, so the drift over the baseline stays below that duration / oversampling.
    """
    if max_period <= min_period:
        return np.empty(0)
    step = grid_step(span_days, oversampling) * min(1.0, duration_ratio)
    x_low, x_high = (1 / max_period) ** (1 / 3), (1 / min_period) ** (1 / 3)
    x = np.arange(x_low, x_high, step)
    return np.sort(1.0 / x**3)


def grid_step(span_days: float, oversampling: float) -> float:
    """Ofir's constant step in x = frequency^(1/3) [day^(-1/3)] for a Sun-like star."""
    return (2 * math.pi) ** (2 / 3) / math.pi * _SUN_SCALE / (span_days * oversampling) / 3


def period_step(
    period: float, span_days: float, oversampling: float, duration_ratio: float = 1.0
) -> float:
    """The grid's spacing in period at ``period``: dP = 3 P^(4/3) dx."""
    return 3 * period ** (4 / 3) * grid_step(span_days, oversampling) * min(1.0, duration_ratio)


@dataclass
class Band:
    periods: np.ndarray
    durations: np.ndarray  # days
    bin_days: float

    @property
    def duration_ratio(self) -> float:
        """The shortest duration over a Sun-like central one at the band's longest period."""
        return float(self.durations.min() / central_duration_days(self.periods[-1]))


def band(periods: np.ndarray, config: SearchConfig, cadence: float) -> Band | None:
    """The durations plausible for a factor-of-two band of periods, and the bin width.

    Durations run from half a central transit at the band's shortest period (grazing transits,
    dense stars) to three times one at its longest (giants), never above 20 % of the shortest
    period; the data are binned to half the shortest duration (never below the cadence).
    """
    durations = np.array(sorted(config.durations_hours)) / 24.0
    lo = float(central_duration_days(periods[0])) / 2
    hi = min(3 * float(central_duration_days(periods[-1])), 0.2 * periods[0])
    usable = durations[(durations >= lo) & (durations <= hi)]
    if len(usable) == 0:
        usable = durations[durations <= 0.2 * periods[0]][-1:]
    if len(usable) == 0:
        return None
    return Band(periods, usable, max(cadence, usable[0] / 2))


def bin_series(time_: np.ndarray, flux: np.ndarray, width: float):
    """Mean flux in bins of ``width`` days (empty bins dropped) and the points per bin."""
    index = np.floor((time_ - time_[0]) / width).astype(np.int64)
    counts = np.bincount(index)
    keep = counts > 0
    t = np.bincount(index, time_)[keep] / counts[keep]
    f = np.bincount(index, flux)[keep] / counts[keep]
    return t, f, counts[keep]


# -- detrending ---------------------------------------------------------------------------------
def detrend(time_: np.ndarray, flux: np.ndarray, config: SearchConfig):
    """(detrended flux, trend) with wotan's biweight; NaN where the window had too little data."""
    from wotan import flatten

    flattened, trend = flatten(
        time_, flux, method="biweight", window_length=config.window_days, return_trend=True
    )
    return np.asarray(flattened, float), np.asarray(trend, float)


def robust_sigma(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


# -- one pass -----------------------------------------------------------------------------------
@dataclass
class _Job:
    time: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    periods: np.ndarray
    durations: np.ndarray
    band: int
    grid_span: float  # the baseline the band's grid was spaced for
    duration_ratio: float = 1.0  # the grid's spacing relative to a Sun-like star's (Band)
    oversampling: float = 3.0  # the grid's, after any coarsening to the work bound
    low: float = 0.0  # the band's period range
    high: float = 0.0


def _jobs(
    t, f, sigma: float, config: SearchConfig, cadence: float, span: float, oversampling: float
):
    """The BLS calls of one pass: (jobs, mode, number of trial periods, work).

    Period bands of a factor of two. A light curve no longer than ``coherent_days`` is searched
    coherently; a longer one band by band on segments holding ``segment_transits`` transits of
    the band's longest period (the whole light curve once that is longer than half of it).
    """
    max_period = span / config.min_transits
    jobs: list[_Job] = []
    n_periods, work, segmented = 0, 0.0, False
    low, number = config.min_period_days, 0
    while low < max_period:
        high = min(2 * low, max_period)
        length = span if span <= config.coherent_days else config.segment_transits * high
        n_segments = max(1, int(span // length))
        grid_span = span / n_segments
        chosen = band(np.array([low, high]), config, cadence)
        if chosen is not None:
            ratio = chosen.duration_ratio
            grid = period_grid(grid_span, low, high, oversampling, ratio)
        if chosen is not None and len(grid):
            edges = np.linspace(t[0], t[-1], n_segments + 1)
            edges[-1] = np.inf
            # t is sorted: each segment is a slice (a century of sparse data has ~10^4 segments)
            for a, b in itertools.pairwise(np.searchsorted(t, edges)):
                if b - a < 10:
                    continue
                bt, bf, counts = bin_series(t[a:b], f[a:b], chosen.bin_days)
                errors = sigma / np.sqrt(counts)
                jobs.append(
                    _Job(
                        bt,
                        bf,
                        errors,
                        grid,
                        chosen.durations,
                        number,
                        grid_span,
                        ratio,
                        oversampling,
                        low,
                        high,
                    )
                )
                work += bls_cost(len(bt), grid, chosen.durations)
            n_periods += len(grid)
            segmented |= n_segments > 1
        low, number = high, number + 1
    return jobs, ("semi-coherent" if segmented else "coherent"), n_periods, work


def bls_cost(n_points: int, periods: np.ndarray, durations: np.ndarray) -> float:
    """The work of one BLS call: at each trial period every point is binned in phase, and every
    phase bin (half the shortest duration, ``_run``'s oversample of 2) is scanned. The bins
    dominate for sparse data over a long span (2,000 points over a century: a 10,000-day
    period has 480,000 bins of half an hour), which a points x periods bound would not see."""
    return float(len(periods) * n_points + np.sum(periods) / (float(durations.min()) / 2))


def _regrid(jobs: list[_Job], oversampling: float) -> float:
    """Space every job's grid for ``oversampling`` (the binned data stay); the new work."""
    grids: dict[int, np.ndarray] = {}
    work = 0.0
    for job in jobs:
        if job.band not in grids:
            grids[job.band] = period_grid(
                job.grid_span, job.low, job.high, oversampling, job.duration_ratio
            )
        job.periods, job.oversampling = grids[job.band], oversampling
        work += bls_cost(len(job.time), job.periods, job.durations)
    return work


def _run(job: _Job):
    # two phase bins per shortest duration: the refinement resolves the phase finely later
    result = BoxLeastSquares(job.time, job.flux, job.error).power(
        job.periods, job.durations, objective="likelihood", oversample=2
    )
    return 2 * np.asarray(result.power, float)  # delta chi-square = 2 delta log-likelihood


def sde_spectrum(delta_chi2: np.ndarray, oversampling: float, kernel: int) -> np.ndarray:
    """The spectrum in units of its own scatter, as TLS computes its SDE (Hippke & Heller 2019):
    the running median (``kernel`` x oversampling trial periods) subtracted, then the mean, over
    the standard deviation. The peak's value is its signal detection efficiency."""
    from scipy.ndimage import median_filter

    values = np.asarray(delta_chi2, float)
    width = int(kernel * oversampling) | 1
    if len(values) > 2 * width:
        values = values - median_filter(values, size=width, mode="nearest")
    spread = float(np.std(values)) or 1.0
    return (values - float(np.mean(values))) / spread


#: Hippke & Heller (2019), TLS's calibration of the SDE on white noise: (SDE, false-alarm
#: probability) pairs; beyond SDE 9.1 their simulations saw no false alarm (8e-5 is the floor).
_FAP_TABLE = (
    (5.653, 0.1),
    (6.057, 0.05),
    (6.573, 0.02),
    (6.983, 0.01),
    (7.369, 0.005),
    (7.907, 0.002),
    (8.329, 0.001),
    (8.622, 5e-4),
    (9.034, 1.6e-4),
    (9.1, 8e-5),
)


def false_alarm_probability(sde: float) -> float:
    """The white-noise false-alarm probability of an SDE (TLS's calibration, interpolated in
    log FAP); 1 below the table, 8e-5 above it."""
    sdes = np.array([row[0] for row in _FAP_TABLE])
    logs = np.log10([row[1] for row in _FAP_TABLE])
    if not math.isfinite(sde) or sde < sdes[0]:
        return 1.0
    return float(10 ** np.interp(sde, sdes, logs))


def _periodogram(jobs: list[_Job], config: SearchConfig) -> tuple[Periodogram, list[_Job]]:
    """Sum the semi-coherent segments band by band, then one SDE spectrum over all bands."""
    with ThreadPoolExecutor(config.threads) as pool:  # astropy's BLS releases the GIL
        powers = list(pool.map(_run, jobs))
    summed: dict[int, tuple[_Job, np.ndarray]] = {}
    for job, power in zip(jobs, powers, strict=True):
        previous = summed.get(job.band)
        summed[job.band] = (job, power if previous is None else previous[1] + power)
    ordered = sorted(summed.values(), key=lambda item: item[0].periods[0])
    delta = np.concatenate([np.maximum(p, 0) for _, p in ordered])
    return (
        Periodogram(
            np.concatenate([job.periods for job, _ in ordered]),
            sde_spectrum(delta, ordered[0][0].oversampling, config.sde_kernel),
            np.sqrt(delta),
            np.concatenate([np.full(len(job.periods), job.band) for job, _ in ordered]),
        ),
        [job for job, _ in ordered],
    )


def alias_family(periods: np.ndarray, period: float, width: float) -> np.ndarray:
    """True near ``period`` x k/m (k, m = 1..4): the peak's own harmonics and subharmonics."""
    near = np.zeros(len(periods), bool)
    for k in range(1, 5):
        for m in range(1, 5):
            ratio = k / m
            near |= np.abs(periods - period * ratio) < width * ratio
    return near


def sde_at(periodogram: Periodogram, period: float, width: float, peak: int) -> float:
    """The SDE of a period: the spectrum's highest value within 0.1 % of it (the grid's own
    peak when the period lies outside the grid), over the mean and in standard deviations of
    the spectrum without that signal's own harmonics (``width``: a peak's half-width at the
    period). A strong signal's harmonics are not the noise it is measured against."""
    near = np.abs(periodogram.period_days / period - 1) < 1e-3
    value = float(periodogram.power[near].max() if near.any() else periodogram.power[peak])
    noise = periodogram.power[~alias_family(periodogram.period_days, period, width)]
    if len(noise) < 20:
        noise = periodogram.power
    return (value - float(noise.mean())) / (float(noise.std()) or 1.0)


# -- refinement and diagnostics -----------------------------------------------------------------
@dataclass
class Refined:
    model: BoxLeastSquares
    period: float
    duration: float
    epoch: float
    delta_chi2: float


def _refine(t, f, e, period: float, durations: np.ndarray, width: float, config: SearchConfig):
    """Coherent box fit over the unbinned data on a fine grid within ``width`` of ``period``.

    With a finite cadence the likelihood is flat over a range of periods that put the same
    points in transit; the middle of that plateau is the estimate (its first point is biased).
    """
    periods = np.linspace(period - width, period + width, config.refine_periods)
    periods = periods[periods > durations.max() * 1.5]
    durations = np.geomspace(durations.min() * 0.75, durations.max() * 1.25, 12)
    durations = durations[durations < periods.min() / 1.5]
    model = BoxLeastSquares(t, f, e)
    result = model.power(periods, durations, objective="likelihood", oversample=6)
    power = np.asarray(result.power)
    best = int(np.argmax(power))
    flat = power >= power[best] - 1e-6 * abs(power[best])
    low, high = best, best
    while low > 0 and flat[low - 1]:
        low -= 1
    while high < len(power) - 1 and flat[high + 1]:
        high += 1
    middle = (low + high) // 2
    return Refined(
        model,
        float(periods[low] + periods[high]) / 2,
        float(result.duration[middle]),
        float(result.transit_time[middle]),
        2 * float(power[best]),
    )


def _durations_for(period: float, config: SearchConfig, cadence: float) -> np.ndarray | None:
    chosen = band(np.array([period / 1.25, period * 1.25]), config, cadence)
    return None if chosen is None else chosen.durations


def resolve_harmonics(t, f, e, coarse: float, job: _Job, config: SearchConfig, cadence: float):
    """The spectrum's peak and its harmonics P/3, P/2, 2P, 3P, each refined coherently; the one
    whose fold has the largest delta chi-square, a shorter one when it fits as well.

    "As well": within one unit of chi-square (1 sigma) or 0.1 % of it (the refinement's own
    resolution). Returns (refined, ratio to the peak's period).
    """
    span = float(t[-1] - t[0])
    width = 2 * period_step(coarse, job.grid_span, job.oversampling, job.duration_ratio)
    best = _refine(t, f, e, coarse, job.durations, width, config)
    # each harmonic's fold, with the peak's duration and every epoch a transit of it could
    # have: a box fit needs no search (one pass over the points)
    candidates = [(box_delta_chi2(t, f, e, best.period, best.duration, best.epoch), 1.0)]
    for ratio in config.harmonics:
        period = best.period * ratio
        if period < config.min_period_days or period > span / config.min_transits:
            continue
        if best.duration > 0.2 * period:
            continue
        epochs = best.epoch + best.period * np.arange(max(1, round(ratio)))
        fit = max(box_delta_chi2(t, f, e, period, best.duration, x) for x in epochs)
        candidates.append((fit, ratio))
    top = max(c[0] for c in candidates)
    tolerance = max(1.0, 1e-3 * top)
    _, ratio = min((c for c in candidates if c[0] >= top - tolerance), key=lambda c: c[1])
    if ratio == 1.0:
        return best, 1.0
    period = best.period * ratio
    durations = _durations_for(period, config, cadence)
    if durations is None:
        return best, 1.0
    return _refine(t, f, e, period, durations, width * ratio, config), ratio


def box_delta_chi2(t, f, e, period: float, duration: float, epoch: float) -> float:
    """The delta chi-square of a box of that period, duration and epoch (positive depth
    only): what astropy's likelihood objective computes at one trial, times two."""
    inside = np.abs((t - epoch + period / 2) % period - period / 2) < duration / 2
    if not inside.any() or inside.all():
        return 0.0
    w = 1 / e**2
    w_in, w_out = float(w[inside].sum()), float(w[~inside].sum())
    depth = (
        float(np.sum(w[~inside] * f[~inside])) / w_out - float(np.sum(w[inside] * f[inside])) / w_in
    )
    if depth <= 0:
        return 0.0
    return depth**2 / (1 / w_in + 1 / w_out)


def noise_at_duration(t: np.ndarray, f: np.ndarray, duration: float, outside: np.ndarray) -> float:
    """The scatter of the out-of-transit flux averaged over the transit's duration (robust): the
    noise one transit is measured against, white and red (Pont et al. 2006), as the Kepler
    pipeline's CDPP is. Bins with less than half their expected points are left out."""
    tt, ff = t[outside], f[outside]
    if len(tt) < 10 or duration <= 0:
        return float("nan")
    cadence = float(np.median(np.diff(tt)))
    index = np.floor((tt - tt[0]) / duration).astype(np.int64)
    counts = np.bincount(index)
    sums = np.bincount(index, ff)
    full = counts >= max(1.0, 0.5 * duration / cadence)
    if full.sum() < 5:
        return float("nan")
    return robust_sigma(sums[full] / counts[full])


@dataclass
class Trapezoid:
    period: float
    epoch: float
    duration: float  # first to fourth contact [days]
    depth: float  # at mid-transit, fractional
    ingress: float = 0.0  # first to second contact [days]


def trapezoid_model(t: np.ndarray, params: np.ndarray, exposure: float = 0.0) -> np.ndarray:
    """A trapezoidal transit (flat bottom, linear ingress and egress of ``ingress`` days),
    averaged over each exposure (5 sub-samples): a 30-minute cadence smears a 20-minute ingress.
    """
    period, epoch, depth, duration, ingress = params
    offsets = (np.arange(5) - 2) / 5 * exposure if exposure > 0 else np.zeros(1)
    times = (t[:, None] + offsets[None, :]).ravel()
    offset = np.abs((times - epoch + period / 2) % period - period / 2)
    shape = np.clip((duration / 2 - offset) / max(ingress, 1e-6), 0.0, 1.0)
    return (1.0 - depth * shape).reshape(len(t), len(offsets)).mean(axis=1)


def fit_trapezoid(t, f, e, period: float, epoch: float, duration: float, depth: float):
    """Least-squares trapezoid around the box solution, on the points near the transits.

    A box puts the same cadences in transit over a range of periods and epochs (a plateau); the
    trapezoid's sloped edges, averaged over the exposure, make the fit depend smoothly on both,
    so period and epoch come out below the cadence, and its depth is the mid-transit depth the
    KOI table reports. Returns None when the fit fails.
    """
    from scipy.optimize import least_squares

    offset = np.abs((t - epoch + period / 2) % period - period / 2)
    near = offset < 1.5 * duration
    if near.sum() < 10 or depth <= 0:
        return None
    exposure = float(np.median(np.diff(t)))
    start = np.array([period, epoch, depth, duration * 1.1, duration * 0.25])
    low = [period * 0.995, epoch - duration / 2, 0.0, duration * 0.5, 1e-4]
    high = [period * 1.005, epoch + duration / 2, 1.0, duration * 2.0, duration]
    try:
        fit = least_squares(
            lambda p: (trapezoid_model(t[near], p, exposure) - f[near]) / e[near],
            start,
            bounds=(low, high),
            x_scale=[duration / 20, duration / 20, depth, duration, duration],
        )
    except ValueError:
        return None
    period, epoch, depth, duration, ingress = fit.x
    if not fit.success or depth <= 0 or ingress > duration / 2:
        return None
    return Trapezoid(float(period), float(epoch), float(duration), float(depth), float(ingress))


def shape_test(t, f, e, shape: Trapezoid) -> float:
    """chi2(U) - chi2(V) near the transits, period and epoch held at the trapezoid's.

    V: no flat bottom (ingress = half the duration), what a grazing eclipse makes. U: the flat
    bottom of a central transit of a body with that depth (ingress = duration x k / (1 + k),
    k = sqrt(depth)), the least V-like shape a planet of that depth can have. Depth and
    duration are fitted for each. Positive when the V fits better; > 9: a V at 3 sigma.
    """
    from scipy.optimize import least_squares

    offset = np.abs((t - shape.epoch + shape.period / 2) % shape.period - shape.period / 2)
    near = offset < 1.5 * shape.duration
    if near.sum() < 10:
        return 0.0
    exposure = float(np.median(np.diff(t)))
    tn, fn, en = t[near], f[near], e[near]

    def chi2(ingress_of) -> float:
        def residual(p):
            depth, duration = p
            params = [shape.period, shape.epoch, depth, duration, ingress_of(depth, duration)]
            return (trapezoid_model(tn, np.array(params), exposure) - fn) / en

        start = [shape.depth, shape.duration]
        low, high = [0.0, shape.duration * 0.5], [1.0, shape.duration * 2.0]
        try:
            fit = least_squares(residual, start, bounds=(low, high))
        except ValueError:
            return float("nan")
        return float(np.sum(fit.fun**2))

    u = chi2(lambda d, T: T * math.sqrt(d) / (1 + math.sqrt(d)))
    v = chi2(lambda d, T: T / 2)
    return u - v if math.isfinite(u) and math.isfinite(v) else 0.0


@dataclass
class TransitDepths:
    index: np.ndarray  # transit number from the epoch
    depth: np.ndarray  # fractional
    error: np.ndarray

    def mean(self, select: np.ndarray) -> tuple[float, float]:
        """Weighted mean depth of the selected transits and its error, the error widened by the
        transits' scatter beyond their formal errors (red noise, systematics)."""
        depth, error = self.depth[select], self.error[select]
        if len(depth) == 0:
            return float("nan"), float("nan")
        weights = 1 / error**2
        mean = float(np.sum(weights * depth) / np.sum(weights))
        formal = float(np.sqrt(1 / np.sum(weights)))
        return mean, math.hypot(formal, self.excess_scatter() / math.sqrt(len(depth)))

    def others_snr(self, noise: float) -> float:
        """S/N of the mean depth of every transit but the deepest, each transit's error at
        least the light curve's noise at the transit's duration (``noise``, red noise
        included): a periodic signal must not rest on one event (the Kepler pipeline's
        single-event checks)."""
        if len(self.depth) < 2:
            return 0.0
        keep = np.arange(len(self.depth)) != int(np.argmax(self.depth))
        error = self.error[keep]
        if math.isfinite(noise) and noise > 0:
            error = error * max(1.0, noise / float(np.median(self.error)))
        weights = 1 / error**2
        mean = float(np.sum(weights * self.depth[keep]) / np.sum(weights))
        return mean * math.sqrt(float(np.sum(weights)))

    def consistency(self, noise: float, floor: float) -> float:
        """The chi-square p-value that every transit has one depth (the Kepler pipeline's
        chi-square vetoes, Seader et al. 2013): each error at least the noise at the duration,
        and widened by ``floor``, what the cadence alone moves a box depth (a cadence on an
        edge, half in on average). 1 with fewer than three transits."""
        if len(self.depth) < 3:
            return 1.0
        from scipy.stats import chi2

        error = self.error
        if math.isfinite(noise) and noise > 0:
            error = error * max(1.0, noise / float(np.median(self.error)))
        error = np.hypot(error, floor)
        weights = 1 / error**2
        mean = float(np.sum(weights * self.depth) / np.sum(weights))
        statistic = float(np.sum(((self.depth - mean) / error) ** 2))
        return float(chi2.sf(statistic, len(self.depth) - 1))

    def excess_scatter(self) -> float:
        if len(self.depth) < 3:
            return 0.0
        variance = float(np.var(self.depth, ddof=1)) - float(np.mean(self.error**2))
        return math.sqrt(max(variance, 0.0))


def transit_depths(t, f, e, period: float, duration: float, epoch: float) -> TransitDepths:
    """Depth of every transit that has points inside it (box: within half a duration)."""
    number = np.round((t - epoch) / period).astype(np.int64)
    inside = np.abs(t - (epoch + number * period)) < duration / 2
    index, depth, error = [], [], []
    for n in np.unique(number[inside]):
        sel = inside & (number == n)
        weights = 1 / e[sel] ** 2
        index.append(n)
        depth.append(1 - float(np.sum(weights * f[sel]) / np.sum(weights)))
        error.append(float(np.sqrt(1 / np.sum(weights))))
    return TransitDepths(np.array(index, int), np.array(depth), np.array(error))


@dataclass
class _Measured:
    """What a pass measured around its chosen period, for :func:`_signal`."""

    refined: Refined
    shape: Trapezoid | None
    sde: float
    spectrum_snr: float  # the spectrum's S/N at the period (same grid as the inverted one's)
    inverted_snr: float
    peak_ratio: float


def _signal(number: int, data, m: _Measured, config: SearchConfig) -> Signal:
    """The signal's figures: ephemeris, duration and depth from the trapezoid when it fitted
    (else the box); diagnostics from the box, which is what the search measured."""
    t, f, e = data
    model, period, duration, epoch = (
        m.refined.model,
        m.refined.period,
        m.refined.duration,
        (m.refined.epoch),
    )
    shape = m.shape
    stats = model.compute_stats(period, duration, epoch)
    depth, depth_err = (float(v) for v in stats["depth"])
    half, half_err = (float(v) for v in stats["depth_half"])
    secondary, secondary_err = (float(v) for v in stats["depth_phased"])
    transits = transit_depths(t, f, e, period, duration, epoch)
    n_transits = len(transits.index)
    odd, odd_err = transits.mean(transits.index % 2 == 1)
    even, even_err = transits.mean(transits.index % 2 == 0)
    both = math.isfinite(odd) and math.isfinite(even)
    odd_even = abs(odd - even) / math.hypot(odd_err, even_err) if both else 0.0
    snr_white = depth / depth_err if depth_err > 0 else 0.0
    outside = ~model.transit_mask(t, period, 2 * duration, epoch)
    noise = noise_at_duration(t, f, duration, outside)
    snr_red = depth * math.sqrt(n_transits) / noise if noise > 0 else snr_white
    snr = min(snr_white, snr_red)
    others = transits.others_snr(noise)
    cadence = float(np.median(np.diff(t)))
    consistency = transits.consistency(noise, depth * min(1.0, cadence / (2 * duration)))
    if odd_even > 3:
        check = "double period: odd/even differ"
    elif (
        half_err > 0
        and half / half_err > config.min_snr
        and abs(half - depth) < 3 * math.hypot(half_err, depth_err)
    ):
        check = "half period fits as well"
    else:
        check = "consistent"
    failed = []
    if not m.sde >= config.min_sde:
        failed.append(f"SDE {m.sde:.1f} < {config.min_sde:g}")
    if not snr >= config.min_snr:
        failed.append(f"S/N {snr:.1f} < {config.min_snr:g}")
    if n_transits < config.min_transits:
        failed.append(f"{n_transits} transit(s) with data < {config.min_transits}")
    if depth <= 0:
        failed.append("no dip")
    if n_transits >= 2 and others < 3:
        failed.append(f"one transit carries it (the others: S/N {others:.1f} < 3)")
    if consistency < CONSISTENCY_P:
        failed.append(f"the transits' depths disagree (chi-square p = {consistency:.1g})")
    if math.isfinite(m.inverted_snr) and not m.spectrum_snr > m.inverted_snr:
        failed.append(
            f"no stronger than the inverted light curve's best (S/N {m.spectrum_snr:.1f} vs "
            f"{m.inverted_snr:.1f})"
        )
    ingress_fraction, v_shape = float("nan"), 0.0
    if shape is not None:
        ingress_fraction = shape.ingress / shape.duration if shape.duration > 0 else float("nan")
        v_shape = shape_test(t, f, e, shape)
        period, epoch, duration = shape.period, shape.epoch, shape.duration
    return Signal(
        number=number,
        period_days=period,
        epoch=epoch,
        duration_hours=duration * 24,
        depth_ppm=(shape.depth if shape is not None else depth) * 1e6,
        depth_err_ppm=depth_err * 1e6,
        snr=snr,
        sde=m.sde,
        fap=false_alarm_probability(m.sde),
        n_transits=n_transits,
        odd_depth_ppm=odd * 1e6 if math.isfinite(odd) else float("nan"),
        even_depth_ppm=even * 1e6 if math.isfinite(even) else float("nan"),
        odd_even_sigma=odd_even,
        secondary_depth_ppm=secondary * 1e6,
        secondary_snr=secondary / secondary_err if secondary_err > 0 else 0.0,
        half_period_depth_ppm=half * 1e6,
        sinusoid_preferred=bool(stats["harmonic_delta_log_likelihood"] > 0),
        period_check=check,
        significant=not failed,
        transit_depths_ppm=[float(d) * 1e6 for d in transits.depth],
        snr_white=snr_white,
        noise_per_transit_ppm=noise * 1e6,
        inverted_snr=m.inverted_snr,
        peak_ratio=m.peak_ratio,
        ingress_fraction=ingress_fraction,
        v_shape_chi2=v_shape,
        others_snr=others,
        depth_consistency_p=consistency,
        failed=failed,
    )


class _Pass:
    """The spectra of one light curve under successive masks, within the work budget."""

    def __init__(self, t, f, e, sigma: float, cadence: float, span: float, config: SearchConfig):
        self.time, self.flux, self.error = t, f, e
        self.sigma, self.cadence, self.span, self.config = sigma, cadence, span, config
        self.spent, self.first_work, self.mode = 0.0, 0.0, "coherent"
        self.oversampling = config.oversampling

    def spectrum(
        self, mask: np.ndarray, flux: np.ndarray | None = None, coarser: float = 1.0
    ) -> tuple[Periodogram, list[_Job]] | None:
        """The periodogram of the unmasked points on the full light curve's grid (``coarser``
        times fewer trial periods); None when too little is left or the work budget would be
        exceeded."""
        t, f = self.time[mask], (self.flux if flux is None else flux)[mask]
        if len(t) < MIN_POINTS:
            return None
        args = (t, f, self.sigma, self.config, self.cadence, self.span)
        jobs, mode, _, work = _jobs(*args, self.oversampling / coarser)
        if not self.spent and work > self.config.first_work:
            # the grid as fine as the work bound allows (long light curves): fewer trial periods
            # in proportion, the same bands, durations and binning
            self.oversampling *= self.config.first_work / work
            work = _regrid(jobs, self.oversampling)
            jobs = [job for job in jobs if len(job.periods)]
        if not jobs or (self.spent and self.spent + work > self.config.max_work):
            return None
        if not self.spent:
            self.first_work, self.mode = work, mode
        self.spent += work
        return _periodogram(jobs, self.config)


def _errors(formal: np.ndarray, sigma: float) -> np.ndarray:
    """Per-point errors: the file's where it has them, scaled up when the light curve scatters
    more than they say (red noise, underestimated errors); the robust scatter elsewhere."""
    usable = np.isfinite(formal) & (formal > 0)
    if not usable.any():
        return np.full(len(formal), sigma)
    inflation = max(1.0, sigma / float(np.median(formal[usable])))
    return np.where(usable, formal * inflation, sigma)


def _harmonics(t: np.ndarray, f: np.ndarray, period: float, mask: np.ndarray) -> np.ndarray:
    """A two-harmonic sinusoid at ``period``, least-squares fitted to the unmasked points."""
    phase = 2 * np.pi * t / period
    design = np.column_stack([np.sin(phase), np.cos(phase), np.sin(2 * phase), np.cos(2 * phase)])
    coefficients, *_ = np.linalg.lstsq(design[mask], f[mask] - 1.0, rcond=None)
    return design @ coefficients


#: periods this close (0.1 %, the benchmark's tolerance) are one period
SAME_PERIOD = 1e-3
#: a planet's occultation is under a tenth of its transit: the bound of both secondary checks,
#: the phase-0.5 one (scoring.lightcurves.model.checks) and the paired signal (_pair_eclipses)
MAX_OCCULTATION_RATIO = 0.1


def _pair_eclipses(earlier: list[Signal], signal: Signal) -> None:
    """Mark ``signal`` as the secondary eclipse of an earlier signal with its period (an
    eccentric binary's secondary lies anywhere in phase, not only at 0.5), and that signal as a
    binary's primary when this eclipse is deeper than a planet's occultation can be."""
    for primary in earlier:
        if abs(signal.period_days / primary.period_days - 1) < SAME_PERIOD:
            signal.eclipse_of = primary.number
            signal.eclipse_phase = (signal.epoch - primary.epoch) / primary.period_days % 1.0
            if signal.significant and signal.depth_ppm > MAX_OCCULTATION_RATIO * primary.depth_ppm:
                primary.deep_eclipse = signal.number
            return


# -- entry point --------------------------------------------------------------------------------
MIN_POINTS = 50
#: the chi-square veto's level: 3 sigma (two-sided Gaussian), as every other check here
CONSISTENCY_P = 0.0027


def search(
    time_: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray | None = None,
    config: SearchConfig = DEFAULT_CONFIG,
) -> SearchResult:
    """Detrend, search, refine and diagnose; up to ``config.max_signals`` signals."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    order = np.argsort(time_)
    t, f = np.asarray(time_, float)[order], np.asarray(flux, float)[order]
    e = np.full(len(t), np.nan) if flux_err is None else np.asarray(flux_err, float)[order]
    keep = np.isfinite(t) & np.isfinite(f)
    t, f, e = t[keep], f[keep], e[keep]
    if len(t) < MIN_POINTS:
        raise SearchError(f"{len(t)} usable points: a search needs at least {MIN_POINTS}")
    scale = float(np.median(f))
    if not scale > 0:
        raise SearchError("the median flux is not positive: not a photometric light curve")
    f, e = f / scale, e / scale
    span = float(t[-1] - t[0])
    shortest = 2 * config.min_period_days
    if span < shortest:
        raise SearchError(
            f"the light curve spans {span:.2f} days: a search needs at least {shortest:g} days"
        )
    detrended, trend = detrend(t, f, config)
    timings["detrend_s"] = time.perf_counter() - start

    good = np.isfinite(detrended)
    st, sf = t[good], detrended[good]
    sigma = robust_sigma(sf) or 1e-6
    errors = _errors(e[good], sigma)
    cadence = float(np.median(np.diff(st)))

    signals: list[Signal] = []
    state = _Pass(st, sf, errors, sigma, cadence, float(st[-1] - st[0]), config)
    everything = np.ones(len(st), bool)
    spectrum = state.spectrum(everything)
    if spectrum is None:
        raise SearchError("too few points remain after detrending to search")
    inverted: list[float] = []  # the inverted light curve's best S/N, once computed

    def inverted_snr() -> float:
        """The same search of the whole light curve turned upside down: what its noise,
        systematics and flares make of a "transit" (a transit becomes a bump, which a box
        ignores, so one search serves every pass: masking a detection's transits removes
        bumps the box never counted). On a grid ``oversampling`` times coarser (one trial
        period per drift of a duration: the null's peak is underestimated by at most that
        mismatch, ~10 %), to keep its cost a third of a pass. NaN when the work budget does
        not allow it."""
        if not inverted:
            found = state.spectrum(everything, 2.0 - state.flux, config.oversampling)
            inverted.append(float("nan") if found is None else float(found[0].snr.max()))
        return inverted[0]

    first, mask, stopped = spectrum, everything, f"{config.max_signals} passes"
    for number in range(1, config.max_signals + 1):
        pass_start = time.perf_counter()
        periodogram, band_jobs = spectrum
        peak = int(np.argmax(periodogram.power))
        coarse = float(periodogram.period_days[peak])
        job = [j for j in band_jobs if j.periods[0] <= coarse][-1]
        tt, ff, ee = st[mask], state.flux[mask], errors[mask]
        refined, ratio = resolve_harmonics(tt, ff, ee, coarse, job, config, cadence)
        period, duration, epoch = refined.period, refined.duration, refined.epoch
        box = refined.model.compute_stats(period, duration, epoch)["depth"][0]
        shape = fit_trapezoid(tt, ff, ee, period, epoch, duration, float(box))
        near = np.abs(periodogram.period_days / period - 1) < 1e-3
        spectrum_snr = float(periodogram.snr[near].max() if near.any() else periodogram.snr[peak])
        width = max(2 * duration * period / state.span, 2e-3 * period)
        sde = sde_at(periodogram, period, width, peak)
        measured = _Measured(refined, shape, sde, spectrum_snr, float("nan"), ratio)
        signal = _signal(number, (tt, ff, ee), measured, config)
        if config.invert and signal.significant and state.mode == "coherent":
            # only a detection needs the inverted light curve's verdict
            measured.inverted_snr = inverted_snr()
            signal = _signal(number, (tt, ff, ee), measured, config)
        _pair_eclipses(signals, signal)
        signals.append(signal)
        timings[f"pass_{number}_s"] = time.perf_counter() - pass_start
        if number == config.max_signals:
            break
        if signal.sinusoid_preferred and signal.sde >= config.min_sde:
            # stellar variability at this period: subtract it, not its "transits", and go on
            state.flux = state.flux - _harmonics(st, state.flux, period, mask)
        elif signal.significant or (
            signal.snr >= config.min_snr
            and not (math.isfinite(signal.inverted_snr) and spectrum_snr <= signal.inverted_snr)
        ):
            # a detection, or a feature above the noise that failed only on SDE or transit
            # count (a single deep event): mask it, another signal may lie beneath
            mask = mask & ~refined.model.transit_mask(st, period, 2 * duration, epoch)
        else:
            stopped = "no further significant signal"
            break
        spectrum = state.spectrum(mask)
        if spectrum is None:
            stopped = "work budget"
            break
    timings["total_s"] = time.perf_counter() - start
    return SearchResult(
        time=t,
        flux=f,
        trend=trend,
        detrended=detrended,
        signals=signals,
        periodogram=first[0],
        mode=state.mode,
        n_periods=len(first[0].period_days),
        work=state.first_work,
        stopped_by=stopped,
        timings=timings,
        version=config.version(),
        inverted_snr=inverted[0] if inverted else float("nan"),
    )
