"""The transit search on the public benchmark of real light curves (data/lightcurves/benchmark/):
the known planets recovered at the KOI period (within 0.1 %, not an alias) and passing the light
curve's own vetting; a quiet star's quarters and real eclipsing binaries never passing it.

What must be recovered follows the benchmark's rule, measured on each file: a KOI with three or
more transits holding data and a catalogue depth at least seven times the light curve's noise at
the transit's duration. P(planet) needs the trained model (tests/integration/test_lightcurves.py
asserts the likely-planet verdicts); here the search's own significance and flags are asserted.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring import settings
from scoring.lightcurves import model, search
from scoring.lightcurves.readers import read_bytes

BENCHMARK = Path(__file__).resolve().parents[2] / "data" / "lightcurves" / "benchmark"
KEPLER = BENCHMARK / "kepler"

KEPLER12_STAR = model.Star(5953.0, 4.175, 1.415, "koi_table")  # the KOI table's
KEPLER32_STAR = model.Star(3731.0, 4.75, 0.498, "koi_table")
FILES = {
    "kplr011804465-2010174085026_llc.fits": (11804465, KEPLER12_STAR),  # Kepler-12 Q5
    "kplr011804465-2013011073258_llc.fits": (11804465, KEPLER12_STAR),  # Kepler-12 Q15
    "kplr009787239-2009166043257_llc.fits": (9787239, KEPLER32_STAR),  # Kepler-32 Q1
    "kplr009787239-2009259160929_llc.fits": (9787239, KEPLER32_STAR),  # Kepler-32 Q2
}
QUIET_QUARTERS = sorted(p.name for p in KEPLER.glob("kplr011454304-*_llc.fits"))
ECLIPSING_BINARIES = sorted(p.name for p in (BENCHMARK / "eclipsing_binaries").glob("eb*.npy"))


def read(name: str):
    (lc,) = read_bytes((KEPLER / name).read_bytes(), name)
    return lc


def kois_of(kepid: int) -> pd.DataFrame:
    table = pd.read_csv(settings.SHIPPED_KOI_FILE, comment="#")
    return table[table["kepid"] == kepid].set_index("kepoi_name")


def expected(result: search.SearchResult, kois: pd.DataFrame) -> dict[str, float]:
    """The KOIs the benchmark's rule says a search must recover in this light curve: three or
    more transits with data (from the KOI ephemeris) and depth >= 7x the noise per duration."""
    good = np.isfinite(result.detrended)
    t, f = result.time[good], result.detrended[good]
    cadence = float(np.median(np.diff(t)))
    sigma = search.robust_sigma(f)
    must = {}
    for name, koi in kois.iterrows():
        period, epoch = float(koi["koi_period"]), float(koi["koi_time0bk"])
        duration = float(koi["koi_duration"]) / 24
        number = np.round((t - epoch) / period)
        inside = np.abs(t - (epoch + number * period)) < duration / 2
        transits = len(np.unique(number[inside]))
        noise = sigma / math.sqrt(max(duration / cadence, 1.0))
        if transits >= 3 and float(koi["koi_depth"]) / 1e6 >= 7 * noise:
            must[name] = period
    return must


@pytest.fixture(scope="module", params=sorted(FILES))
def planet_file(request: pytest.FixtureRequest):
    lc = read(request.param)
    return request.param, search.search(lc.time, lc.flux, lc.flux_err)


def matches(signal: search.Signal, period: float) -> bool:
    return abs(signal.period_days / period - 1) < 1e-3


def test_known_planets_are_recovered_at_the_koi_period(planet_file) -> None:
    name, result = planet_file
    kois = kois_of(FILES[name][0])
    must = expected(result, kois)
    if name.startswith(("kplr011804465", "kplr009787239-2009259")):
        assert must, f"{name}: the benchmark's rule names planets to recover here"
    for koi, period in must.items():
        found = [s for s in result.detections if matches(s, period)]
        assert found, f"{koi} ({period} d) not recovered in {name}: " + ", ".join(
            f"{s.period_days:.5f} d" for s in result.signals
        )


def test_every_detection_is_a_known_planet_at_its_own_period(planet_file) -> None:
    """No alias (P/2, P/3, 2P…) and no spurious period is reported as significant."""
    name, result = planet_file
    periods = kois_of(FILES[name][0])["koi_period"]
    for signal in result.detections:
        assert any(matches(signal, p) for p in periods), (
            f"{name}: a significant signal at {signal.period_days:.5f} d is no KOI's period"
        )


def test_recovered_planets_pass_the_light_curves_own_vetting(planet_file) -> None:
    name, result = planet_file
    kepid, star = FILES[name]
    periods = kois_of(kepid)["koi_period"]
    recovered = [s for s in result.detections if any(matches(s, p) for p in periods)]
    assert recovered or name == "kplr009787239-2009166043257_llc.fits"
    for signal in recovered:
        assert model.checks(signal, star) == [], f"{name} {signal.period_days:.5f} d"


def test_kepler12_in_both_quarters_and_kepler32_bcd_in_q2(planet_file) -> None:
    """The benchmark's named targets: Kepler-12 b in Q5 and Q15 (the old search reported P/5
    and P/3), and Kepler-32 b, c, d in Q2 (the old search stopped after a weak first one)."""
    name, result = planet_file
    kois = kois_of(FILES[name][0])
    if name.startswith("kplr011804465"):
        best = result.detections[0]
        assert matches(best, kois.loc["K00020.01", "koi_period"])
        assert abs(best.depth_ppm / kois.loc["K00020.01", "koi_depth"] - 1) < 0.15
    elif name == "kplr009787239-2009259160929_llc.fits":
        for koi in ("K00952.01", "K00952.02", "K00952.03"):
            period = kois.loc[koi, "koi_period"]
            assert any(matches(s, period) for s in result.detections), koi


@pytest.mark.parametrize("name", QUIET_QUARTERS)
def test_no_quarter_of_a_star_without_planets_passes_vetting(name: str) -> None:
    """KIC 11454304: every Kepler TCE of it was vetted false positive. Whatever the search
    reports in one quarter, the light curve's own checks refuse it, by name."""
    lc = read(name)
    result = search.search(lc.time, lc.flux, lc.flux_err)
    assert result.signals
    for signal in result.signals:
        flags = model.checks(signal, model.Star())
        assert flags, f"{name}: {signal.period_days:.4f} d passes every check"


@pytest.mark.parametrize("name", ECLIPSING_BINARIES)
def test_an_eclipsing_binarys_primary_never_passes_vetting(name: str) -> None:
    """Real Kepler eclipsing binaries (0.5-0.9 d), their first 90 days (a quarter's length,
    to keep this fast; the integration test searches the full arrays): every signal is
    flagged, with the reason named."""
    values = np.load(BENCHMARK / "eclipsing_binaries" / name)
    quarter = values[values[:, 0] < values[0, 0] + 90]
    result = search.search(quarter[:, 0], quarter[:, 1], quarter[:, 2])
    assert result.signals
    for signal in result.signals:
        assert model.checks(signal, model.Star()), f"{name}: {signal.period_days:.4f} d"
    first = result.signals[0]
    for later in result.signals[1:]:
        if matches(later, first.period_days):
            assert later.eclipse_of == first.number, f"{name}: {later.period_days:.4f} d"


def test_an_eclipsing_binarys_secondary_found_as_a_second_signal_is_named_so() -> None:
    """eb12 (0.8019 d), days 400-490: once the primary eclipses are masked, the search finds the
    secondary at the same period, half an orbit on. Both are named for what they are."""
    values = np.load(BENCHMARK / "eclipsing_binaries" / "eb12.npy")
    start = values[0, 0] + 400
    quarter = values[(values[:, 0] > start) & (values[:, 0] < start + 90)]
    result = search.search(quarter[:, 0], quarter[:, 1], quarter[:, 2])
    primary, secondary = result.signals[:2]
    assert matches(secondary, primary.period_days)
    assert secondary.eclipse_of == primary.number
    assert abs(secondary.eclipse_phase - 0.5) < 0.02
    assert primary.deep_eclipse == secondary.number
    assert any("is its secondary eclipse" in f for f in model.checks(primary, model.Star()))
    assert any(
        "the secondary eclipse of signal 1" in f for f in model.checks(secondary, model.Star())
    )
