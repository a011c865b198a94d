"""The TESS feature marts on the shipped TOI snapshot (2025-10-04) beside the shipped KOI one:
``marts.fct_toi_features`` and ``marts.dim_tess_star`` as dbt builds them, their contract, the
KOI formulas applied to a TOI, and the ``toi_features`` gate — passed by the real file, failed by
a mart whose depths are fractions instead of ppm, and not run at all without a TOI batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from scoring import settings
from scoring.ingest import loader
from scoring.ml import features
from scoring.quality import errors, gates, suites, targets
from scoring.warehouse import server
from tests.conftest import database_copy, dbt_build

pytestmark = pytest.mark.integration

DISPOSITIONS_2025 = {"PC": 4679, "FP": 1197, "CP": 684, "KP": 583, "APC": 462, "FA": 98}
TIC_HOSTS_2025 = 7408


@pytest.fixture(scope="module")
def toi_marts(pg_cluster: server.PostgresCluster) -> Iterator[str]:
    """Both shipped snapshots loaded and gated, the marts read by the models built, once."""
    with pg_cluster.scratch_database("toifeat") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            loader.load_koi_file(conn, settings.SHIPPED_KOI_FILE)
            loader.load_toi_file(conn, settings.SHIPPED_TOI_FILE)
        gates.gate_new_batches(url)
        dbt_build(url, "--exclude", "tag:scored", "tag:dq")
        yield url


def contract(model: str) -> list[tuple[str, str]]:
    spec = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models/marts/_marts__models.yml").read_text()
    )
    found = next(m for m in spec["models"] if m["name"] == model)
    assert found["config"]["contract"]["enforced"] is True
    return [(c["name"], c["data_type"]) for c in found["columns"]]


def table_columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        """select column_name, data_type from information_schema.columns
            where table_schema = 'marts' and table_name = %s order by ordinal_position""",
        (table,),
    ).fetchall()


def test_one_row_per_toi_of_the_latest_batch_with_its_label(toi_marts: str) -> None:
    with psycopg.connect(toi_marts) as conn:
        rows, tois, batches, snapshot, stars = conn.execute(
            """select count(*), count(distinct toi), count(distinct load_batch_id),
                      max(snapshot_at)::date::text, count(distinct tic_id)
                 from marts.fct_toi_features"""
        ).fetchone()
        assert (rows, tois, batches, snapshot, stars) == (7703, 7703, 1, "2025-10-04", 7408)
        labels = dict(
            conn.execute(
                "select label_disposition, count(*) from marts.fct_toi_features group by 1"
            ).fetchall()
        )
        assert labels == DISPOSITIONS_2025
        hosts, counted, multi = conn.execute(
            "select count(*), sum(n_tois), count(*) filter (where n_tois > 1)"
            " from marts.dim_tess_star"
        ).fetchone()
        assert (hosts, counted) == (TIC_HOSTS_2025, 7703) and multi > 200
        # the KOI marts are the KOIs' alone
        assert conn.execute("select count(*) from marts.dim_star").fetchone()[0] == 8214
        assert conn.execute("select count(*) from marts.fct_koi_features").fetchone()[0] == 9564


def test_the_contract_holds_and_shared_columns_match_the_koi_mart(toi_marts: str) -> None:
    with psycopg.connect(toi_marts) as conn:
        toi = table_columns(conn, "fct_toi_features")
        koi = dict(table_columns(conn, "fct_koi_features"))
        assert toi == contract("fct_toi_features")
        assert table_columns(conn, "dim_tess_star") == contract("dim_tess_star")
    shared = [name for name, _ in toi if name in koi]
    for name in (
        "orbital_period_days",
        "transit_duration_hours",
        "transit_depth_ppm",
        "planet_radius_earth",
        "insolation_earth_flux",
        "equilibrium_temp_k",
        "stellar_teff_k",
        "stellar_logg_cgs",
        "stellar_radius_solar",
        "radius_ratio",
        "planet_radius_consistency",
        "stellar_density_transit_gcc",
        "stellar_density_catalogue_gcc",
        "log10_density_ratio",
        "duration_ratio",
        "orbital_period_rel_unc",
        "n_kois_on_star",
        "period_rank_on_star",
        "nearest_period_ratio_on_star",
        "period_ratio_integer_offset",
        "label_disposition",
    ):
        assert name in shared, name
    assert all(dict(toi)[name] == koi[name] for name in shared)
    assert set(features.TESS_HONEST_FEATURES) <= {name for name, _ in toi}


def test_the_features_are_finite_and_in_range(toi_marts: str) -> None:
    with psycopg.connect(toi_marts) as conn:
        doubles = [
            name for name, kind in table_columns(conn, "fct_toi_features") if kind.startswith("d")
        ]
        bad = conn.execute(
            "select "
            + ", ".join(
                f"count(*) filter (where {c} in ('NaN', 'Infinity', '-Infinity'))" for c in doubles
            )
            + " from marts.fct_toi_features"
        ).fetchone()
        assert dict(zip(doubles, bad, strict=True)) == dict.fromkeys(doubles, 0)
        (
            k_median,
            duration_ratio_median,
            density_median,
            consistency_median,
            worst_rank,
            negative_unc,
            offsets_out,
        ) = conn.execute(
            """select percentile_cont(0.5) within group (order by radius_ratio),
                      percentile_cont(0.5) within group (order by duration_ratio),
                      percentile_cont(0.5) within group (order by log10_density_ratio),
                      percentile_cont(0.5) within group (order by planet_radius_consistency),
                      count(*) filter (where period_rank_on_star > n_kois_on_star),
                      count(*) filter (where least(orbital_period_rel_unc,
                          transit_duration_rel_unc, transit_depth_rel_unc) < 0),
                      count(*) filter (where period_ratio_integer_offset not between 0 and 0.5)
                 from marts.fct_toi_features"""
        ).fetchone()
    assert k_median == pytest.approx(0.0689, abs=1e-3)
    assert 0.7 < duration_ratio_median < 0.9
    assert 0.3 < density_median < 0.45  # b = 0: the transit density is an upper bound
    assert 0.9 < consistency_median < 1.0
    assert (worst_rank, negative_unc, offsets_out) == (0, 0, 0)


def test_a_toi_gets_the_kois_formulas_with_a_central_transit(toi_marts: str) -> None:
    """TOI-114.01 (TIC 25155310), worked out by hand from its archive row with b = 0."""
    with psycopg.connect(toi_marts) as conn:
        raw = conn.execute(
            """select pl_orbper, pl_trandurh, pl_trandep, pl_rade, st_logg, st_rad
                 from raw.toi where toi = '114.01'"""
        ).fetchone()
        row = conn.execute(
            """select radius_ratio, stellar_density_catalogue_gcc, a_over_rstar_transit,
                      stellar_density_transit_gcc, log10_density_ratio, duration_ratio,
                      planet_radius_consistency, n_kois_on_star, period_rank_on_star,
                      nearest_period_ratio_on_star
                 from marts.fct_toi_features where toi = '114.01'"""
        ).fetchone()
    period, duration, depth, rade, logg, rad = raw
    g, rstar_cm, big_g = 10**logg, rad * 6.957e10, 6.674e-8
    k = math.sqrt(depth / 1e6)
    rho_cat = 3 * g / (4 * math.pi * big_g * rstar_cm)
    a_transit = (1 + k) / math.sin(math.pi * duration / (period * 24))
    rho_transit = 3 * math.pi * a_transit**3 / (big_g * (period * 86400) ** 2)
    a_kepler = (g * (period * 86400) ** 2 / (4 * math.pi**2 * rstar_cm)) ** (1 / 3)
    expected_duration = period * 24 / math.pi * math.asin(1 / a_kepler)
    wanted = (
        k,
        rho_cat,
        a_transit,
        rho_transit,
        math.log10(rho_transit / rho_cat),
        duration / expected_duration,
        rade / (k * rad * 109.076),
    )
    assert row[:7] == pytest.approx(wanted, rel=1e-8)
    assert row[7:] == (1, 1, None)


def test_the_shipped_toi_marts_pass_the_feature_gate(toi_marts: str) -> None:
    report = gates.gate(toi_marts, "features")
    assert [run.target.suite_name for run in report.runs] == ["koi_features", "toi_features"]
    assert report.critical_success and not report.skipped
    toi_run = report.runs[1]
    assert not toi_run.warnings
    assert len(toi_run.outcomes) == len(suites.suite("toi_features").expectations)
    with psycopg.connect(toi_marts) as conn:
        toi_batch = conn.execute(
            "select load_batch_id from raw.load_batches where source_table = 'toi'"
        ).fetchone()[0]
        recorded = conn.execute(
            """select v.load_batch_id, v.critical_success, count(r.*)
                 from dq.validation_runs as v join dq.validation_results as r
                   using (validation_run_id)
                where v.suite_name = 'toi_features' and r.expectation_key in
                      ('every_toi_has_features', 'one_row_per_toi', 'transit_depth_median_in_ppm')
                group by 1, 2"""
        ).fetchall()
        assert recorded == [(toi_batch, True, 3)]


def test_depths_as_fractions_fail_the_toi_gate_and_mark_only_the_toi_batch(
    pg_cluster: server.PostgresCluster, toi_marts: str
) -> None:
    with database_copy(pg_cluster, toi_marts, "toibroken") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """update marts.fct_toi_features
                      set transit_depth_ppm = transit_depth_ppm / 1e6,
                          radius_ratio = sqrt(transit_depth_ppm / 1e12)"""
            )
        with pytest.raises(errors.QualityGateError) as failure:
            gates.gate(url, "features")
        message = str(failure.value)
        assert message.startswith("data-quality gate failed: toi_features on load batch 2")
        for key in ("transit_depth_median_in_ppm", "radius_ratio_median_physical"):
            assert f"{key} (expect_column_median_to_be_between" in message
        assert "koi_features" not in message
        with psycopg.connect(url) as conn:
            status = dict(
                conn.execute("select source_table, status from raw.load_batches").fetchall()
            )
            assert status == {"koi_cumulative": "loaded", "toi": "failed_quality"}
            # with no good TOI batch left, the gate is the KOI one alone, as before TESS
            found, skipped = targets.targets_for(conn, "features")
            assert [t.suite_name for t in found] == ["koi_features"]
            assert skipped == ["toi_features: no TOI batch has passed its raw checks"]
