"""Search a light curve for periodic transits: robust detrending, a bounded box search, and the
per-signal diagnostics a vetter asks for first.

Why it is built this way
------------------------
- **Detrending**: wotan's biweight (a robust sliding location) with a window of three times the
  longest transit searched, so that a transit keeps its depth while stellar variability on
  longer time scales is removed (Hippke et al. 2019, "Wōtan").
- **Period grid**: uniform in frequency^(1/3) (Ofir 2014). The spacing keeps the phase drift of a
  transit over the whole baseline below a fraction (``1 / oversampling``) of the duration a
  central transit of a Sun-like star has at that period, so the grid grows with the baseline
  and shrinks for long periods, instead of astropy's ``autoperiod`` (43 million trial periods
  for the Kepler mission) or lightkurve's default (which refuses it).
- **Bounded work**: the grid is cut into period bands (a factor of two each); a band searches only
  the durations a transit can have at its periods, on data binned to half its shortest
  duration. A light curve longer than ``coherent_days`` is searched *semi-coherently*: each band
  on segments that hold ``segment_transits`` transits of its longest period, each segment on the
  grid its own baseline needs, the per-segment log-likelihoods summed (as in semi-coherent
  pulsar and gravitational-wave searches); only the longest periods see the whole baseline at
  once. The work then grows about linearly with the baseline instead of with its square, and
  all passes together stop at ``max_work`` point x trial-period products. Every candidate is
  refined by a coherent box fit on a fine local grid over the full, unbinned light curve and a
  trapezoid fit, so the reported period and epoch have the full baseline's precision.
- **Significance**: each band's power is standardised (median and MAD), the signal detection
  efficiency (SDE) is the peak over the spectrum's mean in standard deviations, and the false
  alarm probability comes from an exponential fit to the spectrum's own upper tail, raised to
  the number of independent frequencies (extreme-value statistics). A signal counts when
  SDE >= 9, FAP <= 1e-3, SNR >= 7.1 and at least two transits hold data.
- **Several signals**: the transits of a detection are masked and the search repeats, up to
  ``max_signals`` times, while the detections stay significant.
- **Diagnostics** (astropy's ``compute_stats`` on the unbinned detrended flux): odd/even depth
  difference in sigma, the depth at phase 0.5 (secondary eclipse), the depth at half the period,
  and whether a sinusoid explains the fold better than a box (variability, not a transit).
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
    oversampling: float = 2.0
    coherent_days: float = 100.0
    segment_transits: int = 4
    max_work: float = 4e8  # point x trial-period products, all passes together
    max_signals: int = 3
    min_sde: float = 9.0
    max_fap: float = 1e-3
    min_snr: float = 7.1
    min_transits: int = 2
    refine_periods: int = 200
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

    @property
    def snr_per_transit(self) -> float:
        return self.snr / math.sqrt(max(self.n_transits, 1))


@dataclass
class Periodogram:
    period_days: np.ndarray
    power: np.ndarray  # standardised per band (see the module docstring)
    snr: np.ndarray  # sqrt(delta log-likelihood) before standardising
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
    work: float  # point x trial-period products of the first pass
    timings: dict[str, float] = field(default_factory=dict)
    version: str = ""
    stopped_by: str = ""  # why the search for further signals ended

    @property
    def detections(self) -> list[Signal]:
        return [s for s in self.signals if s.significant]


# -- grid ---------------------------------------------------------------------------------------
def central_duration_days(period_days: float | np.ndarray) -> float | np.ndarray:
    """Duration of a central transit across a Sun-like star (scales as P^(1/3))."""
    return _SUN_CENTRAL_DURATION_HOURS / 24.0 * (np.asarray(period_days) / _YEAR_DAYS) ** (1 / 3)


def period_grid(span_days: float, min_period: float, max_period: float, oversampling: float):
    """Trial periods uniform in frequency^(1/3) (Ofir 2014), ascending."""
    if max_period <= min_period:
        return np.empty(0)
    step = grid_step(span_days, oversampling)
    x_low, x_high = (1 / max_period) ** (1 / 3), (1 / min_period) ** (1 / 3)
    x = np.arange(x_low, x_high, step)
    return np.sort(1.0 / x**3)


def grid_step(span_days: float, oversampling: float) -> float:
    """Ofir's constant step in x = frequency^(1/3) [day^(-1/3)] for a Sun-like star."""
    return (2 * math.pi) ** (2 / 3) / math.pi * _SUN_SCALE / (span_days * oversampling) / 3


def period_step(period: float, span_days: float, oversampling: float) -> float:
    """The grid's spacing in period at ``period``: dP = 3 P^(4/3) dx."""
    return 3 * period ** (4 / 3) * grid_step(span_days, oversampling)


@dataclass
class Band:
    periods: np.ndarray
    durations: np.ndarray  # days
    bin_days: float


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


def _jobs(t, f, sigma: float, config: SearchConfig, cadence: float, span: float):
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
        grid = period_grid(grid_span, low, high, config.oversampling)
        chosen = band(grid, config, cadence) if len(grid) else None
        if chosen is not None:
            edges = np.linspace(t[0], t[-1], n_segments + 1)
            edges[-1] = np.inf
            for a, b in itertools.pairwise(edges):
                inside = (t >= a) & (t < b)
                if inside.sum() < 10:
                    continue
                bt, bf, counts = bin_series(t[inside], f[inside], chosen.bin_days)
                errors = sigma / np.sqrt(counts)
                jobs.append(_Job(bt, bf, errors, grid, chosen.durations, number, grid_span))
                work += len(bt) * len(grid)
            n_periods += len(grid)
            segmented |= n_segments > 1
        low, number = high, number + 1
    return jobs, ("semi-coherent" if segmented else "coherent"), n_periods, work


def _run(job: _Job):
    # two phase bins per shortest duration: the refinement resolves the phase finely later
    result = BoxLeastSquares(job.time, job.flux, job.error).power(
        job.periods, job.durations, objective="likelihood", oversample=2
    )
    return np.asarray(result.power, float)


def _standardise(power: np.ndarray) -> np.ndarray:
    median = np.median(power)
    spread = 1.4826 * np.median(np.abs(power - median)) or float(np.std(power)) or 1.0
    return (power - median) / spread


def _periodogram(jobs: list[_Job], config: SearchConfig) -> tuple[Periodogram, list[_Job]]:
    """Sum the semi-coherent segments band by band; standardise each band.

    The power is sqrt(delta log-likelihood), proportional to the box's S/N: closer to Gaussian
    than the likelihood itself, whose square-law tail lets a strong signal's aliases dominate.
    """
    with ThreadPoolExecutor(config.threads) as pool:  # astropy's BLS releases the GIL
        powers = list(pool.map(_run, jobs))
    summed: dict[int, tuple[_Job, np.ndarray]] = {}
    for job, power in zip(jobs, powers, strict=True):
        previous = summed.get(job.band)
        summed[job.band] = (job, power if previous is None else previous[1] + power)
    ordered = sorted(summed.values(), key=lambda item: item[0].periods[0])
    snr = [np.sqrt(np.maximum(p, 0)) for _, p in ordered]
    return (
        Periodogram(
            np.concatenate([job.periods for job, _ in ordered]),
            np.concatenate([_standardise(x) for x in snr]),
            np.concatenate(snr),
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


def significance(
    periodogram: Periodogram,
    peak: int,
    noise: Periodogram | None,
    width: float,
    oversampling: float,
) -> tuple[float, float]:
    """(SDE, FAP) of the peak against a noise spectrum.

    The noise spectrum is that of the same light curve with the candidate's transits masked
    (same grid), the peak standardised with the noise's band statistics; without one (work
    budget spent), the spectrum itself without the peak's alias family. SDE: the peak over the
    noise spectrum's mean, in its standard deviations. FAP: the chance that the highest of the
    noise spectrum's independent trials reaches the peak, from an exponential fit to the noise
    spectrum's upper decile (extreme-value statistics).
    """
    if noise is not None and np.array_equal(noise.period_days, periodogram.period_days):
        in_band = noise.band == periodogram.band[peak]
        values = noise.snr[in_band]
        median = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - median)) or float(np.std(values)) or 1.0
        height = float((periodogram.snr[peak] - median) / spread)
        reference = noise.power
    else:
        height = float(periodogram.power[peak])
        family = alias_family(periodogram.period_days, periodogram.period_days[peak], width)
        reference = periodogram.power[~family]
        if len(reference) < 20:
            reference = periodogram.power
    sde = (height - float(reference.mean())) / (float(reference.std()) or 1.0)
    threshold = float(np.quantile(reference, 0.9))
    tail = reference[reference > threshold] - threshold
    if len(tail) < 5 or tail.mean() <= 0:
        return sde, 1.0
    p_single = 0.1 * math.exp(-max(height - threshold, 0) / float(tail.mean()))
    trials = max(len(reference) / oversampling, 1.0)
    fap = -math.expm1(trials * math.log1p(-min(p_single, 1 - 1e-16)))
    return sde, float(fap)


# -- refinement and diagnostics -----------------------------------------------------------------
def _refine(t, f, e, period: float, job: _Job, config: SearchConfig):
    """Coherent box fit over the unbinned data on a fine grid within two coarse grid steps of
    ``period`` (the coarse step being the segment's, in a semi-coherent search).

    With a finite cadence the likelihood is flat over a range of periods that put the same
    points in transit; the middle of that plateau is the estimate (its first point is biased).
    """
    width = 2 * period_step(period, job.grid_span, config.oversampling)
    periods = np.linspace(period - width, period + width, config.refine_periods)
    periods = periods[periods > job.durations.max() * 1.5]
    durations = np.geomspace(job.durations.min() * 0.75, job.durations.max() * 1.25, 12)
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
    return (
        model,
        float(periods[low] + periods[high]) / 2,
        float(result.duration[middle]),
        float(result.transit_time[middle]),
    )


@dataclass
class Trapezoid:
    period: float
    epoch: float
    duration: float  # first to fourth contact [days]
    depth: float  # at mid-transit, fractional


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
    return Trapezoid(float(period), float(epoch), float(duration), float(depth))


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


def _signal(number: int, model, data, box, shape, significance_, config) -> Signal:
    """The signal's figures: ephemeris, duration and depth from the trapezoid when it fitted
    (else the box); diagnostics from the box, which is what the search measured."""
    t, f, e = data
    period, duration, epoch = box
    sde, fap = significance_
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
    snr = depth / depth_err if depth_err > 0 else 0.0
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
    significant = (
        sde >= config.min_sde
        and fap <= config.max_fap
        and snr >= config.min_snr
        and n_transits >= config.min_transits
        and depth > 0
    )
    if shape is not None:
        period, epoch, duration = shape.period, shape.epoch, shape.duration
    return Signal(
        number=number,
        period_days=period,
        epoch=epoch,
        duration_hours=duration * 24,
        depth_ppm=(shape.depth if shape is not None else depth) * 1e6,
        depth_err_ppm=depth_err * 1e6,
        snr=snr,
        sde=sde,
        fap=fap,
        n_transits=n_transits,
        odd_depth_ppm=odd * 1e6 if math.isfinite(odd) else float("nan"),
        even_depth_ppm=even * 1e6 if math.isfinite(even) else float("nan"),
        odd_even_sigma=odd_even,
        secondary_depth_ppm=secondary * 1e6,
        secondary_snr=secondary / secondary_err if secondary_err > 0 else 0.0,
        half_period_depth_ppm=half * 1e6,
        sinusoid_preferred=bool(stats["harmonic_delta_log_likelihood"] > 0),
        period_check=check,
        significant=significant,
        transit_depths_ppm=[float(d) * 1e6 for d in transits.depth],
    )


class _Pass:
    """The spectra of one light curve under successive masks, within the work budget."""

    def __init__(self, t, f, e, sigma: float, cadence: float, span: float, config: SearchConfig):
        self.time, self.flux, self.error = t, f, e
        self.sigma, self.cadence, self.span, self.config = sigma, cadence, span, config
        self.spent, self.first_work, self.mode = 0.0, 0.0, "coherent"

    def spectrum(self, mask: np.ndarray) -> tuple[Periodogram, list[_Job]] | None:
        """The periodogram of the unmasked points on the full light curve's grid; None when
        too little is left or the work budget would be exceeded."""
        t, f = self.time[mask], self.flux[mask]
        if len(t) < MIN_POINTS:
            return None
        jobs, mode, _, work = _jobs(t, f, self.sigma, self.config, self.cadence, self.span)
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


# -- entry point --------------------------------------------------------------------------------
MIN_POINTS = 50


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
    spectrum = state.spectrum(np.ones(len(st), bool))
    if spectrum is None:
        raise SearchError("too few points remain after detrending to search")
    first, mask, stopped = spectrum, np.ones(len(st), bool), f"{config.max_signals} passes"
    for number in range(1, config.max_signals + 1):
        pass_start = time.perf_counter()
        periodogram, band_jobs = spectrum
        peak = int(np.argmax(periodogram.power))
        coarse = float(periodogram.period_days[peak])
        job = [j for j in band_jobs if j.periods[0] <= coarse][-1]
        tt, ff, ee = st[mask], state.flux[mask], errors[mask]
        model, period, duration, epoch = _refine(tt, ff, ee, coarse, job, config)
        box = model.compute_stats(period, duration, epoch)["depth"][0]
        shape = fit_trapezoid(tt, ff, ee, period, epoch, duration, float(box))
        masked = mask & ~model.transit_mask(st, period, 2 * duration, epoch)
        residual = state.spectrum(masked)
        sde, fap = significance(
            periodogram,
            peak,
            None if residual is None else residual[0],
            2 * duration * coarse / state.span,
            config.oversampling,
        )
        signal = _signal(
            number, model, (tt, ff, ee), (period, duration, epoch), shape, (sde, fap), config
        )
        signals.append(signal)
        timings[f"pass_{number}_s"] = time.perf_counter() - pass_start
        if signal.sinusoid_preferred and signal.sde >= config.min_sde:
            # stellar variability at this period: subtract it, not its "transits", and go on
            state.flux = state.flux - _harmonics(st, state.flux, period, mask)
            spectrum = state.spectrum(mask)
        elif signal.significant:
            mask, spectrum = masked, residual
        else:
            stopped = "no further significant signal"
            break
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
    )
