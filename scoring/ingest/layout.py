"""An export file before the database sees it: its bytes sniffed and hashed, its layout read.

**Sniff** the first 64 KiB: not empty, no NUL byte, UTF-8. Binary files and Latin-1 exports fail
here, before the database is touched; the rest of the file is checked as it loads. **Read the
layout**: the ``#`` comment block (:mod:`scoring.ingest.archive`), the row of column names, and
the byte offset where the data starts. Nothing here needs a connection.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scoring.ingest import archive
from scoring.ingest.errors import IngestError
from scoring.ingest.tables import KOI, TableSpec

BLOCK_SIZE = 1 << 20  # bytes read at a time, when hashing and when streaming into COPY
SNIFF_BYTES = 1 << 16
MAX_HEADER_LINE = 1 << 20  # a longer comment or column-name line is not an archive export
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class FileFacts:
    path: Path
    size: int
    bom_bytes: int  # 3 when the file starts with a UTF-8 byte-order mark


@dataclass(frozen=True)
class Layout:
    """Where things are in the file."""

    header: archive.ArchiveHeader
    columns: tuple[str, ...]  # normalised names, in file order
    data_offset: int  # byte offset of the first line after the column-name row
    first_data_line: int  # its 1-based line number


# -- the bytes ----------------------------------------------------------------------------------
def inspect_file(path: Path, table: TableSpec = KOI) -> FileFacts:
    """Refuse what is plainly not UTF-8 text, judging by the first 64 KiB.

    The rest of the file is checked while it loads (PostgreSQL refuses invalid UTF-8 and NUL
    bytes in COPY; the careful path then names the line), so a good file is read only once.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if not path.is_file():
        raise IngestError(f"{path} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path} is empty: expected a CSV export of the {table.title}")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if b"\0" in head:
        raise binary_file(path)
    try:
        # final only if this is the whole file: the sniff may cut a character in two
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) == size)
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    return FileFacts(path, size, 3 if head.startswith(codecs.BOM_UTF8) else 0)


def file_sha256(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    """The file's sha256; ``progress(done_bytes, total_bytes)`` after each block."""
    digest = hashlib.sha256()
    size, done = path.stat().st_size, 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, size)
    return digest.hexdigest()


def binary_file(path: Path) -> IngestError:
    return IngestError(f"{path} is a binary file (it contains NUL bytes), not a CSV export")


def not_utf8(path: Path) -> IngestError:
    """Name the first line that is not UTF-8 (a second pass, only on this error)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = line[exc.start]
                return IngestError(
                    f"{path} is not UTF-8 text: byte 0x{byte:02x} on line {number} "
                    "(a Latin-1 or Windows-1252 export?); save it as UTF-8 and load it again"
                )
    return IngestError(f"{path} is not UTF-8 text: it ends inside a multi-byte character")


# -- the layout ---------------------------------------------------------------------------------
def read_layout(facts: FileFacts) -> Layout:
    """The ``#`` header, the column names and where the data starts."""
    path = facts.path
    comments: list[str] = []
    offset, line_number = facts.bom_bytes, 0
    with path.open("rb") as handle:
        handle.seek(offset)
        while True:
            raw = _read_line(handle, path, line_number + 1)
            if not raw:
                what = "only comment lines" if comments else "only blank lines"
                raise IngestError(f"{path} has {what}: no column names and no data rows")
            line_number += 1
            offset += len(raw)
            text = raw.decode("utf-8")
            if text.startswith("#"):
                comments.append(text)
            elif text.strip():
                break
        columns = _parse_column_row(path, text, line_number)
        while True:  # is there at least one data row?
            raw = _read_line(handle, path, line_number + 1)
            if not raw:
                raise IngestError(f"{path} has a header but no data rows")
            if raw.strip():
                break
    return Layout(archive.parse_header(comments), columns, offset, line_number + 1)


def _read_line(handle: io.BufferedReader, path: Path, number: int) -> bytes:
    raw = handle.readline(MAX_HEADER_LINE)
    if len(raw) == MAX_HEADER_LINE and not raw.endswith(b"\n"):
        raise IngestError(
            f"{path}: line {number} is longer than {MAX_HEADER_LINE:,} bytes; not a CSV export"
        )
    return raw


def _parse_column_row(path: Path, text: str, line_number: int) -> tuple[str, ...]:
    try:
        names = next(csv.reader([text]))
    except csv.Error as exc:
        raise IngestError(f"{path} is not a CSV file: line {line_number}: {exc}") from exc
    columns = tuple(name.strip().lower() for name in names)
    # Archive column names are SQL identifiers; prose, JSON or HTML is not a header row.
    if len(columns) < 2 or not all(_COLUMN_NAME.match(name) for name in columns if name):
        raise IngestError(
            f"{path} is not a CSV file: its first row {shorten(text)!r} is not a "
            "comma-separated list of column names"
        )
    for position, name in enumerate(columns, 1):
        if not name:
            raise IngestError(f"{path}: column {position} of the header row has no name")
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise IngestError(f"{path}: column {name!r} appears twice in the header row")
        seen.add(name)
    return columns


def shorten(text: str, width: int = 60) -> str:
    """``text`` stripped, cut to ``width`` characters for an error message."""
    text = text.strip()
    return text if len(text) <= width else text[: width - 3] + "..."
