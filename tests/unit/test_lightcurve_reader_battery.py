"""A battery of bad light-curve files against every reader (FITS, CSV, JSON lines) and the
stitch: malformed values (NaN, inf, 1e308, text in numbers), wrong units and absurd spans,
malformed files. Each is refused with one line (a LightCurveError) or, for missing values,
read with the points dropped; the bounds hold every shipped and benchmark light curve.

Every file here is SYNTHETIC (a fault case built in the test), named ``synthetic_*``."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np
import pytest
from astropy.io import fits

from scoring.lightcurves import readers, stitch, store
from scoring.lightcurves.readers import LightCurveError, read_bytes

N = 2000
CADENCE = 0.0204  # Kepler's 30-minute long cadence, in days


def series(n: int = N, cadence: float = CADENCE, start: float = 120.0):
    rng = np.random.default_rng(0)
    time_ = start + cadence * np.arange(n)
    flux = 1000.0 + rng.standard_normal(n)
    return time_, flux, np.full(n, 1.0)


# -- the three formats, from arrays -------------------------------------------------------------
def as_csv(time_, flux, flux_err=None) -> bytes:
    time_, flux = map(float, time_), map(float, flux)  # repr: 'nan', 'inf', '1e+308'
    if flux_err is None:
        rows = (f"{t!r},{f!r}\n" for t, f in zip(time_, flux, strict=True))
        return ("time,flux\n" + "".join(rows)).encode()
    errors = map(float, flux_err)
    rows = (f"{t!r},{f!r},{e!r}\n" for t, f, e in zip(time_, flux, errors, strict=True))
    return ("time,flux,flux_err\n" + "".join(rows)).encode()


def as_jsonl(time_, flux, flux_err=None) -> bytes:
    del flux_err  # the JSON-lines sample has no errors
    record = {"name": "synthetic", "time": list(map(float, time_)), "flux": list(map(float, flux))}
    return (json.dumps(record) + "\n").encode()  # NaN and Infinity as Python's json writes them


def as_fits(time_, flux, flux_err=None, *, time_format="D", flux_format="D", quality=None) -> bytes:
    columns = [
        fits.Column("TIME", format=time_format, array=time_),
        fits.Column("PDCSAP_FLUX", format=flux_format, array=flux),
        fits.Column("QUALITY", format="J", array=np.zeros(len(time_), int))
        if quality is None
        else fits.Column("QUALITY", format="10A", array=quality),
    ]
    if flux_err is not None:
        columns.append(fits.Column("PDCSAP_FLUX_ERR", format="D", array=flux_err))
    table = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    table.header["BJDREFI"] = 2454833
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "Kepler"
    primary.header["KEPLERID"] = 10874614
    buffer = io.BytesIO()
    fits.HDUList([primary, table]).writeto(buffer)
    return buffer.getvalue()


FORMATS: dict[str, tuple[Callable[..., bytes], str]] = {
    "csv": (as_csv, "synthetic.csv"),
    "jsonl": (as_jsonl, "synthetic.jsonl"),
    "fits": (as_fits, "synthetic_llc.fits"),
}


def read(form: str, time_, flux, flux_err=None) -> readers.LightCurve:
    write, name = FORMATS[form]
    (lc,) = read_bytes(write(time_, flux, flux_err), name)
    return lc


def refusal(form: str, time_, flux, flux_err=None) -> str:
    write, name = FORMATS[form]
    with pytest.raises(LightCurveError) as raised:
        read_bytes(write(time_, flux, flux_err), name)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(name)
    return message


# -- missing values: dropped like flagged cadences, if enough remain ------------------------------
@pytest.mark.parametrize("form", sorted(FORMATS))
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["time", "flux"])
def test_non_finite_points_are_dropped_and_counted(form: str, value: float, where: str) -> None:
    time_, flux, _ = series()
    (time_ if where == "time" else flux)[::4] = value
    lc = read(form, time_, flux)
    assert lc.n_points == N - N // 4 and lc.n_dropped_nonfinite == N // 4
    assert np.isfinite(lc.time).all() and np.isfinite(lc.flux).all()


@pytest.mark.parametrize("form", sorted(FORMATS))
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_flux_with_no_finite_value_is_refused(form: str, value: float) -> None:
    time_, _, _ = series()
    assert "in every row" in refusal(form, time_, np.full(N, value))


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_too_few_finite_points_left_is_refused(form: str) -> None:
    time_, flux, _ = series()
    flux[50:] = np.inf
    assert "only 50 usable points" in refusal(form, time_, flux)


@pytest.mark.parametrize("form", ["csv", "fits"])
def test_a_non_finite_error_is_an_unknown_error(form: str) -> None:
    time_, flux, flux_err = series()
    flux_err[:10] = np.inf
    lc = read(form, time_, flux, flux_err)
    assert lc.flux_err is not None and np.isnan(lc.flux_err[:10]).all()
    assert np.isfinite(lc.flux_err[10:]).all() and lc.n_points == N


# -- values no light curve holds: the file is refused -------------------------------------------
@pytest.mark.parametrize("form", sorted(FORMATS))
@pytest.mark.parametrize("value", [1e308, -1e308, 1e16])
def test_a_flux_no_star_gives_is_refused(form: str, value: float) -> None:
    time_, flux, _ = series()
    flux[7] = value
    message = refusal(form, time_, flux)
    assert f"reaches {abs(value):,.4g}" in message and "corrupt or mis-scaled" in message


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_a_flux_a_million_times_its_median_is_refused(form: str) -> None:
    # in a unit where a star is tiny (1e-300): 1.0 would overflow the normalised flux's squares
    time_, _, _ = series()
    flux = np.full(N, 1e-300)
    flux[3] = 1.0
    assert "times its median" in refusal(form, time_, flux)


@pytest.mark.parametrize("form", ["csv", "fits"])
def test_an_error_no_star_gives_is_refused(form: str) -> None:
    time_, flux, flux_err = series()
    flux_err[0] = 1e308
    assert "its error reaches 1e+308" in refusal(form, time_, flux, flux_err)


@pytest.mark.parametrize("form", sorted(FORMATS))
@pytest.mark.parametrize("value", [1e308, -1e308, 1.7e9])
def test_a_time_no_time_system_has_is_refused(form: str, value: float) -> None:
    time_, flux, _ = series()
    time_[-1] = value  # 1.7e9: a Unix time in seconds
    assert "time values reach" in refusal(form, time_, flux)


# -- wrong units and absurd spans ----------------------------------------------------------------
@pytest.mark.parametrize("form", sorted(FORMATS))
def test_a_time_column_in_seconds_is_refused_naming_seconds(form: str) -> None:
    # the denial-of-service case: 2,000 points at 30 minutes, in seconds: 3.6 million "days"
    time_, flux, _ = series(cadence=1800.0, start=0.0)
    message = refusal(form, time_, flux)
    assert "spans 3,598,200 days with a median cadence of 1,800.00 days" in message
    assert "it looks like seconds, not days (as seconds: 41.6 days at a cadence of 1,800 s)" in (
        message
    )
    assert "convert the time to days" in message


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_a_tess_sector_in_minutes_is_refused_naming_minutes(form: str) -> None:
    time_, flux, _ = series(n=19_440, cadence=2.0, start=0.0)  # 27 days at 2 minutes
    assert "it looks like minutes, not days" in refusal(form, time_, flux)


def _two_clusters_a_century_apart() -> np.ndarray:
    time_, _, _ = series()
    time_[N // 2 :] += 40_000.0
    return time_


@pytest.mark.parametrize(
    ("time_", "what"),
    [
        (series(n=200, cadence=6.0)[0], "median cadence of 6.00 days"),  # sparser than any survey
        (_two_clusters_a_century_apart(), "spans 40,041 days"),  # over 100 years
    ],
    ids=["cadence", "span"],
)
def test_absurd_spans_and_cadences_in_days_are_refused(time_: np.ndarray, what: str) -> None:
    message = refusal("csv", time_, series(n=len(time_))[1])
    assert what in message and message.endswith(
        "is the time column in days (BJD, BKJD, BTJD or MJD)?"
    )


@pytest.mark.parametrize(
    ("cadence", "n"),
    [
        (20 / 86_400, 20_000),  # TESS's 20-second cadence, 4.6 days
        (1.0, 10_950),  # a nightly ground survey over 30 years
        (4.5, 2_000),  # a sparse survey, every 4.5 days over 25 years
    ],
)
def test_real_cadences_and_spans_are_read(cadence: float, n: int) -> None:
    time_, flux, _ = series(n=n, cadence=cadence)
    assert read("csv", time_, flux).n_points == n


def test_the_bounds_hold_every_shipped_and_benchmark_light_curve_ten_times_over() -> None:
    paths = [
        p
        for p in sorted(store.LIGHTCURVE_DIR.rglob("*"))
        if p.suffix in (".fits", ".csv", ".jsonl") and p.name != "manifest.csv"
    ]
    curves = [lc for p in paths for lc in read_bytes(p.read_bytes(), p.name)]
    assert len(curves) >= 40
    for lc in curves:
        assert lc.span_days < readers.MAX_SPAN_DAYS / 10, lc.series_key
        assert np.median(np.diff(lc.time)) < readers.MAX_CADENCE_DAYS / 10
        assert np.abs(lc.time).max() < readers.MAX_ABS_TIME_DAYS / 10
        assert np.abs(lc.flux).max() < readers.MAX_ABS_FLUX / 10
        assert np.abs(lc.flux).max() < readers.MAX_FLUX_RATIO / 10 * np.median(lc.flux)


# -- text in numbers ------------------------------------------------------------------------------
def test_fits_text_time_column_is_refused() -> None:
    time_, flux, _ = series()
    text = np.array([f"{t:.4f}x" for t in time_])
    with pytest.raises(LightCurveError, match=r"column TIME holds '120\.0000x', not numbers"):
        read_bytes(as_fits(text, flux, time_format="20A"), "synthetic_text_time.fits")


def test_fits_text_flux_column_is_refused() -> None:
    time_, _, _ = series()
    text = np.array(["bright"] * N)
    with pytest.raises(LightCurveError, match="column PDCSAP_FLUX holds 'bright', not numbers"):
        read_bytes(as_fits(time_, text, flux_format="20A"), "synthetic_text_flux.fits")


def test_fits_text_quality_column_is_refused() -> None:
    time_, flux, _ = series()
    quality = np.array(["ok"] * N)
    with pytest.raises(LightCurveError, match="column QUALITY holds 'ok', not numbers"):
        read_bytes(as_fits(time_, flux, quality=quality), "synthetic_text_quality.fits")


def test_fits_vector_time_column_is_refused() -> None:
    time_, flux, _ = series()
    with pytest.raises(LightCurveError, match="lists of numbers of one length"):
        read_bytes(
            as_fits(np.column_stack([time_, time_]), flux, time_format="2D"), "synthetic.fits"
        )


@pytest.mark.parametrize("text", ["abc", "1,0", "0x1p3", "--1"])
def test_csv_text_in_a_number_column_is_refused(text: str) -> None:
    time_, flux, _ = series()
    lines = as_csv(time_, flux).decode().splitlines()
    lines[5] = f'{float(time_[4])!r},"{text}"'
    with pytest.raises(LightCurveError, match=r"data row 5, column 2: .* is not a number"):
        read_bytes("\n".join(lines).encode(), "synthetic_text.csv")


@pytest.mark.parametrize(
    "record",
    [
        {"time": [1.0, "a"], "flux": [1.0, 2.0]},
        {"time": [1.0, 2.0], "flux": [1.0, {"a": 1}]},
        {"time": [1.0, [2.0, 3.0]], "flux": [1.0, 2.0]},
    ],
)
def test_jsonl_text_in_numbers_is_refused(record: dict) -> None:
    with pytest.raises(LightCurveError, match="line 1 is not a JSON object with time and flux"):
        read_bytes((json.dumps(record) + "\n").encode(), "synthetic.jsonl")


# -- malformed files ------------------------------------------------------------------------------
def _truncated_fits() -> bytes:
    time_, flux, _ = series()
    data = as_fits(time_, flux)
    return data[: len(data) // 2]


def _fits_of(*extensions: fits.ImageHDU | fits.BinTableHDU) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), *extensions]).writeto(buffer)
    return buffer.getvalue()


MALFORMED = {
    "csv: empty": (b"", "synthetic.csv", "the file is empty"),
    "csv: blank lines only": (b"\n \n\n", "synthetic.csv", "the file has no rows"),
    "csv: header only": (b"time,flux\n", "synthetic.csv", "the light curve has no rows"),
    "csv: one point": (b"time,flux\n1,2\n", "synthetic.csv", "only 1 usable points"),
    "csv: a ragged row": (b"time,flux\n1,2\n2,3,4\n", "synthetic.csv", "data row 2 has 3 fields"),
    "csv: not UTF-8": ("time,flux\n1,2é\n".encode("latin-1"), "synthetic.csv", "not UTF-8"),
    "csv: a 200 kB field": (
        b"time,flux\n1," + b"9" * 200_000 + b"\n",
        "synthetic.csv",
        "not a CSV of numbers",
    ),
    "jsonl: scalar time and flux": (
        b'{"time": 1.0, "flux": 2.0}\n',
        "synthetic.jsonl",
        r"line 1: time and flux must be lists of numbers of one length \(shapes \(\) and \(\)\)",
    ),
    "jsonl: not UTF-8": (
        '{"name": "é", "time": [1], "flux": [1]}\n'.encode("latin-1"),
        "synthetic.jsonl",
        "not UTF-8 text",
    ),
    "jsonl: time and flux of different lengths": (
        b'{"time": [1, 2, 3], "flux": [1, 2]}\n',
        "synthetic.jsonl",
        r"one length \(shapes \(3,\) and \(2,\)\)",
    ),
    "jsonl: a 2-D time": (
        b'{"time": [[1, 2], [3, 4]], "flux": [1, 2]}\n',
        "synthetic.jsonl",
        "lists of numbers of one length",
    ),
    "jsonl: no flux": (b'{"time": [1, 2]}\n', "synthetic.jsonl", "KeyError: 'flux'"),
    "jsonl: an object that is not one": (
        b'{"time": [1]}\n[1, 2]\n',
        "synthetic.jsonl",
        "line 1 is not a JSON object",
    ),
    "jsonl: broken JSON": (b'{"time": [1, 2\n', "synthetic.jsonl", "JSONDecodeError"),
    "jsonl: nested a million deep": (
        b'{"time": ' + b"[" * 1_000_000 + b"\n",
        "synthetic.jsonl",
        "is not a JSON object",
    ),
    "jsonl: an integer beyond any float": (
        b'{"time": [1' + b"0" * 400 + b'], "flux": [1]}\n',
        "synthetic.jsonl",
        "OverflowError",
    ),
    "csv: a 200 kB header": (
        b"time," + b"x" * 200_000 + b"\n1,2\n",
        "synthetic.csv",
        "no time and flux column; the first row 'time,x{25}' should name",
    ),
    "fits: an image named LIGHTCURVE": (
        _fits_of(fits.ImageHDU(np.zeros((5, 5)), name="LIGHTCURVE")),
        "synthetic_llc.fits",
        "without a light-curve extension",
    ),
    "fits: a LIGHTCURVE table without TIME": (
        _fits_of(
            fits.BinTableHDU.from_columns(
                [fits.Column("PDCSAP_FLUX", "D", array=np.ones(200))], name="LIGHTCURVE"
            )
        ),
        "synthetic_llc.fits",
        "without a light-curve extension",
    ),
    "fits: truncated": (_truncated_fits(), "synthetic_llc.fits", "FITS|light-curve table"),
    "fits: no rows": (
        as_fits(np.array([]), np.array([])),
        "synthetic_llc.fits",
        "the light-curve table has no rows",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_in_one_line(case: str) -> None:
    data, name, message = MALFORMED[case]
    with pytest.raises(LightCurveError, match=message) as raised:
        read_bytes(data, name)
    assert "\n" not in str(raised.value) and str(raised.value).startswith(name)
    assert len(str(raised.value)) < 400  # a line, however large the file


def test_jsonl_with_a_byte_order_mark_and_a_numeric_label_is_read() -> None:
    time_, flux, _ = series()
    record = {"name": "kplr010874614", "label": 1, "time": list(time_), "flux": list(flux)}
    (lc,) = read_bytes(b"\xef\xbb\xbf" + json.dumps(record).encode(), "synthetic.jsonl")
    assert lc.n_points == N and lc.label == "1" and lc.kepid == 10874614


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_rows_are_bounded_before_parsing(form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MAX_POINTS", 500)
    time_, flux, _ = series(n=501)
    assert "501 rows; the limit is 500 per light curve" in refusal(form, time_, flux)


# -- stitched: each file validated the same way, the set too ---------------------------------------
def test_a_stitched_set_names_the_file_in_seconds() -> None:
    good = as_csv(*series()[:2])
    seconds = as_csv(*series(cadence=1800.0, start=0.0)[:2])
    with pytest.raises(LightCurveError) as raised:
        stitch.read_segments([("a.csv", good), ("synthetic_seconds.csv", seconds)])
    assert str(raised.value).startswith("synthetic_seconds.csv: the time column spans")
    assert "looks like seconds" in str(raised.value)


def test_a_stitched_set_of_files_a_century_apart_is_refused() -> None:
    first = as_csv(*series()[:2])
    later = as_csv(*series(start=50_000.0)[:2])
    with pytest.raises(LightCurveError) as raised:
        stitch.read_segments([("a.csv", first), ("b.csv", later)], "BKJD")
    message = str(raised.value)
    assert message.startswith("a.csv + 1 more: the time column spans 49,921 days")
    assert "is the time column in days" in message


def test_a_stitched_set_keeps_each_file_s_dropped_points() -> None:
    time_a, flux_a, _ = series()
    time_b, flux_b, _ = series(start=200.0)
    flux_a[:10], flux_b[:30] = np.nan, np.inf
    stitched = stitch.read_segments(
        [("a.csv", as_csv(time_a, flux_a)), ("b.csv", as_csv(time_b, flux_b))]
    )
    assert [g.n_dropped_nonfinite for g in stitched.segments] == [10, 30]
    assert stitched.lightcurve.n_dropped_nonfinite == 40
    assert stitched.lightcurve.n_points == 2 * N - 40
