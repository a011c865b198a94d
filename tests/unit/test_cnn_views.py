"""The CNN's view builder: a synthetic box transit looks like the training PCs, and a shipped
Kepler light curve (Kepler-6 b) gives views with the transit where it should be."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import settings
from scoring.cnn import tfrecords, views
from scoring.lightcurves import readers, search

KEPLER_6 = settings.DATA_DIR / "lightcurves" / "kplr010874614-2009131105131_llc.fits"
# The KOI table's K00017.01: period, epoch (BKJD), duration.
KEPLER_6_PERIOD, KEPLER_6_EPOCH, KEPLER_6_DURATION = 3.234699282, 121.4865708, 3.59385 / 24


@pytest.fixture(scope="module")
def mean_pc() -> dict[str, np.ndarray]:
    data = tfrecords.load()
    planets = data.label == "PC"
    return {name: getattr(data, name)[planets].mean(axis=0) for name in tfrecords.VIEWS}


def synthetic_box(depth: float = 3e-3, noise: float = 3e-4, secondary: float = 0.0):
    """SYNTHETIC: 27 days of 30-minute cadences (a TESS sector of full-frame images) with a box
    transit of 0.12 d every 3.7 d, and optionally a box secondary eclipse at phase 0.5."""
    rng = np.random.default_rng(7)
    t = np.arange(1325.0, 1352.0, 1 / 48)
    period, epoch, duration = 3.7, 1326.3, 0.12
    flux = 1 + rng.normal(0, noise, len(t))
    phase = views.fold(t, period, epoch)
    flux[np.abs(phase) < duration / 2] -= depth
    flux[np.abs(np.abs(phase) - period / 2) < duration / 2] -= secondary
    return t, flux, period, epoch, duration


def in_transit_centre(view: np.ndarray) -> float:
    """The mean bin index of the bins deeper than half the transit."""
    return float(np.flatnonzero(view < -0.5).mean())


def test_synthetic_box_looks_like_the_training_planet_candidates(mean_pc):
    built = views.build(*synthetic_box())
    assert built.global_view.shape == (201,)
    assert built.local_view.shape == (61,) and built.secondary_view.shape == (61,)
    # The training views' normalisation: median 0, deepest bin -1, at the centre.
    for view in (built.global_view, built.local_view):
        assert np.median(view) == pytest.approx(0, abs=1e-6)
        assert view.min() == pytest.approx(-1)
    assert in_transit_centre(built.global_view) == pytest.approx(100, abs=1)
    assert in_transit_centre(built.local_view) == pytest.approx(30, abs=1)
    assert np.corrcoef(built.local_view, mean_pc["local_view"])[0, 1] > 0.9
    assert np.corrcoef(built.global_view, mean_pc["global_view"])[0, 1] > 0.8


def test_a_secondary_eclipse_is_found_at_phase_half():
    t, flux, period, epoch, duration = synthetic_box(secondary=1.5e-3)
    built = views.build(t, flux, period, epoch, duration)
    assert built.secondary_phase == pytest.approx(period / 2, abs=duration / 2)
    centre = built.secondary_view[25:36]
    assert centre.mean() < -0.6  # the eclipse fills the centre of the secondary view


def test_kepler_6b_on_a_shipped_light_curve(mean_pc):
    lc = readers.read_fits(KEPLER_6.read_bytes(), KEPLER_6.name)
    flat, _ = search.detrend(lc.time, lc.flux, search.SearchConfig())
    built = views.build(lc.time, flat, KEPLER_6_PERIOD, KEPLER_6_EPOCH, KEPLER_6_DURATION)
    assert in_transit_centre(built.global_view) == pytest.approx(100, abs=1)
    assert built.local_view[28:33].mean() < -0.8  # the transit's flat bottom at the centre
    assert np.corrcoef(built.local_view, mean_pc["local_view"])[0, 1] > 0.9
    assert np.isfinite(built.secondary_view).all()


@pytest.mark.parametrize(
    ("period", "duration", "message"),
    [(0.0, 0.1, "cannot be folded"), (1.0, 1.5, "cannot be folded")],
)
def test_impossible_folds_are_refused(period, duration, message):
    t, flux, *_ = synthetic_box()
    with pytest.raises(views.ViewError, match=message):
        views.build(t, flux, period, 1326.3, duration)


def test_a_flat_light_curve_is_refused():
    t = np.arange(0, 10, 1 / 48)
    with pytest.raises(views.ViewError, match="flat"):
        views.build(t, np.ones_like(t), 2.0, 0.5, 0.1)
