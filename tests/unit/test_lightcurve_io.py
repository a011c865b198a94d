"""Reading light curves: the shipped files, and every kind of file that is not a light curve."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from scoring.lightcurves import readers, store
from scoring.lightcurves.readers import LightCurveError, read_bytes

DATA = store.LIGHTCURVE_DIR


def shipped(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_kepler_fits_pdcsap_quality_and_header_identity() -> None:
    (lc,) = read_bytes(shipped("kplr010874614-2009131105131_llc.fits"), "k6.fits")
    assert (lc.mission, lc.target_id, lc.kepid, lc.section) == (
        "Kepler",
        "KIC 10874614",
        10874614,
        "Q0",
    )
    assert lc.flux_column == "PDCSAP_FLUX" and lc.time_system == "BKJD"
    assert lc.n_cadences == 476 and lc.n_dropped_quality == 26 and lc.n_points == 450
    assert np.all(np.diff(lc.time) > 0) and np.isfinite(lc.flux).all()


@pytest.mark.parametrize(
    ("name", "mission", "target", "system"),
    [
        ("ktwo211117077-c04_llc.fits", "K2", "EPIC 211117077", "BKJD"),
        (
            "tess2018206045859-s0001-0000000358108509-0120-s_lc.fits",
            "TESS",
            "TIC 358108509",
            "BTJD",
        ),
    ],
)
def test_k2_and_tess(name: str, mission: str, target: str, system: str) -> None:
    (lc,) = read_bytes(shipped(name), name)
    assert (lc.mission, lc.target_id, lc.time_system, lc.kepid) == (mission, target, system, None)
    assert lc.n_dropped_quality > 0


def test_sap_when_pdcsap_is_empty() -> None:
    hdus = fits.open(io.BytesIO(shipped("kplr010874614-2009131105131_llc.fits")))
    hdus[1].data["PDCSAP_FLUX"][:] = np.nan
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    (lc,) = read_bytes(buffer.getvalue(), "sap.fits")
    assert lc.flux_column == "SAP_FLUX"


def test_csv_full_mission_and_jsonl_sample() -> None:
    (lc,) = read_bytes(shipped("kic8462852_tabby_normalized_flux_q0-q17.csv"), "tabby.csv")
    assert lc.n_points == 65316 and lc.time_system == "relative days"
    (stated,) = read_bytes(
        shipped("kic8462852_tabby_normalized_flux_q0-q17.csv"), "tabby.csv", "BKJD"
    )
    assert stated.time_system == "BKJD"
    curves = read_bytes(shipped("kepler_q17_labeled_flux_sample_enosair.jsonl"), "s.jsonl")
    assert len(curves) == 12 and {c.label for c in curves} == {"eb", "conf", "fp"}
    assert curves[0].kepid == 1026032 and curves[0].series_key.startswith("1:")


def test_csv_time_system_from_column_name() -> None:
    rows = "\n".join(f"{2455000 + i / 48},{1 + 1e-4 * (i % 7)}" for i in range(300))
    (lc,) = read_bytes(f"bjd_tdb,flux\n{rows}\n".encode(), "x.csv")
    assert lc.time_system == "BJD" and lc.flux_err is None


def _image_fits() -> bytes:
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((5, 5)))]).writeto(buffer)
    return buffer.getvalue()


BAD_FILES = {
    "empty": (b"", "x.csv", "empty"),
    "text renamed .fits": (b"just some notes\n", "notes.fits", "content is not FITS"),
    "binary, not FITS": (b"\x89PNG\r\n\x1a\n\0\0\0", "x.png", "binary file that is not FITS"),
    "no time column": (b"a,b\n1,2\n", "x.csv", "no time and flux column"),
    "no flux column": (b"time,brightness\n1,2\n", "x.csv", "no flux column"),
    "all-NaN flux": (
        b"time,flux\n" + b"".join(f"{i},nan\n".encode() for i in range(200)),
        "x.csv",
        r"NaN \(or empty\) in every row",
    ),
    "too few points": (
        b"time,flux\n" + b"".join(f"{i},1.0\n".encode() for i in range(20)),
        "x.csv",
        "only 20 usable points",
    ),
    "not a number": (b"time,flux\n1,abc\n", "x.csv", "is not a number"),
    "FITS without a light curve": (_image_fits(), "image.fits", "without a light-curve extension"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_refusals_say_what_is_wrong(case: str) -> None:
    data, name, message = BAD_FILES[case]
    with pytest.raises(LightCurveError, match=message):
        read_bytes(data, name)


def test_size_and_point_limits() -> None:
    with pytest.raises(LightCurveError, match="the limit is 50 MB"):
        read_bytes(b"x" * (readers.MAX_FILE_BYTES + 1), "big.csv")
    many = readers.MAX_POINTS + 1
    rows = "\n".join(f"{i / 48:.5f},1" for i in range(many))
    with pytest.raises(LightCurveError, match="the limit is 1,000,000"):
        read_bytes(f"time,flux\n{rows}\n".encode(), "many.csv")


def test_star_ids() -> None:
    assert store.StarInput("KIC 8462852").kepid() == 8462852
    assert store.StarInput("kplr008462852").kepid() == 8462852
    assert store.StarInput("TIC 358108509").kepid() is None
    with pytest.raises(LightCurveError, match="expected a KIC id"):
        store.StarInput("Tabby's star").kepid()
