"""The NASA Exoplanet Archive: the layout of its CSV exports, and how to fetch one.

An interactive export starts with ``#`` comment lines::

    # This file was produced by the NASA Exoplanet Archive  http://exoplanetarchive.ipac.caltech.edu
    # Sun Jan 20 03:22:26 2019
    #
    # COLUMN kepid:          KepID
    # COLUMN koi_period:     Orbital Period [days]
    ...

then a row of column names and the data. The TAP service returns the same CSV without the
comment lines. This module reads the comment block (export time, column descriptions and units)
and downloads a URL to a file with a size cap, so that ingest always works on a local file.
"""

from __future__ import annotations

import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from scoring.errors import ExoHunterError
from scoring.ingest.tables import KOI, TOI

#: The archive's TAP queries for the whole KOI cumulative and TOI tables, as CSV (no ``#`` header);
#: each table's is :attr:`scoring.ingest.tables.TableSpec.tap_url`.
TAP_CUMULATIVE_URL = KOI.tap_url
TAP_TOI_URL = TOI.tap_url

#: The export time in the header carries no zone. We do not know the archive server's zone, so
#: the wall-clock time is stored as UTC: the snapshot date then equals the date the archive
#: printed (and the date in the shipped file's name).
HEADER_TIMEZONE = UTC

#: Downloads larger than this are refused: the whole KOI table is ~10 MB as CSV (the TOI table
#: ~3 MB), so anything near this size is not what we asked for.
DEFAULT_MAX_DOWNLOAD_BYTES = 500 * 1024 * 1024

_MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
# "# Sun Jan 20 03:22:26 2019" (C ctime layout; the day may be space-padded: "Oct  4").
_EXPORT_TIME = re.compile(
    r"^#\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})\s+(?P<year>\d{4})\s*$"
)
# "# COLUMN koi_period:     Orbital Period [days]"
_COLUMN_DOC = re.compile(r"^#\s*COLUMN\s+(?P<name>[^\s:]+)\s*:\s*(?P<text>.*?)\s*$")
# A trailing "[unit]"; units may contain parentheses ("log10(cm/s**2)") but not brackets.
_UNIT = re.compile(r"^(?P<description>.*?)\s*\[(?P<unit>[^\[\]]*)\]$")
# Downloads are named download-<pid>-<random>.csv, with .part until the last byte arrived.
_DOWNLOAD_PREFIX = "download-"
_PART_SUFFIX = ".csv.part"
_DOWNLOAD_OWNER = re.compile(rf"^{_DOWNLOAD_PREFIX}(?P<pid>\d+)-")


class DownloadError(ExoHunterError):
    """A URL could not be fetched; the message says why."""


@dataclass(frozen=True)
class ColumnDoc:
    """One ``# COLUMN name: description [unit]`` line."""

    name: str
    description: str
    unit: str | None


@dataclass(frozen=True)
class ArchiveHeader:
    """What the ``#`` comment block of an export says. Empty for a bare (TAP) CSV."""

    exported_at: datetime | None
    columns: tuple[ColumnDoc, ...]


def parse_export_time(line: str) -> datetime | None:
    """The export time from a header line like ``# Sun Jan 20 03:22:26 2019``, else None.

    Parsed with a regex instead of ``strptime("%a %b ...")`` so the result does not depend on
    the process locale.
    """
    match = _EXPORT_TIME.match(line.strip())
    if not match or match["month"] not in _MONTHS:
        return None
    try:
        return datetime(
            int(match["year"]),
            _MONTHS[match["month"]],
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=HEADER_TIMEZONE,
        )
    except ValueError:  # "Feb 31" and the like: not a time, so not the export line
        return None


def parse_column_doc(line: str) -> ColumnDoc | None:
    """A ``# COLUMN name: description [unit]`` line, else None."""
    match = _COLUMN_DOC.match(line.strip())
    if not match:
        return None
    text = match["text"]
    unit_match = _UNIT.match(text)
    if unit_match:
        unit = unit_match["unit"].strip() or None
        return ColumnDoc(match["name"], unit_match["description"], unit)
    return ColumnDoc(match["name"], text, None)


def parse_header(lines: Iterable[str]) -> ArchiveHeader:
    """Read the archive's ``#`` comment lines (other lines are ignored).

    The export time is the first comment line that reads as one (line 2 in every export seen
    so far, but the position is not relied on). A column documented twice keeps its first
    description.
    """
    exported_at: datetime | None = None
    columns: dict[str, ColumnDoc] = {}
    for line in lines:
        if not line.startswith("#"):
            continue
        doc = parse_column_doc(line)
        if doc is not None:
            columns.setdefault(doc.name, doc)
        elif exported_at is None:
            exported_at = parse_export_time(line)
    return ArchiveHeader(exported_at, tuple(columns.values()))


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and urlsplit(source).scheme in {"http", "https"}


def download(
    url: str,
    directory: Path,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    timeout: float = 60.0,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Stream ``url`` into a new temporary file under ``directory`` and return its path.

    Memory stays bounded (1 MiB chunks) and the size is capped, so a wrong URL cannot fill the
    disk. A body shorter than its ``Content-Length`` is an error: a connection that broke off
    would otherwise hand ingest the first part of the table as if it were all of it. The bytes
    go to ``download-<pid>-*.csv.part``, renamed to ``.csv`` only when complete, so a file
    without ``.part`` is always a whole download; the files of processes that died (killed
    mid-download or mid-load) are removed first. The caller deletes the file.
    ``on_progress(bytes_so_far, total_or_None)``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_downloads(directory)
    request = urllib.request.Request(url, headers={"User-Agent": "exohunter-ingest"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url}: {reason}") from exc
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise DownloadError(
                f"{url} is {total:,} bytes, over the {max_bytes:,}-byte download limit"
            )
        fd, name = tempfile.mkstemp(
            dir=directory, prefix=f"{_DOWNLOAD_PREFIX}{os.getpid()}-", suffix=_PART_SUFFIX
        )
        part = Path(name)
        try:
            with open(fd, "wb") as handle:
                done = _copy_capped(response, handle, url, max_bytes, total, on_progress)
            if total is not None and done < total:
                raise DownloadError(
                    f"download of {url} broke off after {done:,} of {total:,} bytes "
                    "(the server closed the connection early); nothing was loaded"
                )
            return part.rename(part.with_name(part.name.removesuffix(_PART_SUFFIX)))
        except BaseException:
            part.unlink(missing_ok=True)
            raise


def remove_stale_downloads(directory: Path) -> list[Path]:
    """Delete the downloads of processes that no longer run: what a killed ingest left behind
    (its pid is in the name). A live process's download, even a concurrent one, is kept."""
    removed = []
    for path in directory.glob(f"{_DOWNLOAD_PREFIX}*"):
        match = _DOWNLOAD_OWNER.match(path.name)
        # A name without a pid is from before downloads carried one: nobody is writing it.
        if match and _process_alive(int(match["pid"])):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():  # this process's own downloads, perhaps another thread's
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, alive
        return True
    return True


def _copy_capped(
    response: BinaryIO,
    handle: BinaryIO,
    url: str,
    max_bytes: int,
    total: int | None,
    on_progress: Callable[[int, int | None], None] | None,
) -> int:
    """Copy the body, capped; return the bytes received."""
    done = 0
    while True:
        try:
            chunk = response.read(1 << 20)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"download of {url} broke off after {done:,} bytes: {exc}") from exc
        if not chunk:
            break
        done += len(chunk)
        if done > max_bytes:
            raise DownloadError(f"{url} is over the {max_bytes:,}-byte download limit")
        handle.write(chunk)
        if on_progress is not None:
            on_progress(done, total)
    return done
