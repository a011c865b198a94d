"""Several files of one star (Kepler quarters, K2 campaigns, TESS sectors) as one light curve.

Each segment is normalised by its own median flux (the flux and its error divided by it), then
the segments are put end to end in time order: what lightkurve's
``LightCurveCollection.stitch()`` does with its default ``corrector_func`` (``normalize()``).
Pure: bytes in, a :class:`Stitched` out, no warehouse.

A set is refused, before anything is written, with one line that names the files at fault: a
file that is not a light curve (its own reason), a file that holds several series, the same file
twice, files of different missions, stars, formats or time systems, segments that overlap in
time (the same quarter twice), more than :data:`MAX_FILES` files, more than
:data:`readers.MAX_POINTS` points together, or a set that together fails
:func:`readers.validate` (files years apart: a span no light curve has).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring.lightcurves import readers
from scoring.lightcurves.readers import LightCurve, LightCurveError

MAX_FILES = 64  # Kepler: 18 quarters; TESS: up to ~40 sectors in its continuous viewing zones
SERIES_KEY = "stitched"


@dataclass(frozen=True)
class Segment:
    """One file of a stitched light curve, in time order (``number`` 1, 2 …)."""

    number: int
    file_name: str
    file_sha256: str
    file_bytes: int
    file_format: str
    section: str | None
    flux_column: str
    n_cadences: int
    n_points: int
    n_dropped_quality: int
    n_dropped_nonfinite: int
    first_point: int  # index of its first point in the stitched light curve
    time_start: float
    time_end: float
    median_flux: float  # the normalisation: the file's flux = stitched flux x median_flux


@dataclass(frozen=True)
class Stitched:
    lightcurve: LightCurve  # normalised, time-sorted, series_key 'stitched'
    segments: tuple[Segment, ...]
    sha256: str  # of the set: the same files in any order give the same hash
    file_name: str  # a short name for the set
    file_bytes: int


def sections_label(sections: Sequence[str | None]) -> str | None:
    """'Q1-Q3+Q5' for quarters 1, 2, 3 and 5 (runs of consecutive sections joined); None when a
    segment does not say its section."""
    if not sections or not all(sections):
        return None
    parsed = [re.fullmatch(r"([A-Z]+)(\d+)", s or "") for s in sections]
    if not all(parsed):
        return "+".join(s for s in sections if s)
    runs: list[list[tuple[str, int]]] = []
    for match in parsed:
        assert match is not None
        item = (match.group(1), int(match.group(2)))
        if runs and runs[-1][-1][0] == item[0] and runs[-1][-1][1] + 1 == item[1]:
            runs[-1].append(item)
        else:
            runs.append([item])
    return "+".join(
        f"{r[0][0]}{r[0][1]}" if len(r) == 1 else f"{r[0][0]}{r[0][1]}-{r[-1][0]}{r[-1][1]}"
        for r in runs
    )


def set_sha256(file_sha256s: Sequence[str]) -> str:
    """The identity of a set of files: order does not matter, each file once."""
    return hashlib.sha256(("stitch\n" + "\n".join(sorted(file_sha256s))).encode()).hexdigest()


def read_segments(files: Sequence[tuple[str, bytes]], time_system: str | None = None) -> Stitched:
    """Read every file (each must pass on its own), check that they are one star, stitch."""
    if len(files) < 2:
        raise LightCurveError("stitching needs at least two files")
    if len(files) > MAX_FILES:
        raise LightCurveError(
            f"{len(files)} files; at most {MAX_FILES} files of one star are stitched"
        )
    hashes = [hashlib.sha256(data).hexdigest() for _, data in files]
    seen: dict[str, str] = {}
    for (name, _), sha in zip(files, hashes, strict=True):
        if sha in seen:
            raise LightCurveError(
                f"{Path(seen[sha]).name} and {Path(name).name} are the same file "
                f"(sha256 {sha[:12]}…); give each quarter or sector once"
            )
        seen[sha] = name
    curves = []
    for name, data in files:
        found = readers.read_bytes(data, name, time_system)
        if len(found) != 1:
            raise LightCurveError(
                f"{Path(name).name}: holds {len(found)} light curves; stitch files of one "
                "light curve each"
            )
        curves.append(found[0])
    names = [name for name, _ in files]
    sizes = [len(data) for _, data in files]
    return stitch(curves, names, hashes, sizes)


def _same(curves: Sequence[LightCurve], names: Sequence[str], what: str, attribute: str) -> None:
    values = [getattr(c, attribute) for c in curves]
    if len(set(values)) > 1:
        first = values[0]
        other = next(i for i, v in enumerate(values) if v != first)
        raise LightCurveError(
            f"mixed {what}: {Path(names[0]).name} is {first or 'unknown'}, "
            f"{Path(names[other]).name} is {values[other] or 'unknown'}; "
            f"stitch files of one star from one mission"
        )


def stitch(
    curves: Sequence[LightCurve],
    names: Sequence[str],
    file_sha256s: Sequence[str] | None = None,
    file_sizes: Sequence[int] | None = None,
) -> Stitched:
    """The segments, each divided by its median flux, as one time-sorted light curve."""
    if len(curves) < 2:
        raise LightCurveError("stitching needs at least two light curves")
    hashes = list(file_sha256s) if file_sha256s is not None else [""] * len(curves)
    sizes = list(file_sizes) if file_sizes is not None else [0] * len(curves)
    _same(curves, names, "missions", "mission")
    _same(curves, names, "targets", "target_id")
    _same(curves, names, "file formats", "file_format")
    _same(curves, names, "time systems", "time_system")
    order = sorted(range(len(curves)), key=lambda i: float(curves[i].time[0]))
    for before, after in itertools.pairwise(order):
        if curves[after].time[0] <= curves[before].time[-1]:
            raise LightCurveError(
                f"{Path(names[before]).name} ({curves[before].section or 'segment'}) and "
                f"{Path(names[after]).name} ({curves[after].section or 'segment'}) overlap in "
                "time; give each quarter or sector once"
            )
    total = sum(c.n_points for c in curves)
    if total > readers.MAX_POINTS:
        raise LightCurveError(
            f"{len(curves)} files hold {total:,} points together; the limit is "
            f"{readers.MAX_POINTS:,} per light curve"
        )
    segments, times, fluxes, errors = [], [], [], []
    first = 0
    for number, i in enumerate(order, 1):
        c = curves[i]
        median = float(np.median(c.flux))  # > 0: readers refuse a light curve whose is not
        times.append(c.time)
        fluxes.append(c.flux / median)
        errors.append(np.full(c.n_points, np.nan) if c.flux_err is None else c.flux_err / median)
        segments.append(
            Segment(
                number=number,
                file_name=Path(names[i]).name,
                file_sha256=hashes[i],
                file_bytes=sizes[i],
                file_format=c.file_format,
                section=c.section,
                flux_column=c.flux_column,
                n_cadences=c.n_cadences,
                n_points=c.n_points,
                n_dropped_quality=c.n_dropped_quality,
                n_dropped_nonfinite=c.n_dropped_nonfinite,
                first_point=first,
                time_start=float(c.time[0]),
                time_end=float(c.time[-1]),
                median_flux=median,
            )
        )
        first += c.n_points
    flux_err = np.concatenate(errors)
    head = curves[order[0]]
    columns = list(dict.fromkeys(curves[i].flux_column for i in order))
    sections = [curves[i].section for i in order]
    lightcurve = LightCurve(
        time=np.concatenate(times),
        flux=np.concatenate(fluxes),
        flux_err=None if np.isnan(flux_err).all() else flux_err,
        mission=head.mission,
        target_id=head.target_id,
        kepid=head.kepid,
        time_system=head.time_system,
        file_format=head.file_format,
        flux_column="+".join(columns),
        n_cadences=sum(c.n_cadences for c in curves),
        n_dropped_quality=sum(c.n_dropped_quality for c in curves),
        n_dropped_nonfinite=sum(c.n_dropped_nonfinite for c in curves),
        section=sections_label(sections),
        series_key=SERIES_KEY,
        notes=[f"stitched from {len(curves)} files, each divided by its median flux"],
    )
    file_name = f"{segments[0].file_name} + {len(curves) - 1} more"
    return Stitched(
        # each file passed on its own; the set must too (files far apart span too long)
        lightcurve=readers.validate(lightcurve, file_name),
        segments=tuple(segments),
        sha256=set_sha256(hashes) if all(hashes) else "",
        file_name=file_name,
        file_bytes=sum(sizes),
    )
