"""Reading a file before the database sees it: bytes, layout, and the column plan."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest

from scoring.ingest.columns import KnownColumn, plan_columns
from scoring.ingest.errors import IngestError
from scoring.ingest.layout import SNIFF_BYTES, file_sha256, inspect_file, read_layout

KNOWN = (
    KnownColumn("loc_rowid", "integer", False),
    KnownColumn("kepid", "bigint", True),
    KnownColumn("kepoi_name", "text", True),
    KnownColumn("koi_disposition", "text", True),
    KnownColumn("koi_score", "double precision", False),
    KnownColumn("koi_period", "double precision", False),
    KnownColumn("koi_depth", "double precision", False),
    KnownColumn("koi_duration", "double precision", False),
)
COLUMN_ROW = "kepid,kepoi_name,koi_disposition,koi_period,koi_depth,koi_duration\n"


def write(tmp_path: Path, content: str | bytes, name: str = "koi.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_inspect_measures_and_hash_is_the_file_sha256(tmp_path: Path) -> None:
    body = "# header\n" + COLUMN_ROW + "1,K1.01,CANDIDATE,1.0,2.0,3.0\n"
    path = write(tmp_path, body)
    facts = inspect_file(path)
    assert facts.size == len(body.encode())
    assert facts.bom_bytes == 0
    assert file_sha256(path) == hashlib.sha256(body.encode()).hexdigest()


def test_inspect_judges_only_the_head_and_tolerates_a_cut_character(tmp_path: Path) -> None:
    # 'é' (2 bytes) straddles the 64 KiB sniff boundary: not an error
    head = b"kepid,kepler_name\n" + b"1,x\n" * ((SNIFF_BYTES - 18) // 4)
    padding = b"a" * (SNIFF_BYTES - len(head) - 1)
    path = write(tmp_path, head + padding + "é\n".encode())
    assert inspect_file(path).size == SNIFF_BYTES + 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"kepid,kepoi_name\n1,\x00\x01\x02\n", "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"kepid,kepler_name\n1,Kepler-1 b\n2,Caf\xe9\n", r"not UTF-8 text: byte 0xe9 on line 3"),
        (b"kepid\n1,\xe2\x82", "byte 0xe2 on line 2"),  # cut inside a character
    ],
)
def test_inspect_refuses_what_is_not_utf8_text(
    tmp_path: Path, content: bytes, message: str
) -> None:
    with pytest.raises(IngestError, match=message):
        inspect_file(write(tmp_path, content))


def test_inspect_refuses_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        inspect_file(tmp_path / "nope.csv")
    with pytest.raises(IngestError, match="is not a file"):
        inspect_file(tmp_path)


def test_layout_finds_header_columns_and_data_start(tmp_path: Path) -> None:
    body = (
        "# This file was produced by the NASA Exoplanet Archive\n"
        "# Sun Jan 20 03:22:26 2019\n"
        "#\n"
        "# COLUMN kepid: KepID\n"
        "\n"
        " KepID , kepoi_name,koi_disposition,koi_period,koi_depth,koi_duration\n"
        "1,K1.01,CANDIDATE,1.0,2.0,3.0\n"
    )
    path = write(tmp_path, body)
    layout = read_layout(inspect_file(path))
    assert layout.columns[:2] == ("kepid", "kepoi_name")  # trimmed, lower-cased
    assert layout.first_data_line == 7
    assert path.read_bytes()[layout.data_offset :].startswith(b"1,K1.01,")
    assert layout.header.exported_at is not None
    assert [doc.name for doc in layout.header.columns] == ["kepid"]


def test_layout_skips_a_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + (COLUMN_ROW + "1,K1.01,C,1,2,3\n").encode())
    facts = inspect_file(path)
    assert facts.bom_bytes == 3
    layout = read_layout(facts)
    assert layout.columns[0] == "kepid" and layout.first_data_line == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# only\n# comments\n", "only comment lines: no column names and no data rows"),
        ("\n\n  \n", "only blank lines"),
        ("# header\n" + COLUMN_ROW, "has a header but no data rows"),
        ("# header\n" + COLUMN_ROW + "\n\n", "has a header but no data rows"),
        ("hello world\nthis is prose\n", "is not a CSV file: its first row 'hello world'"),
        ('{"kepid": 1, "kepoi_name": "K1.01"}\n{}\n', "is not a CSV file"),
        ("<!DOCTYPE html>\n<html><body>Error</body></html>\n", "is not a CSV file"),
        ("My Column,Other\n1,2\n", "is not a CSV file"),
        ("kepid,,koi_period\n1,2,3\n", "column 2 of the header row has no name"),
        ("kepid,KEPID\n1,2\n", "column 'kepid' appears twice"),
    ],
)
def test_layout_refuses_files_without_columns_or_rows(
    tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(IngestError, match=message):
        read_layout(inspect_file(write(tmp_path, content)))


def test_plan_matches_by_name_in_any_order() -> None:
    plan = plan_columns(
        ("koi_duration", "koi_count", "kepoi_name", "kepid", "koi_depth", "koi_period",
         "koi_disposition", "koi_srho"),
        KNOWN,
    )  # fmt: skip
    assert list(plan.known) == [
        "koi_duration", "kepoi_name", "kepid", "koi_depth", "koi_period", "koi_disposition",
    ]  # fmt: skip
    assert plan.extra == ("koi_count", "koi_srho")
    assert plan.missing == ("loc_rowid", "koi_score")


def test_plan_names_every_missing_required_column() -> None:
    with pytest.raises(IngestError, match="lacks the required columns koi_period, koi_duration"):
        plan_columns(
            ("kepid", "kepoi_name", "koi_disposition", "koi_depth", "koi_score"), KNOWN, "f.csv"
        )
    with pytest.raises(IngestError, match=r"lacks the required column kepid$"):
        plan_columns(
            ("kepoi_name", "koi_disposition", "koi_period", "koi_depth", "koi_duration"), KNOWN
        )


def test_plan_refuses_a_csv_of_something_else() -> None:
    with pytest.raises(IngestError, match="not a KOI cumulative table export: none of its"):
        plan_columns(("toi", "tid", "tfopwg_disp"), KNOWN, "toi.csv")
