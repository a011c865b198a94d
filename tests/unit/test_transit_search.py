"""The transit search on real light curves: Kepler-6 b found with the KOI table's period and
depth, the full Kepler mission of Boyajian's star (and a synthetic century of sparse data)
searched within the work bound, and the grid built as designed."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from scoring import settings
from scoring.lightcurves import search, store
from scoring.lightcurves.readers import LightCurve, read_bytes

KEPLER6 = "kplr010874614-2009131105131_llc.fits"


def koi_row(kepoi_name: str) -> pd.Series:
    table = pd.read_csv(settings.SHIPPED_KOI_FILE, comment="#")
    return table.set_index("kepoi_name").loc[kepoi_name]


def read(name: str, time_system: str | None = None) -> LightCurve:
    (lc,) = read_bytes((store.LIGHTCURVE_DIR / name).read_bytes(), name, time_system)
    return lc


@pytest.fixture(scope="module")
def kepler6() -> search.SearchResult:
    lc = read(KEPLER6)
    return search.search(lc.time, lc.flux, lc.flux_err)


def test_kepler6_period_and_depth_match_the_koi_table(kepler6: search.SearchResult) -> None:
    koi = koi_row("K00017.01")
    best = kepler6.detections[0]
    assert abs(best.period_days / koi["koi_period"] - 1) < 0.001
    assert abs(best.depth_ppm / koi["koi_depth"] - 1) < 0.15
    assert best.n_transits == 3 and best.period_check == "consistent"
    assert best.odd_even_sigma < 3 and not best.sinusoid_preferred
    assert best.fap < 1e-3 and best.snr > 100


def test_kepler6_stops_after_the_planet(kepler6: search.SearchResult) -> None:
    assert len(kepler6.detections) == 1
    assert kepler6.stopped_by == "no further significant signal"
    assert kepler6.mode == "coherent"


def test_full_mission_of_boyajians_star_is_searched_within_the_work_bound() -> None:
    # its time is measured by `exohunter bench lightcurves` (the stitched 4-year item), not here
    lc = read("kic8462852_tabby_normalized_flux_q0-q17.csv", "BKJD")
    assert lc.n_points == 65316
    result = search.search(lc.time, lc.flux, lc.flux_err)
    assert result.mode == "semi-coherent"
    assert result.work <= search.DEFAULT_CONFIG.max_work


def test_grid_is_uniform_in_cube_root_of_frequency_and_scales_with_the_baseline() -> None:
    short = search.period_grid(90, 0.5, 45, 2.0)
    long = search.period_grid(900, 0.5, 45, 2.0)
    x = (1 / short) ** (1 / 3)
    assert np.allclose(np.diff(np.sort(x)), np.diff(np.sort(x))[0])
    assert 9.5 < len(long) / len(short) < 10.5  # ten times the baseline, ten times the periods


def test_bands_search_plausible_durations_only() -> None:
    config = search.DEFAULT_CONFIG
    short = search.band(np.linspace(0.5, 1.0, 50), config, 0.02)
    long = search.band(np.linspace(100, 200, 50), config, 0.02)
    assert short is not None and long is not None
    assert short.durations.max() <= 0.2 * 0.5 and long.durations.min() > short.durations.min()
    assert long.bin_days > short.bin_days


def test_too_short_a_light_curve_is_refused() -> None:
    t = np.linspace(0, 0.8, 100)
    with pytest.raises(search.SearchError, match=r"spans 0\.80 days"):
        search.search(t, np.ones_like(t))


def test_kepler6_passes_every_significance_criterion_with_a_planets_shape(
    kepler6: search.SearchResult,
) -> None:
    best = kepler6.detections[0]
    assert best.failed == [] and best.peak_ratio == 1.0
    assert best.snr > best.inverted_snr  # the inverted light curve makes nothing as strong
    assert best.v_shape_chi2 < 0  # a flat-bottomed U fits better than a V
    assert best.others_snr > 3 and best.depth_consistency_p > search.CONSISTENCY_P


def test_grid_is_duration_aware() -> None:
    """Half the shortest duration, twice the trial periods: the drift over the baseline stays
    below a third of the shortest duration searched (TLS's oversampling)."""
    sun = search.period_grid(90, 4, 8, 3.0, 1.0)
    dense = search.period_grid(90, 4, 8, 3.0, 0.5)
    assert 1.95 < len(dense) / len(sun) < 2.05
    assert search.DEFAULT_CONFIG.oversampling == 3.0


def test_false_alarm_probability_follows_the_tls_calibration() -> None:
    sdes = np.linspace(5, 12, 50)
    faps = [search.false_alarm_probability(s) for s in sdes]
    assert all(a >= b for a, b in itertools.pairwise(faps))
    assert search.false_alarm_probability(5.0) == 1.0
    assert abs(search.false_alarm_probability(6.983) / 0.01 - 1) < 1e-6
    assert search.false_alarm_probability(9.0) < 1e-3
    assert abs(search.false_alarm_probability(20) / 8e-5 - 1) < 1e-9


def test_the_work_bound_counts_phase_bins_as_well_as_points() -> None:
    # at a 10,000-day trial period a one-hour duration has 480,000 half-hour phase bins
    cost = search.bls_cost(2000, np.array([10_000.0]), np.array([1 / 24]))
    assert cost == pytest.approx(2000 + 480_000)


def test_sparse_data_over_a_century_is_searched_within_the_work_bound() -> None:
    # SYNTHETIC stress case: 2,000 points in two clusters 36,000 days apart. Counted as points x
    # periods, its phase bins went unseen and one search took minutes.
    rng = np.random.default_rng(0)
    t = np.concatenate([np.linspace(0, 20, 1000), np.linspace(36_000, 36_020, 1000)])
    result = search.search(t, 1 + 1e-3 * rng.standard_normal(len(t)))
    assert result.work <= search.DEFAULT_CONFIG.max_work
    assert not result.detections
