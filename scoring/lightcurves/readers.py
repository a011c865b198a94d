"""Read light curves from the files scientists have: Kepler/K2/TESS FITS, plain CSV, and the
JSON-lines sample of labelled Kepler series shipped in ``data/lightcurves``.

Parsing is defensive because uploads come from anywhere: the bytes are sniffed (FITS starts with
``SIMPLE  =``), every refusal is a :class:`LightCurveError` whose message says what is wrong and
what was expected, and nothing is written before a file has passed. What is kept, and why:

- FITS: the ``LIGHTCURVE`` extension (or the first table with TIME and a flux column); PDCSAP
  flux (systematics-corrected) when it has data, else SAP; cadences with a non-zero QUALITY flag
  are dropped (thruster firings, cosmic rays, safe modes...). Mission, target id, section
  (quarter, campaign, sector) and the time system (BKJD = BJD - 2454833, BTJD = BJD - 2457000)
  come from the headers.
- CSV: a time column and a flux column (names matched case-insensitively), optionally a flux
  error; the time system as the user states it, else from the column name, else from the values.

Every reader's light curve, and a stitched one, goes through :func:`validate`: NaN and infinite
points are dropped like flagged cadences; a time column that is not in days (an absurd span or
cadence: seconds, most often) and a flux no star gives (1e308) refuse the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scoring.errors import ExoHunterError

MAX_FILE_BYTES = 50 * 2**20  # 50 MB (MiB)
# Rows in a file and points in a light curve: a Kepler quarter at 1-minute cadence is ~130 k, a
# TESS sector at 20 s ~120 k, the full Kepler mission at 30 minutes ~65 k.
MAX_POINTS = 1_000_000
MIN_POINTS = 100
MIN_SPAN_DAYS = 1.0
# What every real light curve satisfies, with a margin; a file outside is in other units (a time
# column in seconds), or corrupt. The search's work grows with the span, so such a file must be
# refused here rather than searched for minutes.
MAX_SPAN_DAYS = 36_525.0  # 100 years: Kepler's mission is 1,470 days, TESS's first seven years
# ~2,600, the longest ground surveys a few decades.
MAX_CADENCE_DAYS = 5.0  # median: from 20 s (TESS) to the 1-3 days of sparse ground surveys; a
# time column in seconds has a median of 20 "days" or more (TESS's shortest exposure).
MAX_ABS_TIME_DAYS = 1e7  # the largest time system, the Julian Date, is 2.46 million days today
MAX_ABS_FLUX = 1e15  # the brightest stars give ~1e9 e-/s on Kepler and TESS; no flux unit in use
# (e-/s, ADU, Jy...) reaches 1e15 for a star
MAX_FLUX_RATIO = 1e6  # |flux| over the median flux: flares reach tens of times a star's flux; it
# also keeps the normalised flux's squares and sums (the search's) far from overflow
TIME_SYSTEMS = ("BKJD", "BTJD", "BJD", "MJD", "relative days")
_BJD_REFERENCE = {2454833: "BKJD", 2457000: "BTJD"}

_TIME_NAMES = ("time", "t", "bkjd", "btjd", "bjd", "bjd_tdb", "jd", "mjd", "hjd", "date")
_FLUX_NAMES = (
    "flux",
    "pdcsap_flux",
    "sap_flux",
    "n_flux",
    "norm_flux",
    "normalized_flux",
    "normalised_flux",
    "rel_flux",
    "relative_flux",
    "f",
)
_ERROR_NAMES = (
    "flux_err",
    "flux_error",
    "pdcsap_flux_err",
    "sap_flux_err",
    "e_flux",
    "err",
    "error",
)


class LightCurveError(ExoHunterError, ValueError):
    """The file is not a usable light curve; the message says why. Nothing was written."""


@dataclass
class LightCurve:
    """One light curve, cleaned: finite times and fluxes, flagged cadences dropped, time-sorted."""

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray | None
    mission: str  # 'Kepler', 'K2', 'TESS' or 'unknown'
    target_id: str | None  # 'KIC 10874614', 'EPIC 211117077', 'TIC 358108509'
    kepid: int | None  # Kepler Input Catalog id, when the mission is Kepler
    time_system: str
    file_format: str  # 'fits', 'csv' or 'jsonl'
    flux_column: str
    n_cadences: int  # rows in the file
    n_dropped_quality: int = 0
    n_dropped_nonfinite: int = 0
    section: str | None = None  # 'Q16', 'C4', 'S1'
    series_key: str = ""  # which series of a multi-series file
    label: str | None = None  # a label shipped with the series (never a feature)
    notes: list[str] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return len(self.time)

    @property
    def span_days(self) -> float:
        return float(self.time[-1] - self.time[0])

    @property
    def cadence_minutes(self) -> float:
        return float(np.median(np.diff(self.time)) * 24 * 60)


# -- the one validation every reader's light curve goes through ---------------------------------
def validate(lc: LightCurve, name: str) -> LightCurve:
    """Refuse what is not a light curve in days; drop the non-finite points; sort by time.

    Points whose time or flux is NaN or infinite are missing data (FITS writes NaN in gaps), and
    are dropped as the flagged cadences are, if enough remain. A finite value no light curve
    holds (a flux of 1e308, a span of millions of days) is not missing data: the file is refused.
    """
    _check_shapes(lc, name)
    if lc.n_cadences == 0:
        raise LightCurveError(f"{name}: the light curve has no rows")
    if not np.isfinite(lc.flux).any():
        raise LightCurveError(
            f"{name}: the flux column {lc.flux_column!r} is NaN (or empty) in every row, or "
            "infinite"
        )
    finite = np.isfinite(lc.time) & np.isfinite(lc.flux)
    lc.n_dropped_nonfinite += int((~finite).sum())
    order = np.argsort(lc.time[finite], kind="stable")
    lc.time = lc.time[finite][order]
    lc.flux = lc.flux[finite][order]
    if lc.flux_err is not None:
        error = lc.flux_err[finite][order]
        lc.flux_err = np.where(np.isfinite(error), error, np.nan)  # unknown, as when absent
    if lc.n_points < MIN_POINTS:
        raise LightCurveError(
            f"{name}: only {lc.n_points} usable points (after dropping flagged and NaN cadences); "
            f"a transit search needs at least {MIN_POINTS}"
        )
    if lc.n_points > MAX_POINTS:
        raise LightCurveError(
            f"{name}: {lc.n_points:,} points; the limit is {MAX_POINTS:,} per light curve"
        )
    _check_time(lc, name)
    median = float(np.median(lc.flux))
    if not median > 0:
        raise LightCurveError(
            f"{name}: the median flux is not positive; expected a photometric flux"
        )
    _check_flux(lc.flux, f"the flux column {lc.flux_column!r}", median, name)
    if lc.flux_err is not None:
        _check_flux(lc.flux_err, "its error", median, name)
    return lc


def _check_rows(n_rows: int, name: str) -> None:
    """Refuse a file with more rows than a light curve may have, before parsing them."""
    if n_rows > MAX_POINTS:
        raise LightCurveError(
            f"{name}: {n_rows:,} rows; the limit is {MAX_POINTS:,} per light curve"
        )


def _check_shapes(lc: LightCurve, name: str) -> None:
    arrays = [lc.time, lc.flux] + ([] if lc.flux_err is None else [lc.flux_err])
    if any(a.ndim != 1 for a in arrays) or len({len(a) for a in arrays}) > 1:
        shapes = " and ".join(str(a.shape) for a in arrays)
        raise LightCurveError(
            f"{name}: time and flux must be lists of numbers of one length (shapes {shapes})"
        )


def _check_time(lc: LightCurve, name: str) -> None:
    """The times are days (BJD, BKJD, BTJD, MJD or relative): their range and sampling say so."""
    peak = float(np.abs(lc.time).max())
    if peak > MAX_ABS_TIME_DAYS:
        raise LightCurveError(
            f"{name}: time values reach {peak:.3g}; no time system in days goes beyond "
            f"{MAX_ABS_TIME_DAYS:.0e} (the Julian Date is 2.46 million): convert the time to days "
            "(BJD, BKJD, BTJD or MJD)"
        )
    span, cadence = lc.span_days, float(np.median(np.diff(lc.time)))
    if span < MIN_SPAN_DAYS:
        raise LightCurveError(
            f"{name}: the light curve spans {span:.2f} days; at least {MIN_SPAN_DAYS:g} "
            "day is needed (is the time column in days?)"
        )
    if span > MAX_SPAN_DAYS or cadence > MAX_CADENCE_DAYS:
        raise LightCurveError(
            f"{name}: the time column spans {span:,.0f} days with a median cadence of "
            f"{cadence:,.2f} days; a light curve spans at most {MAX_SPAN_DAYS:,.0f} days (100 "
            f"years) with a median cadence of at most {MAX_CADENCE_DAYS:g} days: "
            f"{_unit_hint(span, cadence)}"
        )


# The units a time column is mistakenly in, with their number per day.
_TIME_UNITS = (("seconds", 86_400.0), ("minutes", 1_440.0))


def _unit_hint(span: float, cadence: float) -> str:
    """The likely unit mistake: the first unit in which the span and the cadence are those of
    a light curve (a cadence of at least 10 s: TESS's shortest is 20 s)."""
    for unit, per_day in _TIME_UNITS:
        days, seconds = span / per_day, cadence / per_day * 86_400
        if MIN_SPAN_DAYS <= days <= MAX_SPAN_DAYS and 10 <= seconds <= MAX_CADENCE_DAYS * 86_400:
            return (
                f"it looks like {unit}, not days (as {unit}: {days:,.1f} days at a cadence of "
                f"{seconds:,.0f} s) — convert the time to days (BJD, BKJD, BTJD or MJD)"
            )
    return "is the time column in days (BJD, BKJD, BTJD or MJD)?"


def _check_flux(values: np.ndarray, what: str, median: float, name: str) -> None:
    """A finite value no photometry gives (1e308 overflows the normalisation) refuses the file."""
    finite = values[np.isfinite(values)]
    peak = float(np.abs(finite).max()) if len(finite) else 0.0
    if peak > MAX_ABS_FLUX or peak > MAX_FLUX_RATIO * median:
        raise LightCurveError(
            f"{name}: {what} reaches {peak:,.4g} with a median flux of {median:,.4g}; a "
            f"photometric flux stays within {MAX_ABS_FLUX:.0e} and {MAX_FLUX_RATIO:.0e} times its "
            "median: a corrupt or mis-scaled column"
        )


# -- FITS ---------------------------------------------------------------------------------------
def _header_int(header, key: str) -> int | None:
    value = header.get(key)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _mission(primary) -> str:
    telescope = str(primary.get("TELESCOP", "")).strip().upper()
    mission = str(primary.get("MISSION", "")).strip().upper()
    if telescope == "TESS" or mission == "TESS":
        return "TESS"
    if mission == "K2" or primary.get("CAMPAIGN") is not None:
        return "K2"
    if telescope == "KEPLER" or mission == "KEPLER":
        return "Kepler"
    return "unknown"


def _light_curve_table(hdus, name: str):
    """The LIGHTCURVE table, else the first table with a TIME column (an image is no table)."""
    tables = [hdu for hdu in hdus[1:] if "TIME" in _column_names(hdu)]
    named = [hdu for hdu in tables if hdu.name.upper() == "LIGHTCURVE"]
    if tables:
        return (named or tables)[0]
    raise LightCurveError(
        f"{name}: a FITS file without a light-curve extension (no LIGHTCURVE table with a TIME "
        "column); is it a target pixel file or an image?"
    )


def _column_names(hdu) -> list[str]:
    columns = getattr(hdu, "columns", None)
    return [c.upper() for c in columns.names] if columns is not None else []


def read_fits(data: bytes, name: str) -> LightCurve:
    from astropy.io import fits

    try:
        hdus = fits.open(io.BytesIO(data), memmap=False)
        hdus.verify("silentfix")
    except (OSError, ValueError, TypeError) as exc:
        raise LightCurveError(f"{name}: not a readable FITS file ({exc})") from exc
    with hdus:
        primary = hdus[0].header
        table = _light_curve_table(hdus, name)
        header = table.header
        try:
            rows = table.data
            columns = [c.upper() for c in rows.columns.names] if rows is not None else []
        except (OSError, ValueError, TypeError) as exc:
            raise LightCurveError(f"{name}: the light-curve table cannot be read ({exc})") from exc
        if rows is None or len(rows) == 0:
            raise LightCurveError(f"{name}: the light-curve table has no rows")
        _check_rows(len(rows), name)
        flux_column = next(
            (
                c
                for c in ("PDCSAP_FLUX", "SAP_FLUX", "FLUX")
                if c in columns and np.isfinite(_numeric(rows, c, name)).any()
            ),
            None,
        )
        if flux_column is None:
            present = [c for c in ("PDCSAP_FLUX", "SAP_FLUX", "FLUX") if c in columns]
            if present:
                raise LightCurveError(f"{name}: the flux column {present[0]!r} is NaN in every row")
            raise LightCurveError(
                f"{name}: the light-curve table has no PDCSAP_FLUX, SAP_FLUX or FLUX column"
            )
        time_ = _numeric(rows, "TIME", name)
        flux = _numeric(rows, flux_column, name)
        error_column = f"{flux_column}_ERR"
        flux_err = _numeric(rows, error_column, name) if error_column in columns else None
        quality_column = next((c for c in ("QUALITY", "SAP_QUALITY") if c in columns), None)
        flagged = (
            _numeric(rows, quality_column, name) != 0
            if quality_column
            else np.zeros(len(time_), bool)
        )
        mission = _mission(primary)
        reference = _header_int(header, "BJDREFI")
        lc = LightCurve(
            time=time_[~flagged],
            flux=flux[~flagged],
            flux_err=None if flux_err is None else flux_err[~flagged],
            mission=mission,
            target_id=_target_id(primary, mission),
            kepid=_header_int(primary, "KEPLERID") if mission == "Kepler" else None,
            time_system=_BJD_REFERENCE.get(reference, "BJD" if reference else "relative days"),
            file_format="fits",
            flux_column=flux_column,
            n_cadences=len(time_),
            n_dropped_quality=int(flagged.sum()),
            section=_section(primary),
        )
    return validate(lc, name)


def _numeric(rows, column: str, name: str) -> np.ndarray:
    """A table column as floats; a column of text (or of anything else) is refused."""
    try:
        return np.asarray(rows[column], float)
    except (TypeError, ValueError):
        first = str(rows[column][0]).strip()[:30] if len(rows) else ""
        raise LightCurveError(
            f"{name}: the column {column} holds {first!r}, not numbers; a light-curve table's "
            "columns are numeric"
        ) from None


def _target_id(primary, mission: str) -> str | None:
    if mission == "TESS" and _header_int(primary, "TICID"):
        return f"TIC {_header_int(primary, 'TICID')}"
    kepler_id = _header_int(primary, "KEPLERID")
    if kepler_id:
        return f"{'EPIC' if mission == 'K2' else 'KIC'} {kepler_id}"
    obj = str(primary.get("OBJECT", "")).strip()
    return obj or None


def _section(primary) -> str | None:
    for key, prefix in (("QUARTER", "Q"), ("CAMPAIGN", "C"), ("SECTOR", "S")):
        value = _header_int(primary, key)
        if value is not None:
            return f"{prefix}{value}"
    return None


# -- CSV ----------------------------------------------------------------------------------------
def _pick(names: list[str], wanted: tuple[str, ...]) -> int | None:
    lowered = [n.strip().lower() for n in names]
    for candidate in wanted:
        if candidate in lowered:
            return lowered.index(candidate)
    return None


def detect_time_system(column: str, values: np.ndarray) -> str:
    """From the column name if it says, else from the values' range."""
    lowered = column.strip().lower()
    for system in ("bkjd", "btjd", "mjd"):
        if system in lowered:
            return system.upper()
    if "bjd" in lowered or "jd" in lowered:
        return "BJD"
    finite = values[np.isfinite(values)]
    if len(finite) and finite.min() > 2_400_000:
        return "BJD"
    if len(finite) and 40_000 < finite.min() < 100_000:
        return "MJD"
    return "relative days"


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LightCurveError(
            f"{name}: not a FITS file and not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); expected a Kepler/K2/TESS FITS light curve, a CSV or JSON lines"
        ) from None


def read_csv(data: bytes, name: str, time_system: str | None = None) -> LightCurve:
    text = _text(data, name)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise LightCurveError(f"{name}: the file has no rows (only blank or comment lines)")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t ")
        header = [h.strip() for h in next(csv.reader([lines[0]], dialect))]
    except csv.Error:
        header = [lines[0].strip()]
        dialect = csv.excel
    time_index, flux_index = _pick(header, _TIME_NAMES), _pick(header, _FLUX_NAMES)
    if time_index is None or flux_index is None:
        missing = " and ".join(
            what for what, index in (("time", time_index), ("flux", flux_index)) if index is None
        )
        first_row = ", ".join(h[:30] for h in header[:8])  # a name can be a whole line
        raise LightCurveError(
            f"{name}: no {missing} column; the first row {first_row!r} should name a "
            "time column (time, bkjd, btjd, bjd, mjd ...) and a flux column (flux, pdcsap_flux, "
            "sap_flux ...), optionally flux_err"
        )
    error_index = _pick(header, _ERROR_NAMES)
    _check_rows(len(lines) - 1, name)
    table = _numbers(lines[1:], dialect, len(header), name)
    time_ = table[:, time_index]
    if time_system is not None and time_system not in TIME_SYSTEMS:
        raise LightCurveError(f"time system {time_system!r}: expected one of {TIME_SYSTEMS}")
    system = time_system or detect_time_system(header[time_index], time_)
    lc = LightCurve(
        time=time_,
        flux=table[:, flux_index],
        flux_err=None if error_index is None else table[:, error_index],
        mission="unknown",
        target_id=None,
        kepid=None,
        time_system=system,
        file_format="csv",
        flux_column=header[flux_index],
        n_cadences=len(table),
    )
    return validate(lc, name)


def _numbers(rows: list[str], dialect, width: int, name: str) -> np.ndarray:
    values = np.full((len(rows), width), np.nan)
    try:
        for number, fields in enumerate(csv.reader(rows, dialect)):
            _parse_row(values, number, fields, width, name)
    except csv.Error as exc:  # a field over the csv module's limit (128 kB)
        raise LightCurveError(f"{name}: not a CSV of numbers ({exc})") from None
    return values


def _parse_row(values: np.ndarray, number: int, fields: list[str], width: int, name: str) -> None:
    if len(fields) != width:
        raise LightCurveError(
            f"{name}: data row {number + 1} has {len(fields)} fields, the header {width}"
        )
    for column, field_ in enumerate(fields):
        text = field_.strip()
        if text == "" or text.lower() in ("nan", "null", "none", "na"):
            continue
        try:
            values[number, column] = float(text)
        except ValueError:
            raise LightCurveError(
                f"{name}: data row {number + 1}, column {column + 1}: {text[:30]!r} is not a number"
            ) from None


# -- JSON lines (the shipped labelled sample) ---------------------------------------------------
_KEPLER_NAME = re.compile(r"kplr(\d{9})")


def read_jsonl(data: bytes, name: str) -> list[LightCurve]:
    curves = []
    for number, line in enumerate(_text(data, name).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"a JSON {type(record).__name__}")
            time_ = np.asarray(record["time"], float)
            flux = np.asarray(record["flux"], float)
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
            raise LightCurveError(
                f"{name}: line {number} is not a JSON object with time and flux arrays "
                f"({type(exc).__name__}: {str(exc)[:80]})"
            ) from None
        _check_rows(time_.size, f"{name} line {number}")
        series = str(record.get("name", number))
        label = record.get("label")
        match = _KEPLER_NAME.search(series)
        lc = LightCurve(
            time=time_,
            flux=flux,
            flux_err=None,
            mission="Kepler" if match else "unknown",
            target_id=f"KIC {int(match.group(1))}" if match else None,
            kepid=int(match.group(1)) if match else None,
            time_system="BKJD" if match else "relative days",
            file_format="jsonl",
            flux_column="flux",
            n_cadences=time_.size,
            series_key=f"{number}:{series}",
            label=None if label is None else str(label),
        )
        curves.append(validate(lc, f"{name} line {number}"))
    if not curves:
        raise LightCurveError(f"{name}: no light curves in the file")
    return curves


# -- dispatch -----------------------------------------------------------------------------------
def read_bytes(data: bytes, name: str, time_system: str | None = None) -> list[LightCurve]:
    """Every light curve in a file, recognised by its content (not by its name)."""
    if len(data) == 0:
        raise LightCurveError(f"{name}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise LightCurveError(
            f"{name}: {len(data) / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES / 2**20:.0f} MB"
        )
    if data.startswith(b"SIMPLE  ="):
        return [read_fits(data, name)]
    if name.lower().endswith((".fits", ".fit", ".fits.gz")):
        raise LightCurveError(
            f"{name}: named like a FITS file but its content is not FITS (a FITS file starts "
            "with 'SIMPLE  ='); upload a Kepler/K2/TESS light-curve FITS file or a CSV"
        )
    if b"\0" in data[:65536]:
        raise LightCurveError(
            f"{name}: a binary file that is not FITS; expected a Kepler/K2/TESS FITS light curve "
            "or a CSV (time, flux[, flux_err])"
        )
    if data.removeprefix(codecs.BOM_UTF8).lstrip()[:1] == b"{":
        return read_jsonl(data, name)
    return [read_csv(data, name, time_system)]


def read_file(path: Path) -> bytes:
    """A file's bytes, refused before reading when it is missing or over the size limit."""
    if not path.is_file():
        raise LightCurveError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LightCurveError(
            f"{path}: {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES / 2**20:.0f} MB"
        )
    return path.read_bytes()
