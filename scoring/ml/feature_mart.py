"""Read the feature mart: every KOI of the latest batch with its label and honest"""

from __future__ import annotations

import pandas as pd
import psycopg
from psycopg import sql

from scoring.ml.features import HONEST_FEATURES, LABEL, LEAKY_SCORE, VETTING_FLAGS, check_honest

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
