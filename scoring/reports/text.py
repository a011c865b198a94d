"""The words of a discovery report: a narrative filled in from the stored numbers, and the
caveats. A template, not prose generation: every sentence can be traced to a column, and the
wording never lets a CANDIDATE (or a TESS PC) read as a discovery. What differs between a KOI and
a TOI is the report's :class:`~scoring.reports.missions.Mission`."""

from __future__ import annotations

import math
from typing import Any

from scoring.reports.content import QualityRun, Report
from scoring.reports.missions import CANDIDATE, PLANET

RADIUS_CLASSES = {
    "earth_size": "Earth-sized",
    "super_earth": "a super-Earth",
    "sub_neptune": "a sub-Neptune",
    "neptune": "Neptune-sized",
    "giant": "a giant planet",
    "very_large": "too large for a planet: more likely a star",
}
STAGES = {
    "raw": "raw load",
    "features": "features",
    "predictions": "predictions",
    "anomalies": "anomaly scores",
}


def number(value: Any, digits: int = 3, unit: str = "") -> str:
    """A value for a table cell: significant digits, thousands separators, '—' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,} {unit}".rstrip()
    value = float(value)
    if abs(value) >= 1000:  # thousands separators; decimals only while digits remain
        places = max(0, digits - (math.floor(math.log10(abs(value))) + 1))
        text = f"{value:,.{places}f}"
    else:
        text = f"{value:#.{digits}g}".rstrip(".")
    return f"{text} {unit}".rstrip()


def probability(p: float) -> str:
    return f"{p:.3f}"


def title(report: Report) -> str:
    row = report.row
    kepler = f" ({row['kepler_name']})" if row.get("kepler_name") else ""
    return f"ExoHunter discovery report: {report.name}{kepler}"


def status_line(report: Report) -> str:
    source = _capital(report.mission.source.removeprefix("the "))
    verdict = report.mission.disposition(report.row["label_disposition"]).status
    return f"{source} disposition: {verdict}"


def _capital(words: str) -> str:
    """The first letter upper case, the rest as written (TFOPWG stays TFOPWG)."""
    return words[:1].upper() + words[1:]


def star_name(report: Report) -> str:
    """KIC 10874614, TIC 50365310."""
    return f"{report.mission.star_catalogue} {report.row[report.mission.star_key]}"


def model_line(report: Report) -> str:
    """Beside P(planet): which model, and the other numbers it stored."""
    row = report.row
    line = f"calibrated; champion classifier {row['model_version']} ({row['model_algorithm']})\n"
    if "p_confirmed" in row:
        return line + (
            f"three classes: confirmed {row['p_confirmed']:.2f} · candidate "
            f"{row['p_candidate']:.2f} · false positive {row['p_false_positive']:.2f}"
        )
    return line + (
        f"log-odds {row['planet_log_odds']:+.2f} · {report.mission.protocol} (no three classes)"
    )


def calibration_caveat(report: Report) -> str:
    """What P(planet) means, with the reliability of the bin this KOI falls in."""
    mission = report.mission
    text = (
        "P(planet) is the champion classifier's probability that the signal is a planet rather "
        "than a false positive, calibrated (Platt scaling) on the out-of-fold scores of "
        f"{mission.trained_on}."
    )
    c = report.calibration
    if c is not None and c.n:
        text += (
            f" Of the {c.n:,} labelled {mission.kind}s it scored about {c.mean_predicted:.2f}, "
            f"{c.observed_confirmed:.0%} were {mission.planets}."
        )
    return text + (
        f" {mission.unresolved} were never in training: if they differ from the labelled "
        f"{mission.kind}s (fainter stars, smaller signals) the calibration may not hold for "
        "them. It is a ranking aid built from the catalogue's transit fit, not a vetting."
    )


def _group(report: Report) -> str:
    return report.mission.disposition(report.row["label_disposition"]).group


def _planet_sentence(report: Report) -> str:
    koi = report.row
    radius, period = koi.get("planet_radius_earth"), koi.get("orbital_period_days")
    if radius is None or period is None:
        return ""
    size = RADIUS_CLASSES.get(koi.get("radius_class") or "", "")
    subject = "It is" if _group(report) == PLANET else "If it is a planet, it is"
    sentence = (
        f"{subject} {number(radius)} Earth radii"
        f"{' (' + size + ')' if size else ''} on a {number(period, 4)}-day orbit"
    )
    if koi.get("equilibrium_temp_k") is not None:
        sentence += f", with an equilibrium temperature near {number(koi['equilibrium_temp_k'])} K"
    if koi.get("is_in_habitable_zone"):
        sentence += ", inside its star's habitable zone by insolation"
    return sentence + "."


def _score_sentence(report: Report) -> str:
    row = report.row
    p = probability(float(row["p_planet"]))
    if row.get("candidate_rank") is not None:
        return (
            f"ExoHunter's classifier gives it P(planet) = {p}, rank {row['candidate_rank']:,} of "
            f"{report.n_candidates:,} {report.mission.ranked}."
        )
    if _group(report) == CANDIDATE:  # unresolved, but outside the ranking (a TESS APC)
        return (
            f"ExoHunter's classifier gives it P(planet) = {p}; only the "
            f"{report.mission.ranked} are ranked."
        )
    return (
        f"ExoHunter's classifier, which sees only the transit fit and the star, gives it "
        f"P(planet) = {p}; {report.mission.source}'s verdict came from vetting the model never "
        "reads."
    )


def _reasons_sentence(report: Report) -> str:
    up = [r.label for r in report.reasons if r.contribution > 0][:2]
    down = [r.label for r in report.reasons if r.contribution < 0][:2]
    parts = []
    if up:
        parts.append(f"raised most by its {' and '.join(up)}")
    if down:
        parts.append(f"lowered most by its {' and '.join(down)}")
    return f"The score is {' and '.join(parts)}." if parts else ""


def anomaly_text(report: Report) -> str:
    a = report.anomaly
    if not report.mission.anomaly_scored:
        return (
            f"Not scored: the anomaly lenses are fitted on the Kepler KOI table only, and no "
            f"anomaly score of a {report.mission.kind} is stored."
        )
    if a is None:
        return "Not scored by the anomaly lenses (run `exohunter anomalies`)."
    rank = f"rank {a['anomaly_rank']:,} of {report.n_anomaly_scored:,}"
    if a["anomaly_kind"] == "ordinary":
        return f"Ordinary: neither anomaly lens flags it ({rank})."
    why = f": {a['anomaly_reasons']}" if a.get("anomaly_reasons") else ""
    return f"Flagged — {a['anomaly_kind']} ({rank}){why}."


def _run_status(run: QualityRun) -> str:
    if run.status == "failed":
        return f"FAILED ({run.n_critical_failed} critical)"
    if run.status == "warnings":
        plural = "s" if run.n_warnings != 1 else ""
        return f"passed with {run.n_warnings} warning{plural} ({', '.join(run.warnings[:3])})"
    return "passed"


def quality_text(runs: list[QualityRun], batch: int) -> str:
    if not runs:
        return f"No data-quality checks are recorded for load batch {batch} (`exohunter check`)."
    parts = [f"{STAGES.get(r.stage, r.stage)} {_run_status(r)}" for r in runs]
    text = f"Load batch {batch}: {'; '.join(parts)}."
    if any(r.status == "failed" for r in runs):
        text += " A critical check failed: treat this report with suspicion."
    return text


def _anomaly_sentence(report: Report) -> str:
    a = report.anomaly
    if a is None:
        return ""
    if a["anomaly_kind"] == "ordinary":
        return "Neither anomaly lens finds it unusual."
    why = f" ({a['anomaly_reasons']})" if a.get("anomaly_reasons") else ""
    return f"The anomaly lenses flag it as {a['anomaly_kind']}{why}: worth a closer look."


def _lightcurve_sentence(report: Report) -> str:
    lc = report.lightcurve
    if not report.mission.has_lightcurves:
        return ""  # said on page 2, where the light curve would be: no_lightcurve_text
    if lc is None:
        return "No Kepler light curve of its star is in the warehouse."
    return (
        f"A light curve of its star is in the warehouse ({lc.mission} {lc.section or ''}, "
        f"{lc.n_points:,} points); page 2 folds it on the catalogue ephemeris."
    ).replace(" ,", ",")


def no_lightcurve_text(report: Report) -> str:
    """Page 2, where the light curve would be drawn."""
    if not report.mission.has_lightcurves:
        return (
            f"No light curve is shown for a {report.mission.kind}: ExoHunter does not match "
            f"{report.mission.survey} light curves to TOIs, and the TOI mart keeps no transit "
            "epoch to fold one on. Upload the star's light curve to the light-curve page for "
            "ExoHunter's own transit search."
        )
    return (
        f"No Kepler light curve of {star_name(report)} is in the warehouse. Load one with "
        "`exohunter ingest lightcurve FILE` and make the report again."
    )


def no_explanation_text(report: Report) -> str:
    """Where the reasons chart would be, when there are no stored contributions."""
    if not report.mission.explained:
        return (
            f"No per-feature explanation is stored for {report.mission.kind} scores:\n"
            "the TOI classifier writes P(planet) and its log-odds only."
        )
    return "no stored explanation"


def lightcurve_search_text(report: Report) -> str:
    """What ExoHunter's own transit search found in the light curve, if it was analysed."""
    lc = report.lightcurve
    if lc is None or lc.search is None:
        return "This light curve has not been analysed yet (`exohunter lightcurves analyse`)."
    s = lc.search
    if s.get("period_days") is None:
        return "ExoHunter's transit search found no significant signal in this light curve."
    p = "—" if s["p_planet"] is None else f"{s['p_planet']:.2f}"
    verdict = "likely planet" if s["likely_planet"] else ("; ".join(s["flags"]) or "not likely")
    return (
        f"ExoHunter's own transit search on this light curve: P = {number(s['period_days'], 6)} d, "
        f"depth {number(s['depth_ppm'], 4)} ppm, S/N {number(s['snr'])}, "
        f"{s['n_transits']} transits; light-curve P(planet) {p} — {verdict}."
    )


def _closing(report: Report) -> str:
    group, p_planet = _group(report), float(report.row["p_planet"])
    disposition = report.mission.disposition(report.row["label_disposition"])
    source = report.mission.source
    if group == CANDIDATE:
        return (
            "A candidate is not a discovery until it is confirmed: the signal could still be an "
            "eclipsing binary, a blend with a background star or an instrumental artefact. "
            "Radial velocities, high-resolution imaging or a statistical validation decide."
        )
    if group == PLANET:
        return (
            f"{_capital(source)} lists it as {disposition.phrase}; this report "
            "shows how the model saw it."
        )
    vetting = f"{_capital(source)}'s vetting rejected it"
    if p_planet >= 0.5:
        return (
            f"{vetting}; the high P(planet) means its transit fit looks planet-like, not that "
            "the vetting was wrong."
        )
    return f"{vetting}, and the model agrees."


def narrative(report: Report) -> str:
    star = star_name(report)
    phrase = report.mission.disposition(report.row["label_disposition"]).phrase
    opening = {
        CANDIDATE: f"{report.name} is a transit-like signal on the star {star} that has been "
        "neither confirmed nor ruled out.",
        PLANET: f"{report.name} is {phrase} of the star {star}.",
    }.get(
        _group(report),
        f"{report.name} is a signal on the star {star} that {report.mission.source} classified "
        f"as {phrase}.",
    )
    sentences = [
        opening,
        _score_sentence(report),
        _reasons_sentence(report),
        _planet_sentence(report),
        _anomaly_sentence(report),
        _lightcurve_sentence(report),
        _closing(report),
    ]
    return " ".join(s for s in sentences if s)
