"""The archive tables ingest knows, one :class:`TableSpec` each: the KOI cumulative table and the
TESS Objects of Interest (TOI) table.

Every step of a load (layout, column plan, fast and careful paths, batch bookkeeping) is the same
for both; what differs is only what is written here: the raw table and its rejects table, the
key that is unique within a batch, the columns a file must have, and the archive's TAP query.
The columns themselves and their types are the raw table's (its migration is the one list).
"""

from __future__ import annotations

from dataclasses import dataclass

_TAP_SYNC = "https://exoplanetarchive.ipac.caltech.edu/TAP/sync?query=select+*+from+{}&format=csv"


@dataclass(frozen=True)
class TableSpec:
    """One archive table as ingest lands it in ``raw``."""

    name: str  # the raw table, and raw.load_batches.source_table: 'koi_cumulative', 'toi'
    title: str  # for messages: 'KOI cumulative table'
    row_noun: str  # what a row is: 'KOI', 'TOI'
    key: str  # unique within a batch: the partition's primary key is (load_batch_id, key)
    #: Columns a file must have. The values that must be present in every row are the raw
    #: table's NOT NULL columns and ``values_required``; the rest of these may be missing in a row.
    required: tuple[str, ...]
    rejects: str  # the raw table of the lines that could not be loaded
    tap_table: str  # the table's name in the archive's TAP service
    command: str  # `exohunter ingest <command>`
    #: Numeric columns that are nullable in the raw table (older batches may lack them) but
    #: whose value a new row must have: a missing one (empty, NULL, NaN, inf) rejects the row.
    values_required: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"raw.{self.name}"

    @property
    def tap_url(self) -> str:
        """The archive's TAP query for the whole table, as CSV (no ``#`` header)."""
        return _TAP_SYNC.format(self.tap_table)

    def partition_name(self, batch_id: int) -> str:
        return f"{self.name}_batch_{batch_id}"


#: The shipped file has 363 KOIs with an empty koi_depth: real, loadable rows, so besides kepid,
#: kepoi_name and koi_disposition (the NOT NULL columns) only koi_period and koi_duration must
#: have a value: they define the transit signal a KOI is, and the archive fills both for every
#: KOI (none of the 9,564 of 2019 lacks either).
KOI = TableSpec(
    name="koi_cumulative",
    title="KOI cumulative table",
    row_noun="KOI",
    key="kepoi_name",
    required=("kepid", "kepoi_name", "koi_disposition", "koi_period", "koi_depth", "koi_duration"),
    rejects="koi_rejects",
    tap_table="cumulative",
    command="koi",
    values_required=("koi_period", "koi_duration"),
)

#: tfopwg_disp must be a column but may be empty (older exports leave undispositioned TOIs
#: blank); toi and tid (NOT NULL) must be non-empty. 107 TOIs of the 2025 export have no period
#: (single-transit TOIs), so no numeric value is required.
TOI = TableSpec(
    name="toi",
    title="TOI table",
    row_noun="TOI",
    key="toi",
    required=("toi", "tid", "tfopwg_disp", "pl_orbper", "pl_trandep", "pl_trandurh"),
    rejects="toi_rejects",
    tap_table="toi",
    command="toi",
)

TABLES = {spec.name: spec for spec in (KOI, TOI)}


def by_name(source_table: str) -> TableSpec:
    """The spec of a raw.load_batches.source_table."""
    try:
        return TABLES[source_table]
    except KeyError:
        raise ValueError(f"ingest knows no archive table {source_table!r}") from None
