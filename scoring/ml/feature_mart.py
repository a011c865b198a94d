"""Read the feature marts: every KOI (or TOI) of the latest batch with its label and honest
features."""

from __future__ import annotations

import pandas as pd
import psycopg
from psycopg import sql

from scoring.ml.features import (
    HONEST_FEATURES,
    LABEL,
    LEAKY_SCORE,
    TESS_HONEST_FEATURES,
    TESS_LABEL,
    VETTING_FLAGS,
    check_honest,
    check_tess_honest,
)

FEATURE_TABLE = "marts.fct_koi_features"
VETTING_TABLE = "marts.fct_koi_vetting"


def load(conn: psycopg.Connection, with_vetting: bool = False) -> pd.DataFrame:
    """Every KOI of the latest batch: keys, label and the honest features (as floats, NaN for
    missing). ``with_vetting`` adds the vetting columns for the comparison runs."""
    check_honest(HONEST_FEATURES)
    columns = [
        "kepoi_name",
        "kepid",
        "load_batch_id",
        "snapshot_at",
        LABEL,
        *HONEST_FEATURES,
    ]
    select = sql.SQL(", ").join(sql.Identifier("f", c) for c in columns)
    query = sql.SQL("select {} from {} as f").format(select, sql.SQL(FEATURE_TABLE))
    if with_vetting:
        extra = sql.SQL(", ").join(sql.Identifier("v", c) for c in (*VETTING_FLAGS, LEAKY_SCORE))
        query = sql.SQL("select {}, {} from {} as f join {} as v using (kepoi_name)").format(
            select, extra, sql.SQL(FEATURE_TABLE), sql.SQL(VETTING_TABLE)
        )
    with conn.cursor() as cursor:
        cursor.execute(query + sql.SQL(" order by f.kepoi_name"))
        names = [d.name for d in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=names)
    numeric = [
        c for c in frame.columns if c in HONEST_FEATURES or c in VETTING_FLAGS or c == LEAKY_SCORE
    ]
    frame[numeric] = frame[numeric].astype("float64")
    return frame


TOI_FEATURE_TABLE = "marts.fct_toi_features"


def load_tois(conn: psycopg.Connection) -> pd.DataFrame:
    """Every TOI of the latest TOI batch: keys, label (tfopwg_disp) and the honest TESS features
    (floats, NaN for missing)."""
    check_tess_honest(TESS_HONEST_FEATURES)
    columns = ["toi", "tic_id", "load_batch_id", "snapshot_at", TESS_LABEL, *TESS_HONEST_FEATURES]
    query = sql.SQL("select {} from {} order by toi").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(TOI_FEATURE_TABLE)
    )
    with conn.cursor() as cursor:
        cursor.execute(query)
        frame = pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description])
    frame[list(TESS_HONEST_FEATURES)] = frame[list(TESS_HONEST_FEATURES)].astype("float64")
    return frame
