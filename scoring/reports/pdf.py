"""A discovery report as a two-page A4 PDF, drawn with matplotlib (PdfPages).

Page 1: who the KOI (or TOI) is, the champion's P(planet), the narrative, the star and the
signal with units, the anomaly and data-quality status, and the reasons behind the score. Page 2:
where the signal sits among the known KOIs (TOIs), its light curve and folded transit when the
warehouse has one, how to read the probability, and where every number came from. What a TOI
lacks (stored explanations, anomaly scores, a light curve) is said where it would be drawn.

Figures are built with the object-oriented API (``Figure``, never ``pyplot``): the API renders
reports in worker threads, and pyplot's global state is not thread-safe. The PDF is rendered in
memory and written with a temporary file and a rename, so a failure leaves no file behind.
"""

from __future__ import annotations

import io
import os
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from scoring.reports import text
from scoring.reports.content import LightCurveView, Report
from scoring.reports.missions import CANDIDATE, FALSE_POSITIVE, PLANET, Row

A4 = (8.27, 11.69)  # inches, portrait
LEFT = 0.07
WRAP = 112  # characters per line of 8.5 pt body text across the page
COLOURS = {PLANET: "#1f77b4", CANDIDATE: "#ff7f0e", FALSE_POSITIVE: "#9a9a9a"}
HIGHLIGHT = "#d62728"
STATUS_COLOURS = {CANDIDATE: "#b35900", PLANET: "#1f5f99", FALSE_POSITIVE: "#555555"}


# -- page 1 -------------------------------------------------------------------------------------
def _paragraph(fig: Figure, y: float, body: str, size: float = 8.5, width: int = WRAP) -> float:
    """Wrapped text from ``y`` down; returns the y below it."""
    lines = textwrap.wrap(body, width)
    fig.text(LEFT, y, "\n".join(lines), fontsize=size, va="top", linespacing=1.35)
    return y - len(lines) * size * 1.35 / 72 / A4[1] - 0.012


def _heading(fig: Figure, y: float, label: str, x: float = LEFT) -> None:
    fig.text(x, y, label, fontsize=10, weight="bold", va="top", color="#222")


def _table(fig: Figure, x: float, y: float, rows: list[tuple[str, str]]) -> float:
    step = 0.0175
    for i, (key, value) in enumerate(rows):
        fig.text(x, y - i * step, key, fontsize=8.5, va="top", color="#444")
        fig.text(x + 0.2, y - i * step, value, fontsize=8.5, va="top", family="monospace")
    return y - len(rows) * step


def _cells(row: dict, rows: tuple[Row, ...]) -> list[tuple[str, str]]:
    return [(label, text.number(row[column], digits, unit)) for label, column, digits, unit in rows]


def _star_rows(report: Report) -> list[tuple[str, str]]:
    n, row, mission = text.number, report.row, report.mission
    return [
        (f"{mission.catalogue_name} id", text.star_name(report)),
        *_cells(row, mission.star_rows),
        ("RA, Dec", f"{n(row['ra_deg'], 6)}°, {n(row['dec_deg'], 6)}°"),
        (f"{mission.kind}s on this star", n(row["n_kois_on_star"])),
    ]


def _signal_rows(report: Report) -> list[tuple[str, str]]:
    return _cells(report.row, report.mission.signal_rows)


def _reasons_chart(ax: Axes, report: Report) -> None:
    reasons = report.reasons[::-1]  # largest at the top
    if not reasons:
        ax.text(0.5, 0.5, text.no_explanation_text(report), ha="center", va="center", fontsize=8.5)
        ax.set_axis_off()
        return
    values = [r.contribution for r in reasons]
    colours = ["#2ca02c" if v > 0 else "#d62728" for v in values]
    ax.barh(range(len(reasons)), values, color=colours)
    unit = {None: "", "dimensionless": "", "ratio": "", "count": "", "rank": ""}
    labels = []
    for r in reasons:
        value: float | int | bool | None = r.value
        if value is not None and r.unit in ("count", "rank"):
            value = int(value)  # counts read as 3, not 3.00
        elif value is not None and (r.unit or "").startswith("boolean"):
            value = bool(value)  # yes / no
        shown_unit = "" if isinstance(value, bool) else unit.get(r.unit, r.unit or "")
        labels.append(f"{r.label} = {text.number(value, 3, shown_unit)}")
    ax.set_yticks(range(len(reasons)), labels, fontsize=7.5)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("contribution to the P(planet) log-odds (TreeSHAP): green raises, red lowers")
    ax.xaxis.label.set_fontsize(7.5)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.set_title("Why the model scored it so: its largest contributions", fontsize=9, loc="left")


def _page_one(report: Report) -> Figure:
    koi, mission = report.row, report.mission
    fig = Figure(figsize=A4)
    fig.text(LEFT, 0.965, text.title(report), fontsize=15, weight="bold", va="top")
    fig.text(
        LEFT,
        0.935,
        text.status_line(report),
        fontsize=11,
        va="top",
        color=STATUS_COLOURS[mission.disposition(koi["label_disposition"]).group],
        weight="bold",
    )
    fig.text(
        LEFT,
        0.905,
        f"P(planet) = {text.probability(float(koi['p_planet']))}",
        fontsize=17,
        va="top",
        weight="bold",
        bbox={"boxstyle": "round,pad=0.35", "fc": "#f3f3f3", "ec": "#999"},
    )
    fig.text(
        0.42,
        0.902,
        text.model_line(report),
        fontsize=8,
        va="top",
        color="#444",
    )
    y = _paragraph(fig, 0.855, text.narrative(report), size=9, width=104)
    _heading(fig, y, "The star")
    _heading(fig, y, f"The signal (transit fit, {mission.kind} table)", x=0.53)
    signal_rows = _signal_rows(report)
    bottom = min(
        _table(fig, LEFT, y - 0.025, _star_rows(report)),
        _table(fig, 0.53, y - 0.025, signal_rows),
    )
    if mission.signal_note:
        below = y - 0.025 - len(signal_rows) * 0.0175
        fig.text(0.53, below, textwrap.fill(mission.signal_note, 60), fontsize=7, va="top")
        bottom = min(bottom, below - 0.025)
    y = bottom - 0.012
    _heading(fig, y, "Anomaly status")
    y = _paragraph(fig, y - 0.02, text.anomaly_text(report))
    _heading(fig, y, "Data quality of its batch")
    y = _paragraph(fig, y - 0.02, text.quality_text(report.quality, koi["load_batch_id"]))
    height = max(0.08, y - 0.1)
    ax = fig.add_axes((0.42, 0.07, 0.53, height))
    _reasons_chart(ax, report)
    fig.text(
        LEFT,
        0.02,
        "P(planet) is a calibrated estimate from the transit fit, not a confirmation. See page 2.",
        fontsize=7,
        color="#666",
    )
    return fig


# -- page 2 -------------------------------------------------------------------------------------
def _population_chart(ax: Axes, report: Report) -> None:
    pop, mission = report.population, report.mission
    for group in (FALSE_POSITIVE, PLANET, CANDIDATE):
        chosen = pop["label"] == group
        ax.scatter(
            pop["period"][chosen],
            pop["radius"][chosen],
            s=2,
            color=COLOURS[group],
            alpha=0.45,
            lw=0,
            label=f"{mission.legend[group]} ({chosen.sum():,})",
        )
    koi = report.row
    if koi["orbital_period_days"] and koi["planet_radius_earth"]:
        ax.scatter(
            [koi["orbital_period_days"]],
            [koi["planet_radius_earth"]],
            s=160,
            marker="*",
            color=HIGHLIGHT,
            edgecolor="black",
            lw=0.6,
            zorder=5,
            label=report.name,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("orbital period [days]", fontsize=8)
    ax.set_ylabel("planet radius [Earth radii]", fontsize=8)
    ax.tick_params(labelsize=7.5)
    # Clip the few absurd "radii" (eclipsing binaries) and periods, never the KOI itself.
    ax.set_xlim(
        min(0.2, koi["orbital_period_days"] or 1), max(2000, koi["orbital_period_days"] or 1)
    )
    ax.set_ylim(
        min(0.2, koi["planet_radius_earth"] or 1), max(500, koi["planet_radius_earth"] or 1)
    )
    legend = ax.legend(fontsize=7, loc="upper left", frameon=True)
    for handle in legend.legend_handles[:3]:  # the population's dots, readable in the legend
        handle.set_sizes([12])
    ax.set_title(
        f"Where it sits among the {mission.kind}s of its batch (a few beyond the axes)",
        fontsize=9,
        loc="left",
    )


def _transit_times(lc: LightCurveView, epoch: float, period: float) -> np.ndarray:
    first = np.ceil((lc.time[0] - epoch) / period)
    last = np.floor((lc.time[-1] - epoch) / period)
    return epoch + period * np.arange(first, last + 1)


def _lightcurve_chart(ax: Axes, lc: LightCurveView, koi: dict) -> None:
    ax.plot(lc.time, lc.flux, ".", ms=1.2, color="#555")
    if lc.time_system == "BKJD":
        for t in _transit_times(lc, koi["transit_epoch_bkjd"], koi["orbital_period_days"]):
            ax.axvline(t, color=HIGHLIGHT, lw=0.6, alpha=0.6)
    ax.set_xlabel(f"time [{lc.time_system}]", fontsize=8)
    ax.set_ylabel("flux / median", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.set_title(
        f"Light curve: {lc.file_name} ({lc.mission} {lc.section or ''}, {lc.n_points:,} points); "
        "red: transits predicted by the KOI ephemeris",
        fontsize=8,
        loc="left",
    )


def _folded_chart(ax: Axes, lc: LightCurveView, koi: dict) -> None:
    period, duration = koi["orbital_period_days"], koi["transit_duration_hours"]
    good = np.isfinite(lc.detrended)
    phase = ((lc.time[good] - koi["transit_epoch_bkjd"] + period / 2) % period - period / 2) * 24
    window = max(3 * (duration or 2.0), 6.0)
    near = np.abs(phase) < window
    ax.set_title("Folded on the KOI ephemeris (detrended)", fontsize=9, loc="left")
    if lc.time_system != "BKJD" or not near.any():
        why = "its time system is not BKJD" if lc.time_system != "BKJD" else "no transit in it"
        ax.text(0.5, 0.5, f"cannot fold: {why}", ha="center", va="center", transform=ax.transAxes)
        return
    flux = lc.detrended[good][near]
    ax.plot(phase[near], flux, ".", ms=2, color="#999", label="data")
    edges = np.linspace(-window, window, 49)
    index = np.digitize(phase[near], edges)
    filled = [i for i in range(1, len(edges)) if np.any(index == i)]
    ax.plot(
        [(edges[i - 1] + edges[i]) / 2 for i in filled],
        [np.median(flux[index == i]) for i in filled],
        "o",
        ms=3,
        color="#1f77b4",
        label="binned median",
    )
    if duration and koi["transit_depth_ppm"] is not None:
        half, bottom = duration / 2, 1 - koi["transit_depth_ppm"] / 1e6
        ax.plot(
            [-window, -half, -half, half, half, window],
            [1, 1, bottom, bottom, 1, 1],
            color=HIGHLIGHT,
            lw=1,
            label="catalogue depth and duration",
        )
    ax.set_xlabel("hours from mid-transit", fontsize=8)
    ax.set_ylabel("detrended flux", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.legend(fontsize=7, loc="lower left")


def _metrics_line(report: Report) -> str:
    m = report.metrics
    if not m:
        return ""
    parts = [
        f"ROC AUC {m['roc_auc']:.3f}" if "roc_auc" in m else "",
        f"Brier score {m['brier']:.3f}" if "brier" in m else "",
        f"recall {m['recall_at_precision_0.90']:.2f} at precision ≥ 0.90"
        if "recall_at_precision_0.90" in m
        else "",
    ]
    return (
        f"The champion's out-of-fold figures ({report.mission.protocol}): "
        + ", ".join(p for p in parts if p)
        + "."
    )


def _provenance(report: Report, generated_at: datetime) -> str:
    koi = report.row
    return (
        f"Generated {generated_at:%Y-%m-%d %H:%M} UTC from the ExoHunter warehouse: load batch "
        f"{koi['load_batch_id']} (archive snapshot {koi['snapshot_at']:%Y-%m-%d}), scored "
        f"{koi['scored_at']:%Y-%m-%d %H:%M} UTC by model {koi['model_version']}. Sources: "
        f"{report.mission.sources}. {report.mission.not_inputs}"
    )


def _page_two(report: Report, generated_at: datetime) -> Figure:
    fig = Figure(figsize=A4)
    _population_chart(fig.add_axes((0.1, 0.66, 0.82, 0.29)), report)
    lc = report.lightcurve
    if lc is None:
        y = _paragraph(fig, 0.6, text.no_lightcurve_text(report)) - 0.02
    else:
        _lightcurve_chart(fig.add_axes((0.1, 0.47, 0.82, 0.13)), lc, report.row)
        _folded_chart(fig.add_axes((0.1, 0.27, 0.5, 0.14)), lc, report.row)
        fig.text(
            0.64,
            0.41,
            textwrap.fill(text.lightcurve_search_text(report), 42),
            fontsize=8,
            va="top",
            linespacing=1.35,
        )
        y = 0.215
    _heading(fig, y, "How to read P(planet)")
    y = _paragraph(fig, y - 0.02, text.calibration_caveat(report))
    y = _paragraph(fig, y, _metrics_line(report))
    _heading(fig, y, "Provenance")
    _paragraph(fig, y - 0.02, _provenance(report, generated_at), size=7.5, width=125)
    return fig


# -- the document -------------------------------------------------------------------------------
def render(report: Report, generated_at: datetime | None = None) -> bytes:
    """The report as PDF bytes."""
    generated_at = generated_at or datetime.now(UTC)
    buffer = io.BytesIO()
    metadata = {
        "Title": text.title(report),
        "Author": "ExoHunter",
        "Subject": f"{report.name}: P(planet) {text.probability(float(report.row['p_planet']))}",
        "CreationDate": generated_at,
    }
    with PdfPages(buffer, metadata=metadata) as pdf:
        pdf.savefig(_page_one(report))
        pdf.savefig(_page_two(report, generated_at))
    return buffer.getvalue()


def file_name(report_name: str) -> str:
    """K00752.01.pdf, TOI-1234.01.pdf."""
    name = f"{report_name}.pdf"
    if Path(name).name != name or name.startswith("."):
        raise ValueError(f"not a usable file name: {name!r}")
    return name


def write(report: Report, folder: Path) -> Path:
    """Render, then write ``folder/<KOI or TOI-n>.pdf`` atomically (temporary file, then rename)."""
    data = render(report)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file_name(report.name)
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=".report-", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o644)
        temporary.replace(target)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return target
