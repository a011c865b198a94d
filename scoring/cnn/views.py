"""The CNN's three views of a folded light curve: pure numpy, the binning of the training views.

Yu et al. (2019) made their views with Shallue & Vanderburg's (2018) median filter
(yuliang419/Astronet-Vetting ``astronet/data/preprocess.py``, google-research/exoplanet-ml
``light_curve/median_filter.py``); this module rebuilds the same recipe, so that a view made here
from ExoHunter's fold is what the network saw in training:

- fold to [-P/2, P/2) with the transit at 0, sorted;
- ``num_bins`` overlapping bins of width ``w`` spread evenly from ``t_min`` to ``t_max``; a bin's
  value is the median flux of the points in it, an empty bin takes the median of all the flux;
- normalised: minus the view's median, divided by the absolute value of its minimum (so the
  out-of-transit level is 0 and the deepest bin -1);
- global: 201 bins over the whole period, w = 1.2 P / 201;
- local: 61 bins over ±2 durations (at most ±P/2), w = 0.16 durations;
- secondary: the transit masked (one duration each side, and the inner tenth of the phase), the
  phase moved to [0, P), the most likely secondary found by a box search of one duration in
  steps of a tenth of it (default P/2), then 61 bins over ±4 durations around it, w = 0.16
  durations (a 40th of the window when that is wider than the window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.errors import ExoHunterError

GLOBAL_BINS = 201
LOCAL_BINS = 61
SECONDARY_BINS = 61
GLOBAL_WIDTH = 1.2 / GLOBAL_BINS  # of the period
LOCAL_WIDTH = 0.16  # of the duration
LOCAL_DURATIONS = 2
SECONDARY_DURATIONS = 4
SECONDARY_PHASE_LIMIT = 0.1  # the secondary is searched outside the inner tenth of the phase
SECONDARY_STEP = 0.1  # of the duration
MIN_POINTS = 5


class ViewError(ExoHunterError):
    pass


@dataclass(frozen=True)
class FoldViews:
    global_view: np.ndarray  # [201]
    local_view: np.ndarray  # [61]
    secondary_view: np.ndarray  # [61]
    secondary_phase: float  # where the secondary view is centred, in days after the transit

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            "global_view": self.global_view,
            "local_view": self.local_view,
            "secondary_view": self.secondary_view,
        }


def fold(time: np.ndarray, period: float, epoch: float) -> np.ndarray:
    """Time from the nearest transit, in [-P/2, P/2)."""
    return np.mod(time - epoch + period / 2, period) - period / 2


def binned_median(
    x: np.ndarray, y: np.ndarray, num_bins: int, width: float, x_min: float, x_max: float
) -> np.ndarray:
    """Median ``y`` in ``num_bins`` bins [lo, lo + width) spread evenly over [x_min, x_max);
    ``x`` sorted. Empty bins take the median of all ``y``."""
    if not x_max - x_min > width > 0:
        raise ViewError(f"a bin width of {width:.3g} does not fit in [{x_min:.3g}, {x_max:.3g})")
    lows = x_min + np.arange(num_bins) * (x_max - x_min - width) / (num_bins - 1)
    starts = np.searchsorted(x, lows, side="left")
    ends = np.searchsorted(x, lows + width, side="left")
    out = np.full(num_bins, np.median(y))
    for i in np.flatnonzero(ends > starts):
        out[i] = np.median(y[starts[i] : ends[i]])
    return out


def normalise(view: np.ndarray) -> np.ndarray:
    centred = view - np.median(view)
    depth = abs(centred.min())
    if depth == 0:
        raise ViewError("the view is flat: no point below its median (too few points?)")
    return (centred / depth).astype(np.float32)


def global_view(phase: np.ndarray, flux: np.ndarray, period: float) -> np.ndarray:
    width = period * GLOBAL_WIDTH
    return normalise(binned_median(phase, flux, GLOBAL_BINS, width, -period / 2, period / 2))


def local_view(phase: np.ndarray, flux: np.ndarray, period: float, duration: float) -> np.ndarray:
    half = min(period / 2, duration * LOCAL_DURATIONS)
    return normalise(binned_median(phase, flux, LOCAL_BINS, duration * LOCAL_WIDTH, -half, half))


def find_secondary(
    phase: np.ndarray, flux: np.ndarray, period: float, duration: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """The most likely secondary eclipse: (its time after the transit, the masked phase in
    [0, P) sorted, its flux). A box of one duration slides over the out-of-transit points; its
    signal residue s|s| / (r (1 - r)) (s: the box's share of the mean-subtracted flux, r: its
    share of the points) is largest where the flux dips most."""
    mask_durations = 1.0 if period < 1 or duration > period / 2 else 2.0
    keep = (np.abs(phase) > duration * mask_durations / 2) & (
        np.abs(phase) > period * SECONDARY_PHASE_LIMIT
    )
    if keep.sum() < MIN_POINTS:
        raise ViewError("too few points outside the transit for a secondary view")
    shifted = np.where(phase[keep] < 0, phase[keep] + period, phase[keep])
    order = np.argsort(shifted, kind="stable")
    t, f = shifted[order], flux[keep][order]
    residual = f - f.mean()
    n = len(t)
    centres = np.arange(t[0] + duration, t[-1] - duration, duration * SECONDARY_STEP)
    best = period / 2
    if len(centres):
        cumulative = np.concatenate([[0.0], np.cumsum(residual)])
        wide = np.searchsorted(t, centres + duration) - np.searchsorted(t, centres - duration)
        lo = np.searchsorted(t, centres - duration / 2)
        hi = np.searchsorted(t, centres + duration / 2)
        s = (cumulative[hi] - cumulative[lo]) / n
        r = (hi - lo + 1) / n
        residue = np.where(wide >= MIN_POINTS, -s * np.abs(s) / (r * (1 - r)), 0.0)
        if residue.max() > 0:
            best = float(centres[int(np.argmax(residue))])
    return best, t, f


def secondary_view(
    phase: np.ndarray, flux: np.ndarray, period: float, duration: float
) -> tuple[np.ndarray, float]:
    centre, t, f = find_secondary(phase, flux, period, duration)
    t_min = max(centre - period / 2, centre - duration * SECONDARY_DURATIONS, t[0])
    t_max = min(centre + period / 2, centre + duration * SECONDARY_DURATIONS, t[-1])
    width = duration * LOCAL_WIDTH
    if width >= t_max - t_min:
        width = (t_max - t_min) / 40
    return normalise(binned_median(t, f, SECONDARY_BINS, width, t_min, t_max)), centre


def build(
    time: np.ndarray, flux: np.ndarray, period: float, epoch: float, duration: float
) -> FoldViews:
    """The three views of a detrended light curve folded at ``period`` (days) on ``epoch`` (the
    time of a transit, in the unit of ``time``), ``duration`` in days."""
    time = np.asarray(time, float)
    flux = np.asarray(flux, float)
    finite = np.isfinite(time) & np.isfinite(flux)
    if finite.sum() < MIN_POINTS:
        raise ViewError(f"{int(finite.sum())} finite points: too few to fold")
    if not (period > 0 and 0 < duration < period):
        raise ViewError(f"period {period} d and duration {duration} d cannot be folded")
    phase = fold(time[finite], period, epoch)
    order = np.argsort(phase, kind="stable")
    phase, flux = phase[order], flux[finite][order]
    secondary, centre = secondary_view(phase, flux, period, duration)
    return FoldViews(
        global_view(phase, flux, period),
        local_view(phase, flux, period, duration),
        secondary,
        centre,
    )
