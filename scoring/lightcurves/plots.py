"""The result page's figures, drawn server-side with matplotlib (Agg) as PNG data URIs: no
front-end build, no JavaScript, and the page is one self-contained document."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from scoring.lightcurves.anomaly import AnomalyScore
from scoring.lightcurves.search import SearchResult, Signal

_SIZE = (9.0, 2.8)
_COLOURS = ("#d62728", "#2ca02c", "#9467bd")


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def raw_flux(result: SearchResult, time_system: str) -> str:
    figure, axis = plt.subplots(figsize=_SIZE)
    axis.plot(result.time, result.flux, ".", ms=1.5, color="#555", label="flux (normalised)")
    axis.plot(result.time, result.trend, "-", lw=1, color="#1f77b4", label="biweight trend")
    axis.set_xlabel(f"time [{time_system}]")
    axis.set_ylabel("relative flux")
    axis.legend(loc="lower left", fontsize=8)
    return _png(figure)


def detrended(result: SearchResult, anomaly: AnomalyScore, time_system: str) -> str:
    figure, axis = plt.subplots(figsize=_SIZE)
    axis.plot(result.time, result.detrended, ".", ms=1.5, color="#555")
    for colour, signal in zip(_COLOURS, result.detections, strict=False):
        transits = signal.epoch + signal.period_days * np.arange(
            np.ceil((result.time[0] - signal.epoch) / signal.period_days),
            np.floor((result.time[-1] - signal.epoch) / signal.period_days) + 1,
        )
        for t in transits:
            axis.axvline(t, color=colour, lw=0.6, alpha=0.5)
    for dip in anomaly.dips:
        axis.axvspan(dip.start, dip.end, color="#ff7f0e", alpha=0.3, lw=0)
    axis.set_xlabel(f"time [{time_system}]")
    axis.set_ylabel("detrended flux")
    axis.set_title("lines: transits of the detections; orange: unexplained dips", fontsize=8)
    return _png(figure)


def periodogram(result: SearchResult) -> str:
    figure, axis = plt.subplots(figsize=_SIZE)
    axis.plot(result.periodogram.period_days, result.periodogram.power, lw=0.6, color="#333")
    for colour, signal in zip(_COLOURS, result.signals, strict=False):
        axis.axvline(signal.period_days, color=colour, lw=1, ls="--", alpha=0.8)
    axis.set_xscale("log")
    axis.set_xlabel("trial period [days]")
    axis.set_ylabel("BLS power (standardised)")
    axis.set_title(f"{result.mode} search, {result.n_periods:,} trial periods", fontsize=8)
    return _png(figure)


def _phase_hours(time_: np.ndarray, signal: Signal) -> np.ndarray:
    period = signal.period_days
    return ((time_ - signal.epoch + period / 2) % period - period / 2) * 24


def folded(result: SearchResult, signal: Signal) -> str:
    good = np.isfinite(result.detrended)
    phase = _phase_hours(result.time[good], signal)
    flux = result.detrended[good]
    window = max(3 * signal.duration_hours, 6.0)
    near = np.abs(phase) < window
    figure, axis = plt.subplots(figsize=(4.5, 3.0))
    axis.plot(phase[near], flux[near], ".", ms=2, color="#999", label="data")
    bins = np.linspace(-window, window, 61)
    index = np.digitize(phase[near], bins)
    centres = [(bins[i - 1] + bins[i]) / 2 for i in range(1, len(bins)) if np.any(index == i)]
    means = [np.mean(flux[near][index == i]) for i in range(1, len(bins)) if np.any(index == i)]
    axis.plot(centres, means, "o", ms=3, color="#1f77b4", label="binned")
    half = signal.duration_hours / 2
    model_x = [-window, -half, -half, half, half, window]
    bottom = 1 - signal.depth_ppm / 1e6
    axis.plot(model_x, [1, 1, bottom, bottom, 1, 1], "-", color="#d62728", lw=1.2, label="box")
    axis.set_xlabel("hours from mid-transit")
    axis.set_ylabel("detrended flux")
    axis.set_title(f"P = {signal.period_days:.5f} d", fontsize=8)
    axis.legend(fontsize=7, loc="lower right")
    return _png(figure)


def odd_even(result: SearchResult, signal: Signal) -> str:
    good = np.isfinite(result.detrended)
    time_, flux = result.time[good], result.detrended[good]
    number = np.round((time_ - signal.epoch) / signal.period_days).astype(int)
    phase = _phase_hours(time_, signal)
    window = max(2 * signal.duration_hours, 4.0)
    figure, axes = plt.subplots(1, 2, figsize=(6.5, 2.8), sharey=True)
    for axis, parity, depth, label in (
        (axes[0], 1, signal.odd_depth_ppm, "odd"),
        (axes[1], 0, signal.even_depth_ppm, "even"),
    ):
        chosen = (number % 2 == parity) & (np.abs(phase) < window)
        axis.plot(phase[chosen], flux[chosen], ".", ms=2, color="#555")
        if np.isfinite(depth):
            axis.axhline(1 - depth / 1e6, color="#d62728", lw=1)
        axis.set_title(f"{label} transits: {depth:,.0f} ppm", fontsize=8)
        axis.set_xlabel("hours")
    axes[0].set_ylabel("detrended flux")
    figure.suptitle(f"odd - even: {signal.odd_even_sigma:.1f} sigma", fontsize=8)
    return _png(figure)


#: The CNN's views as stored per signal (ml.lightcurve_signals), with what their x axis shows.
CNN_VIEWS = (
    ("global", "cnn_global_view", "phase [periods]"),
    ("local", "cnn_local_view", "hours from mid-transit"),
    ("secondary", "cnn_secondary_view", "hours from the secondary's centre"),
)


def _view_axis(view: str, signal: dict[str, Any], bins: int) -> np.ndarray:
    """Where the view's bins lie (the view builder's windows, scoring/cnn/views.py)."""
    period_h, duration_h = signal["period_days"] * 24, signal["duration_hours"]
    half = {
        "global": 0.5,
        "local": min(period_h / 2, 2 * duration_h),
        "secondary": min(period_h / 2, 4 * duration_h),
    }[view]
    return np.linspace(-half, half, bins)


def cnn_view(view: str, signal: dict[str, Any]) -> str:
    """One of the three views the CNN saw of a signal: the normalised binned fold (0 out of
    transit, -1 at the deepest bin)."""
    _, column, label = next(v for v in CNN_VIEWS if v[0] == view)
    values = np.asarray(signal[column], float)
    figure, axis = plt.subplots(figsize=(3.2, 2.4))
    axis.plot(_view_axis(view, signal, len(values)), values, ".-", ms=3, lw=0.6, color="#1f77b4")
    axis.axhline(0, color="#999", lw=0.6)
    axis.set_xlabel(label, fontsize=8)
    axis.set_ylabel("normalised flux", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.set_title(f"signal {signal['signal_number']}: {view} view, {len(values)} bins", fontsize=8)
    return _png(figure)


def cnn_figures(signals: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """The three CNN views of every stored signal that has them, by signal number."""
    return {
        s["signal_number"]: {view: cnn_view(view, s) for view, *_ in CNN_VIEWS}
        for s in signals
        if s.get("cnn_global_view") is not None
    }


def all_figures(result: SearchResult, anomaly: AnomalyScore, time_system: str) -> dict[str, str]:
    figures = {
        "raw": raw_flux(result, time_system),
        "detrended": detrended(result, anomaly, time_system),
        "periodogram": periodogram(result),
    }
    if result.signals:
        best = result.signals[0]
        figures["folded"] = folded(result, best)
        figures["odd_even"] = odd_even(result, best)
    return figures
