"""marts.fct_discoveries with both missions, on the session's TOI warehouse (the shipped KOI and
TOI snapshots scored by their champions): every CANDIDATE KOI and every PC TOI, each mission
strictly ranked on its own, the KOI rows as they were before the TOIs came in, and the TOI
champion's scores in marts.fct_toi_predictions."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

pytestmark = pytest.mark.integration

KEPLER_CANDIDATES = 2424  # CANDIDATE KOIs of the shipped 2019-01-20 snapshot
TESS_PCS, TOIS = 4679, 7703  # PCs and TOIs of the shipped 2025-10-04 snapshot


@pytest.fixture
def conn(toi_warehouse: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(toi_warehouse, autocommit=True) as connection:
        yield connection


def test_every_candidate_of_both_missions_is_listed(conn: psycopg.Connection) -> None:
    counts = dict(
        conn.execute("select mission, count(*) from marts.fct_discoveries group by mission")
    )
    assert counts == {"Kepler": KEPLER_CANDIDATES, "TESS": TESS_PCS}
    tess_pcs = conn.execute(
        "select count(*) from marts.fct_toi_features where label_disposition = 'PC'"
    ).fetchone()[0]
    listed = conn.execute(
        """select count(*) from marts.fct_discoveries as d
           join marts.fct_toi_features as f using (toi)
           where d.mission = 'TESS' and f.label_disposition = 'PC'"""
    ).fetchone()[0]
    assert tess_pcs == listed == TESS_PCS


@pytest.mark.parametrize("mission", ["Kepler", "TESS"])
def test_each_mission_is_strictly_ranked_on_its_own(conn: psycopg.Connection, mission: str) -> None:
    rows = conn.execute(
        "select candidate_rank, p_planet, planet_log_odds from marts.fct_discoveries"
        " where mission = %s order by candidate_rank",
        (mission,),
    ).fetchall()
    n = len(rows)
    assert [r[0] for r in rows] == list(range(1, n + 1))
    # A better rank never has a lower P(planet) or ranking score.
    assert all(a[1] >= b[1] and a[2] >= b[2] for a, b in itertools.pairwise(rows))
    distinct_scores = len({r[2] for r in rows})
    print(f"{mission}: {n} candidates, {distinct_scores} distinct ranking scores")
    if mission == "Kepler":
        assert distinct_scores == n  # no ties among the 2,424 CANDIDATEs


def test_the_kepler_rows_keep_their_meaning_and_order(conn: psycopg.Connection) -> None:
    # The rows fct_discoveries held before the TOIs: the CANDIDATEs of fct_koi_predictions in
    # rank order, with the KOI's own names in the mission-neutral columns.
    expected = conn.execute(
        """select candidate_rank, kepoi_name, kepid, p_planet, kepler_magnitude, n_kois_on_star
           from marts.fct_koi_predictions where label_disposition = 'CANDIDATE'
           order by candidate_rank"""
    ).fetchall()
    kepler = conn.execute(
        """select candidate_rank, kepoi_name, kepid, p_planet, kepler_magnitude, n_kois_on_star
           from marts.fct_discoveries where mission = 'Kepler' order by candidate_rank"""
    ).fetchall()
    assert kepler == expected
    assert conn.execute(
        "select count(*) from marts.fct_discoveries where mission = 'Kepler'"
        " and (signal_name <> kepoi_name or host_star_id <> kepid or toi is not null"
        " or host_magnitude is distinct from kepler_magnitude or top_reasons is null)"
    ).fetchone() == (0,)


def test_the_tess_rows_name_the_toi_and_its_tic_star(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """select d.signal_name, d.toi, d.host_star_id, f.tic_id, d.host_magnitude,
                  f.tess_magnitude, d.n_signals_on_star, f.n_kois_on_star, d.kepoi_name,
                  d.kepid, d.p_confirmed, d.top_reasons, d.transit_model_snr
           from marts.fct_discoveries as d
           join marts.fct_toi_features as f using (toi)
           where d.mission = 'TESS'"""
    ).fetchall()
    assert len(rows) == TESS_PCS
    for name, toi, host, tic, mag, tmag, n_signals, n_tois, *kepler_only in rows:
        assert name == f"TOI-{toi}" and host == tic and mag == tmag and n_signals == n_tois
        assert kepler_only == [None] * 5, name


def test_the_toi_predictions_are_the_toi_champions(conn: psycopg.Connection) -> None:
    champion = conn.execute(
        "select model_version from ml.model_registry where task = 'toi_classifier' and is_champion"
    ).fetchone()[0]
    n, tois, versions, ranked = conn.execute(
        """select count(*), count(distinct toi), array_agg(distinct model_version),
                  count(candidate_rank)
           from marts.fct_toi_predictions"""
    ).fetchone()
    assert (n, tois, versions, ranked) == (TOIS, TOIS, [champion], TESS_PCS)
    mismatched = conn.execute(
        """select count(*) from marts.fct_toi_predictions as m
           join ml.toi_predictions as p using (model_version, load_batch_id, toi)
           where m.p_planet <> p.p_planet or m.candidate_rank is distinct from p.candidate_rank"""
    ).fetchone()[0]
    assert mismatched == 0
