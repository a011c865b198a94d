"""The archive's ``#`` header: export time and ``# COLUMN name: description [unit]`` lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scoring.ingest import archive


def comment_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [line for line in handle if line.startswith("#")]


def test_shipped_header_gives_export_time_and_49_documented_columns(
    shipped_koi_file: Path,
) -> None:
    header = archive.parse_header(comment_lines(shipped_koi_file))

    assert header.exported_at == datetime(2019, 1, 20, 3, 22, 26, tzinfo=UTC)
    docs = {doc.name: doc for doc in header.columns}
    assert len(header.columns) == 49  # loc_rowid is in the data but not documented
    assert "loc_rowid" not in docs
    assert docs["kepid"] == archive.ColumnDoc("kepid", "KepID", None)
    assert docs["koi_period"] == archive.ColumnDoc("koi_period", "Orbital Period", "days")
    assert docs["koi_period_err1"].description == "Orbital Period Upper Unc."
    assert docs["koi_slogg"].unit == "log10(cm/s**2)"
    assert docs["koi_insol"].unit == "Earth flux"
    assert docs["ra"] == archive.ColumnDoc("ra", "RA", "decimal degrees")
    assert docs["koi_fpflag_ec"] == archive.ColumnDoc(
        "koi_fpflag_ec", "Ephemeris Match Indicates Contamination False Positive Flag", None
    )
    assert [doc.name for doc in header.columns][:3] == ["kepid", "kepoi_name", "kepler_name"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# Sun Jan 20 03:22:26 2019", datetime(2019, 1, 20, 3, 22, 26, tzinfo=UTC)),
        # newer exports pad the day with a space
        ("# Sat Oct  4 15:58:58 2025\n", datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC)),
        ("#Sat Oct 4 15:58:58 2025", datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC)),
        ("# This file was produced by the NASA Exoplanet Archive", None),
        ("#", None),
        ("# Sun Feb 31 03:22:26 2019", None),  # no such day: not an export time
        ("# Sun Foo 20 03:22:26 2019", None),
        ("# COLUMN kepid: KepID", None),
    ],
)
def test_export_time(line: str, expected: datetime | None) -> None:
    assert archive.parse_export_time(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# COLUMN kepid:          KepID", archive.ColumnDoc("kepid", "KepID", None)),
        (
            "# COLUMN koi_depth:      Transit Depth [ppm]\n",
            archive.ColumnDoc("koi_depth", "Transit Depth", "ppm"),
        ),
        (
            "# COLUMN koi_slogg_err2: Stellar Surface Gravity Lower Unc. [log10(cm/s**2)]",
            archive.ColumnDoc(
                "koi_slogg_err2", "Stellar Surface Gravity Lower Unc.", "log10(cm/s**2)"
            ),
        ),
        # a bracket that is not at the end is part of the description
        (
            "# COLUMN x: Flag [0/1] set by hand",
            archive.ColumnDoc("x", "Flag [0/1] set by hand", None),
        ),
        ("# COLUMN y: Empty unit []", archive.ColumnDoc("y", "Empty unit", None)),
        ("# kepid: KepID", None),
        ("kepid,kepoi_name", None),
    ],
)
def test_column_doc(line: str, expected: archive.ColumnDoc | None) -> None:
    assert archive.parse_column_doc(line) == expected


def test_bare_csv_has_no_header_facts() -> None:
    header = archive.parse_header(["kepid,kepoi_name\n", "1,K00001.01\n"])
    assert header == archive.ArchiveHeader(exported_at=None, columns=())


def test_export_time_found_anywhere_in_the_comment_block_and_first_doc_wins() -> None:
    header = archive.parse_header(
        [
            "# some other preamble\n",
            "# COLUMN kepid: KepID\n",
            "# Mon Mar  2 10:00:00 2020\n",
            "# Tue Mar  3 10:00:00 2020\n",
            "# COLUMN kepid: Something else [m]\n",
        ]
    )
    assert header.exported_at == datetime(2020, 3, 2, 10, 0, 0, tzinfo=UTC)
    assert header.columns == (archive.ColumnDoc("kepid", "KepID", None),)


def test_tap_url_and_url_detection() -> None:
    assert archive.TAP_CUMULATIVE_URL == (
        "https://exoplanetarchive.ipac.caltech.edu/TAP/sync"
        "?query=select+*+from+cumulative&format=csv"
    )
    assert archive.is_url(archive.TAP_CUMULATIVE_URL)
    assert archive.is_url("http://127.0.0.1:8000/koi.csv")
    assert not archive.is_url("data/kepler/koi_cumulative_2019-01-20.csv")
    assert not archive.is_url(Path("http://not-a-url-but-a-path"))
    assert not archive.is_url("ftp://example.org/koi.csv")
