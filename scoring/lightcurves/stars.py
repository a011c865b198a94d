"""The stellar parameters of a TESS upload's star, from the TOI table.

A Kepler upload gets Teff, log g and R★ from the KOI table (``store.star_for``, through
``store.kois_of``); a TESS upload of a TOI host gets them here, from the TIC parameters the TOI
table carries (``st_teff``, ``st_logg``, ``st_rad``) in the latest loaded TOI batch, as
``staging.stg_tess__toi`` exposes it. The upload's star is the TIC id the user named
(``star_id`` "TIC 25155310", e.g. with a CSV or JSON upload), else the ``TICID`` of the FITS
header (``raw.lightcurves.target_id`` "TIC 358108509"). What the user typed in, and what the KOI
table gives, comes first: the TOI table only fills in a star nobody else described.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from scoring.lightcurves import model

#: Star.source of parameters from the TOI table.
SOURCE = "toi_table"
_TIC = re.compile(r"^\s*tic[\s_-]*0*(\d{1,12})\s*$", re.IGNORECASE)
_BARE_ID = re.compile(r"^\s*0*(\d{1,12})\s*$")


def tic_id(row: dict[str, Any]) -> int | None:
    """The TIC id of an upload (a row of ``store.upload``): the user's star id, else the header's.

    A bare number names a TIC star only in a TESS file (elsewhere it is a KIC id); a KIC or EPIC
    id the user gave overrides the header, as the user's KIC id overrides a Kepler header.
    """
    star_id = row.get("star_id")
    if star_id:
        match = _TIC.match(star_id)
        if match is None and row.get("mission") == "TESS":
            match = _BARE_ID.match(star_id)
        return int(match.group(1)) if match else None
    match = _TIC.match(row.get("target_id") or "")
    return int(match.group(1)) if match else None


def toi_table_star(conn: psycopg.Connection, tic: int) -> model.Star | None:
    """The TIC parameters of a TOI host in the latest loaded TOI batch; None if it hosts no TOI
    there, the TOI table gives none of the three, or no TOI batch is staged yet.

    A star hosting several TOIs carries the same TIC parameters on each row; the lowest TOI
    number that gives any of them is read.
    """
    if conn.execute("select to_regclass('staging.stg_tess__toi')").fetchone()[0] is None:
        return None
    row = conn.execute(
        r"""select stellar_teff_k, stellar_logg_cgs, stellar_radius_solar
              from staging.stg_tess__toi
             where tic_id = %s
               and num_nonnulls(stellar_teff_k, stellar_logg_cgs, stellar_radius_solar) > 0
             order by case when toi ~ '^[0-9]+(\.[0-9]+)?$' then toi::numeric end, toi
             limit 1""",
        (tic,),
    ).fetchone()
    return None if row is None else model.Star(*row, source=SOURCE)


def star_for(conn: psycopg.Connection, row: dict[str, Any], star: model.Star) -> model.Star:
    """``star`` (the user's or the KOI table's parameters) if it knows any; else, for a TOI
    host, the TOI table's; else ``star`` (none known)."""
    if star.known:
        return star
    tic = tic_id(row)
    if tic is None:
        return star
    return toi_table_star(conn, tic) or star
