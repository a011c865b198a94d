"""How strange is a light curve? A transparent score for dips a planet does not make.

A transiting planet makes dips that repeat with one period, all with the same depth, symmetric,
and at most a few per cent deep. Boyajian's star (KIC 8462852) breaks every one of those rules:
dips of up to ~20 %, at no period, asymmetric, of every depth. So the score looks at the dips the
transit search did *not* explain — those outside the transits of a periodic signal with at
least three transits of consistent depth — and adds four terms, each scaled to [0, 1]:

- ``dip_depth``: the deepest unexplained dip, on a log scale from 0.1 % (0) to 30 % (1): deeper
  than a planet can make around a Sun-like star scores high;
- ``dip_count``: how many unexplained dips, on a log scale (30 or more: 1): not periodic;
- ``dip_asymmetry``: how far the deepest point of a well-sampled dip (six or more cadences) sits
  from its middle (0: centred, 1: at an edge), the largest over the dips: a transit is symmetric;
- ``dip_depth_variation``: 1 - shallowest / deepest unexplained dip (two or more): a planet's
  transits have one depth.

The score is their mean. A dip is a run of cadences more than 3 robust sigma below the
detrended flux (gaps under three cadences bridged) whose summed significance reaches 7 sigma,
the transit search's own threshold. Every term is reported, so a high score says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scoring.lightcurves.search import SearchResult, Signal, robust_sigma

POINT_SIGMA = 3.0
DIP_SIGMA = 7.0
MIN_DIP_POINTS = 3
ASYMMETRY_MIN_POINTS = 6
DEPTH_FLOOR, DEPTH_CEILING = 1e-3, 0.3
COUNT_CEILING = 30


@dataclass
class Dip:
    start: float
    end: float
    depth: float  # fractional, deepest point
    asymmetry: float  # signed: (rise time - fall time) / duration
    n_points: int


@dataclass
class AnomalyScore:
    score: float
    components: dict[str, float]
    dips: list[Dip] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def explains(signal: Signal) -> bool:
    """A detection whose transits count as explained: periodic (three or more transits), a
    transit rather than variability, one depth for odd and even transits."""
    return (
        signal.significant
        and signal.n_transits >= 3
        and not signal.sinusoid_preferred
        and signal.odd_even_sigma < 3
    )


def find_dips(t: np.ndarray, f: np.ndarray, sigma: float, excluded: np.ndarray) -> list[Dip]:
    below = ((1 - f) > POINT_SIGMA * sigma) & ~excluded
    gap = 3 * float(np.median(np.diff(t)))
    dips: list[Dip] = []
    i, n = 0, len(f)
    while i < n:
        if not below[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and below[j + 1] and t[j + 1] - t[j] < gap:
            j += 1
        depths = 1 - f[i : j + 1]
        points = j - i + 1
        if points >= MIN_DIP_POINTS and depths.sum() / (sigma * math.sqrt(points)) >= DIP_SIGMA:
            deepest = i + int(np.argmax(depths))
            duration = float(t[j] - t[i])
            rise_fall = (t[deepest] - t[i]) - (t[j] - t[deepest])
            dips.append(
                Dip(
                    float(t[i]),
                    float(t[j]),
                    float(depths.max()),
                    float(rise_fall / duration) if duration > 0 else 0.0,
                    points,
                )
            )
        i = j + 1
    return dips


def _scaled_log(value: float, low: float, high: float) -> float:
    if value <= low:
        return 0.0
    return min(1.0, math.log10(value / low) / math.log10(high / low))


def score(result: SearchResult) -> AnomalyScore:
    good = np.isfinite(result.detrended)
    t, f = result.time[good], result.detrended[good]
    excluded = np.zeros(len(t), bool)
    for signal in result.signals:
        if explains(signal):
            phase = np.abs((t - signal.epoch + signal.period_days / 2) % signal.period_days)
            excluded |= np.abs(phase - signal.period_days / 2) < signal.duration_hours / 24
    dips = find_dips(t, f, robust_sigma(f) or 1e-6, excluded)
    depths = [d.depth for d in dips]
    sampled = [abs(d.asymmetry) for d in dips if d.n_points >= ASYMMETRY_MIN_POINTS]
    components = {
        "dip_depth": _scaled_log(max(depths, default=0.0), DEPTH_FLOOR, DEPTH_CEILING),
        "dip_count": min(1.0, math.log10(1 + len(dips)) / math.log10(1 + COUNT_CEILING)),
        "dip_asymmetry": max(sampled, default=0.0),
        "dip_depth_variation": 1 - min(depths) / max(depths) if len(depths) >= 2 else 0.0,
    }
    return AnomalyScore(
        float(np.mean(list(components.values()))), components, dips, _reasons(dips, components)
    )


def _reasons(dips: list[Dip], components: dict[str, float]) -> list[str]:
    if not dips:
        return ["no dips beyond the periodic transits"]
    deepest = max(dips, key=lambda d: d.depth)
    reasons = [
        f"{len(dips)} dip{'s' if len(dips) > 1 else ''} not explained by a periodic transit",
        f"deepest {deepest.depth:.1%} at t = {deepest.start:.2f}",
    ]
    if deepest.depth > 0.05:
        reasons.append("deeper than a planet makes around a Sun-like star (> 5 %)")
    if components["dip_asymmetry"] >= 0.3:
        reasons.append(f"asymmetric dip (asymmetry {components['dip_asymmetry']:.2f})")
    if components["dip_depth_variation"] >= 0.5:
        reasons.append(f"dip depths vary ({components['dip_depth_variation']:.0%} spread)")
    return reasons
