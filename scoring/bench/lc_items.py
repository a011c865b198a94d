"""The light-curve benchmark's items and its rules: what each file holds, which of its planets a
search can be asked to find, and whether a reported period is that planet, an alias, or neither.

- **Items**: every row of ``data/lightcurves/benchmark/manifest.csv`` (its globs expanded: one item
  per planet-host quarter and per eclipsing binary; the 18 quarters of KIC 11454304 stitched into
  one light curve by the product's :func:`scoring.lightcurves.stitch.read_segments`), plus the
  shipped light curves whose content ``data/README.md`` states (:data:`SHIPPED`): Kepler-6 b's
  quarter 0 and the flaring stars with no planet.
- **Expected signals**: the manifest's periods and depths (the KOI table's, 2019-01-20); the
  epoch and duration, which the manifest does not carry, from the same KOI table.
- **Eligibility** (computed from the data, per planet and file): at least
  :data:`MIN_TRANSITS` transits with data (a transit counts when half of its window holds
  cadences) and a catalogue depth of at least :data:`MIN_DEPTH_OVER_NOISE` times the light
  curve's noise per transit duration (1.4826 x MAD of the flux binned to the duration, after a
  biweight detrending of three durations and with the known transits masked).
- **Recovery**: a period within :data:`PERIOD_TOLERANCE` (0.1 %) of the KOI period; one within
  0.1 % of a small-integer ratio n/m of it (P/2, P/3, 2P, 3P/2 ...) is an alias, not a recovery.
"""

from __future__ import annotations

import csv
import glob
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from scoring import settings
from scoring.lightcurves import readers, stitch

BENCHMARK_DIR = settings.DATA_DIR / "lightcurves" / "benchmark"
MANIFEST = BENCHMARK_DIR / "manifest.csv"
SHIPPED_DIR = settings.DATA_DIR / "lightcurves"
PERIOD_TOLERANCE = 1e-3
MIN_TRANSITS = 3
MIN_DEPTH_OVER_NOISE = 7.0
ALIAS_MAX = 5  # aliases n/m with 1 <= n, m <= 5

#: The shipped light curves whose content data/README.md states: (file, target, kind, KOIs held).
SHIPPED: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("kplr010874614-2009131105131_llc.fits", "KIC 10874614", "planet host", ("K00017.01",)),
    ("kplr010002792-2009259160929_llc.fits", "KIC 10002792", "flaring star", ()),
    ("kplr010002792-2010174085026_llc.fits", "KIC 10002792", "flaring star", ()),
    (
        "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits",
        "TIC 358108509",
        "flaring star",
        (),
    ),
)
_SIGNAL = re.compile(r"(K\d{5}\.\d{2})\s+([^;]*?)\s*P=([\d.]+)\s*d\s+(?:depth=)?([\d.]+)\s*ppm")


@dataclass(frozen=True)
class Planet:
    koi: str
    name: str
    period_days: float
    depth_ppm: float
    epoch_bkjd: float = math.nan  # from the KOI table
    duration_hours: float = math.nan  # from the KOI table


@dataclass
class Item:
    name: str  # short label for the table
    target: str
    kind: str  # 'planet host', 'no planet', 'eclipsing binary', 'flaring star'
    paths: list[Path]
    planets: list[Planet] = field(default_factory=list)
    note: str = ""

    @property
    def expects_planet(self) -> bool:
        return self.kind == "planet host"


def parse_signals(text: str) -> list[Planet]:
    """The manifest's ``expected_signals`` cell as planets (none for 'none (...)' or an EB)."""
    return [
        Planet(koi, name.strip(), float(period), float(depth))
        for koi, name, period, depth in _SIGNAL.findall(text)
    ]


def koi_table(
    kois: set[str], path: Path = settings.SHIPPED_KOI_FILE
) -> dict[str, dict[str, float]]:
    """Period, depth, epoch (BKJD) and duration of the named KOIs, from the shipped KOI table."""
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {
            row["kepoi_name"]: {
                "period": float(row["koi_period"]),
                "depth": float(row["koi_depth"]),
                "epoch": float(row["koi_time0bk"]),
                "duration": float(row["koi_duration"]),
                "name": row["kepler_name"],
            }
            for row in rows
            if row["kepoi_name"] in kois
        }


def _with_ephemeris(planets: list[Planet], table: dict[str, dict[str, float]]) -> list[Planet]:
    return [
        Planet(
            p.koi,
            p.name,
            p.period_days,
            p.depth_ppm,
            table[p.koi]["epoch"],
            table[p.koi]["duration"],
        )
        for p in planets
    ]


def items(manifest: Path = MANIFEST) -> list[Item]:
    """Every benchmark item: the manifest's rows (globs expanded), then :data:`SHIPPED`."""
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    wanted = {p.koi for row in rows for p in parse_signals(row["expected_signals"])}
    wanted |= {koi for *_, kois in SHIPPED for koi in kois}
    table = koi_table(wanted)
    out: list[Item] = []
    for row in rows:
        paths = sorted(Path(p) for p in glob.glob(str(manifest.parent / row["file_glob"])))
        planets = _with_ephemeris(parse_signals(row["expected_signals"]), table)
        kind = row["kind"]
        if kind == "planet host":
            out += [
                Item(_label(row["target"], p), row["target"], kind, [p], planets) for p in paths
            ]
        elif len(paths) > 1 and kind == "no planet":  # quarters of one star: one light curve
            out.append(Item(f"{row['target']} Q0-Q17 stitched", row["target"], kind, paths))
        else:
            out += [Item(p.stem, row["target"], kind, [p]) for p in paths]
    for name, target, kind, kois in SHIPPED:
        planets = [Planet(k, table[k]["name"], table[k]["period"], table[k]["depth"]) for k in kois]
        out.append(
            Item(
                _label(target, SHIPPED_DIR / name),
                target,
                kind,
                [SHIPPED_DIR / name],
                _with_ephemeris(planets, table),
                "shipped (data/README.md)",
            )
        )
    return out


def _label(target: str, path: Path) -> str:
    return f"{target} {path.stem.split('_')[0].split('-', 1)[-1]}"


# -- the light curves ---------------------------------------------------------------------------
@dataclass
class Series:
    time: np.ndarray
    flux: np.ndarray  # normalised (median 1 per segment)
    flux_err: np.ndarray | None
    kepid: int | None
    section: str  # "Q15", "Q0-Q17 (18 files, stitched)", "S1", "Q0-Q17" (an EB array)

    @property
    def n_points(self) -> int:
        return len(self.time)

    @property
    def span_days(self) -> float:
        return float(self.time[-1] - self.time[0])


def _read_one(path: Path) -> readers.LightCurve:
    (lc,) = readers.read_bytes(path.read_bytes(), path.name)
    return lc


def load(item: Item) -> Series:
    """The item's light curve, as every method receives it."""
    if item.paths[0].suffix == ".npy":
        array = np.load(item.paths[0])
        good = np.isfinite(array).all(axis=1)
        t, f, e = array[good, 0], array[good, 1], array[good, 2]
        scale = float(np.median(f))
        return Series(t, f / scale, e / scale, None, "Q0-Q17")
    if len(item.paths) > 1:  # the product's stitch: each quarter divided by its median
        lc = stitch.read_segments([(p.name, p.read_bytes()) for p in item.paths]).lightcurve
        section = f"{lc.section} ({len(item.paths)} files, stitched)"
    else:
        lc = _read_one(item.paths[0])
        section = lc.section or "?"
    scale = float(np.median(lc.flux))
    errors = None if lc.flux_err is None else lc.flux_err / scale
    return Series(lc.time, lc.flux / scale, errors, lc.kepid, section)


# -- eligibility --------------------------------------------------------------------------------
@dataclass
class Eligibility:
    planet: Planet
    n_transits: int  # transits with at least half of their window in the data
    noise_ppm: float  # noise per transit duration
    depth_over_noise: float
    eligible: bool

    @property
    def why(self) -> str:
        if self.eligible:
            return "eligible"
        reasons = []
        if self.n_transits < MIN_TRANSITS:
            reasons.append(f"{self.n_transits} transits < {MIN_TRANSITS}")
        if not self.depth_over_noise >= MIN_DEPTH_OVER_NOISE:
            reasons.append(f"depth {self.depth_over_noise:.1f}x noise < {MIN_DEPTH_OVER_NOISE:g}x")
        return "; ".join(reasons)


def _in_transit(time_: np.ndarray, planet: Planet, widen: float = 1.0) -> np.ndarray:
    half = widen * planet.duration_hours / 48.0
    phase = (time_ - planet.epoch_bkjd + 0.5 * planet.period_days) % planet.period_days
    return np.abs(phase - 0.5 * planet.period_days) < half


def eligibility(series: Series, planets: list[Planet]) -> list[Eligibility]:
    """Per planet: its transit count with data and its depth over the noise per duration."""
    from wotan import flatten

    out = []
    cadence = float(np.median(np.diff(series.time)))
    known = np.zeros(series.n_points, bool)
    for planet in planets:
        known |= _in_transit(series.time, planet, widen=1.5)
    for planet in planets:
        duration = planet.duration_hours / 24.0
        n_epochs = np.round((series.time - planet.epoch_bkjd) / planet.period_days)
        inside = _in_transit(series.time, planet)
        counts = np.unique(n_epochs[inside], return_counts=True)[1]
        n_transits = int((counts >= 0.5 * duration / cadence).sum())
        flat = flatten(
            series.time, series.flux, method="biweight", window_length=max(3 * duration, 0.5)
        )
        good = np.isfinite(flat) & ~known
        bins = np.floor((series.time[good] - series.time[0]) / duration)
        values = flat[good]
        _, index, counts = np.unique(bins, return_inverse=True, return_counts=True)
        means = np.bincount(index, values) / counts
        full = counts >= 0.5 * duration / cadence
        means = means[full]
        noise = (
            1.4826 * float(np.median(np.abs(means - np.median(means)))) if len(means) else math.nan
        )
        ratio = planet.depth_ppm / 1e6 / noise if noise > 0 else math.nan
        out.append(
            Eligibility(
                planet,
                n_transits,
                noise * 1e6,
                ratio,
                n_transits >= MIN_TRANSITS and ratio >= MIN_DEPTH_OVER_NOISE,
            )
        )
    return out


# -- recovery -----------------------------------------------------------------------------------
def _ratios() -> list[Fraction]:
    found = {Fraction(n, m) for n in range(1, ALIAS_MAX + 1) for m in range(1, ALIAS_MAX + 1)}
    return sorted(found - {Fraction(1)})


_ALIASES = _ratios()


def match(period: float, planet_period: float, tolerance: float = PERIOD_TOLERANCE) -> str | None:
    """'recovered' within 0.1 % of the planet's period; 'alias n/m' (the reported period is n/m of
    the planet's) within 0.1 % of a small-integer ratio; else None."""
    if not (period > 0 and planet_period > 0):
        return None
    ratio = period / planet_period
    if abs(ratio - 1) <= tolerance:
        return "recovered"
    for alias in _ALIASES:
        if abs(ratio / float(alias) - 1) <= tolerance:
            text = f"P/{alias.denominator}" if alias.numerator == 1 else f"{alias}P"
            return f"alias {text}"
    return None


def classify(periods: list[float], planet: Planet) -> tuple[str, float | None]:
    """The best a method's reported periods say about ``planet``: recovered, an alias, or missed
    (with the period that matched)."""
    aliases = []
    for period in periods:
        verdict = match(period, planet.period_days)
        if verdict == "recovered":
            return verdict, period
        if verdict is not None:
            aliases.append((verdict, period))
    return aliases[0] if aliases else ("missed", None)
