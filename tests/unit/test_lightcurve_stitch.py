"""Stitching several files of one star (pure: no warehouse), on the real Kepler quarters of
KIC 11454304 in the public benchmark, and every refusal of a set that is not one star."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from scoring.lightcurves import readers, stitch, store
from scoring.lightcurves.readers import LightCurveError

BENCHMARK = store.LIGHTCURVE_DIR / "benchmark" / "kepler"
# KIC 11454304, quarters 1, 2 and 3 (Q1 is 33 days; Q2 and Q3 about 90 each)
Q1, Q2, Q3 = (
    BENCHMARK / f"kplr011454304-{stamp}_llc.fits"
    for stamp in ("2009166043257", "2009259160929", "2009350155506")
)
KEPLER12_Q5 = BENCHMARK / "kplr011804465-2010174085026_llc.fits"
KEPLER32_Q2 = BENCHMARK / "kplr009787239-2009259160929_llc.fits"
TESS_S1 = store.LIGHTCURVE_DIR / "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits"
K2_C4 = store.LIGHTCURVE_DIR / "ktwo211117077-c04_llc.fits"


def named(*paths: Path) -> list[tuple[str, bytes]]:
    return [(str(p), p.read_bytes()) for p in paths]


def single(path: Path) -> readers.LightCurve:
    (lc,) = readers.read_bytes(path.read_bytes(), path.name)
    return lc


def test_three_quarters_are_normalised_and_put_end_to_end_in_time_order() -> None:
    # given out of order: the stitch sorts the segments by time
    stitched = stitch.read_segments(named(Q3, Q1, Q2))
    lc, segments = stitched.lightcurve, stitched.segments
    alone = [single(p) for p in (Q1, Q2, Q3)]
    assert [g.section for g in segments] == ["Q1", "Q2", "Q3"]
    assert [g.number for g in segments] == [1, 2, 3]
    assert [g.file_name for g in segments] == [Q1.name, Q2.name, Q3.name]
    assert [g.n_points for g in segments] == [a.n_points for a in alone]
    assert [g.n_points for g in segments] == [1423, 3737, 3836]
    assert lc.n_points == 1423 + 3737 + 3836
    assert [g.first_point for g in segments] == [0, 1423, 1423 + 3737]
    assert lc.n_cadences == sum(a.n_cadences for a in alone)
    assert lc.n_dropped_quality == sum(a.n_dropped_quality for a in alone)
    assert np.all(np.diff(lc.time) > 0)
    # the span: from Q1's first cadence kept to Q3's last
    assert lc.span_days == pytest.approx(alone[2].time[-1] - alone[0].time[0])
    assert 210 < lc.span_days < 225
    for g, a in zip(segments, alone, strict=True):
        part = slice(g.first_point, g.first_point + g.n_points)
        assert g.median_flux == pytest.approx(np.median(a.flux))
        assert np.median(lc.flux[part]) == pytest.approx(1.0)
        np.testing.assert_allclose(lc.flux[part] * g.median_flux, a.flux)
        assert a.flux_err is not None and lc.flux_err is not None
        np.testing.assert_allclose(lc.flux_err[part] * g.median_flux, a.flux_err)
        assert (g.time_start, g.time_end) == (a.time[0], a.time[-1])
        assert (
            g.file_sha256
            == hashlib.sha256(
                Path(next(p for p in (Q1, Q2, Q3) if p.name == g.file_name)).read_bytes()
            ).hexdigest()
        )
    # the quarters' raw levels differ by percent; normalised, they join without a step
    assert abs(segments[0].median_flux / segments[2].median_flux - 1) > 0.01
    assert (lc.mission, lc.target_id, lc.kepid, lc.time_system) == (
        "Kepler",
        "KIC 11454304",
        11454304,
        "BKJD",
    )
    assert lc.section == "Q1-Q3" and lc.series_key == "stitched"
    assert lc.flux_column == "PDCSAP_FLUX" and lc.file_format == "fits"
    assert stitched.file_name == f"{Q1.name} + 2 more"
    assert stitched.file_bytes == sum(p.stat().st_size for p in (Q1, Q2, Q3))


def test_the_set_hash_ignores_order_and_differs_from_every_file() -> None:
    a = stitch.read_segments(named(Q1, Q2, Q3)).sha256
    b = stitch.read_segments(named(Q2, Q3, Q1)).sha256
    c = stitch.read_segments(named(Q1, Q2)).sha256
    assert a == b and a != c and len(a) == 64
    files = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (Q1, Q2, Q3)}
    assert a not in files


def test_all_eighteen_quarters() -> None:
    paths = sorted(BENCHMARK.glob("kplr011454304-*_llc.fits"))
    stitched = stitch.read_segments(named(*paths))
    assert len(stitched.segments) == len(paths) == 18
    assert stitched.lightcurve.section == "Q0-Q17"
    assert stitched.lightcurve.span_days > 1400  # four years
    assert stitched.lightcurve.n_points == sum(g.n_points for g in stitched.segments)


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ((KEPLER12_Q5, KEPLER32_Q2), "mixed targets"),  # Kepler-12 and Kepler-32
        ((KEPLER12_Q5, TESS_S1), "mixed missions"),
        ((K2_C4, Q1), "mixed missions"),
        ((Q1, Q2, Q1), "are the same file"),
    ],
)
def test_a_set_that_is_not_one_star_is_refused(paths: tuple[Path, ...], message: str) -> None:
    with pytest.raises(LightCurveError, match=message) as raised:
        stitch.read_segments(named(*paths))
    assert "\n" not in str(raised.value)


def test_mixed_targets_names_both_files_and_stars() -> None:
    with pytest.raises(LightCurveError) as raised:
        stitch.read_segments(named(KEPLER12_Q5, KEPLER32_Q2))
    text = str(raised.value)
    assert KEPLER12_Q5.name in text and "KIC 11804465" in text
    assert KEPLER32_Q2.name in text and "KIC 9787239" in text


def test_one_bad_file_among_good_ones_is_refused_with_its_reason() -> None:
    files = [*named(Q1, Q2), ("notes.fits", b"my observing notes\n")]
    with pytest.raises(LightCurveError, match=r"notes\.fits: named like a FITS file"):
        stitch.read_segments(files)


def test_the_same_quarter_twice_overlaps() -> None:
    q1 = single(Q1)
    with pytest.raises(LightCurveError, match="overlap in time"):
        stitch.stitch([q1, single(Q1)], ["a.fits", "b.fits"])


def test_too_many_points_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MAX_POINTS", 5000)  # each quarter passes alone
    with pytest.raises(LightCurveError, match="8,996 points together; the limit is 5,000"):
        stitch.read_segments(named(Q1, Q2, Q3))


def test_too_many_files_and_too_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stitch, "MAX_FILES", 2)
    with pytest.raises(LightCurveError, match="at most 2 files"):
        stitch.read_segments(named(Q1, Q2, Q3))
    with pytest.raises(LightCurveError, match="at least two"):
        stitch.read_segments(named(Q1))


def test_a_multi_series_file_is_refused() -> None:
    sample = store.LIGHTCURVE_DIR / "kepler_q17_labeled_flux_sample_enosair.jsonl"
    with pytest.raises(LightCurveError, match="holds 12 light curves"):
        stitch.read_segments(named(sample, Q1))


def test_sections_label() -> None:
    assert stitch.sections_label(["Q0", "Q1", "Q2", "Q5", "Q7", "Q8"]) == "Q0-Q2+Q5+Q7-Q8"
    assert stitch.sections_label(["S1", "S2"]) == "S1-S2"
    assert stitch.sections_label(["Q1", None]) is None
