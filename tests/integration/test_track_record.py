"""The track record on the shipped TOI snapshots, 2020-06-30 then 2025-10-04, against a real
PostgreSQL and dbt: the TOI classifier trained and scored on the 2020 snapshot alone, the
disposition history, the track-record marts and ``exohunter track-record``.

Every figure the product computes in SQL is computed again here from the two CSV files with
pandas and scikit-learn; the scores are the only thing read from the warehouse. A second
warehouse loads the two snapshots the other way round (2025 first) and holds the same scores:
the history and the track record must not change. The honesty guard is tested with a model
"trained" on the 2025 snapshot that scores the 2020 TOIs with their 2025 outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg.types.json import Jsonb
from sklearn.metrics import average_precision_score, roc_auc_score

from scoring import settings
from scoring.ingest import loader
from scoring.ml import track_record
from scoring.quality import gates
from scoring.warehouse import server
from tests.cli import exohunter
from tests.conftest import dbt_build

pytestmark = pytest.mark.integration

TOI_2020 = settings.OLDER_TOI_FILE
TOI_2025 = settings.SHIPPED_TOI_FILE
SNAPSHOT_2020 = datetime(2020, 6, 30, 10, 44, 38, tzinfo=UTC)
SNAPSHOT_2025 = datetime(2025, 10, 4, 15, 58, 58, tzinfo=UTC)
TOP_KS = (50, 100, 250)
# The models the TOI features and the track record need, and no test whose parents are not built
# (the KOI marts stay empty in these warehouses).
FEATURES = ("+fct_toi_features", "+dim_tess_star", "stg_kepler__load_batches")
TRACK_RECORD = ("+fct_disposition_history", "+fct_track_record", "+fct_track_record_reliability")
CAUTIOUS = ("--indirect-selection", "cautious")


def build(url: str, *selectors: str) -> None:
    dbt_build(url, "--select", *selectors, *CAUTIOUS)


def ingest(url: str, path: Path) -> int:
    """Load a TOI export and pass it through the raw gate; its load batch id."""
    with psycopg.connect(url, autocommit=True) as conn:
        batch = loader.load_toi_file(conn, path).batch_id
    gates.gate_new_batches(url)
    return batch


def toi_csv(path: Path) -> pd.DataFrame:
    """The export as pandas reads it, the TOI kept as the file spells it."""
    return pd.read_csv(path, comment="#", dtype={"toi": str}, usecols=["toi", "tfopwg_disp"])


@pytest.fixture(scope="module")
def forward(pg_cluster: server.PostgresCluster) -> Iterator[dict[str, object]]:
    """2020 loaded alone, the TOI classifier trained and scored on it; then 2025 loaded, its
    features built and scored by the same model; the track record built."""
    from scoring.classifier import toi_predict, toi_training

    with pg_cluster.scratch_database("track_fwd") as url:
        batch_2020 = ingest(url, TOI_2020)
        build(url, *FEATURES, "--exclude", "tag:scored")
        with psycopg.connect(url, autocommit=True) as conn:
            trained = toi_training.train(conn)
            toi_predict.score(conn)
            scores_2020 = scores_of(conn, batch_2020)
        batch_2025 = ingest(url, TOI_2025)
        build(url, *FEATURES, "--exclude", "tag:scored")
        with psycopg.connect(url, autocommit=True) as conn:
            toi_predict.score(conn, trained.model_version)
        build(url, *TRACK_RECORD)
        yield {
            "url": url,
            "model": trained.model_version,
            "batches": (batch_2020, batch_2025),
            "scores_2020": scores_2020,
        }


def scores_of(conn: psycopg.Connection, batch: int) -> pd.DataFrame:
    return pd.DataFrame(
        conn.execute(
            "select model_version, toi, p_planet, planet_log_odds, candidate_rank"
            " from ml.toi_predictions where load_batch_id = %s order by toi",
            (batch,),
        ).fetchall(),
        columns=["model_version", "toi", "p_planet", "planet_log_odds", "candidate_rank"],
    )


@pytest.fixture(scope="module")
def backward(
    pg_cluster: server.PostgresCluster, forward: dict[str, object]
) -> Iterator[dict[str, object]]:
    """2025 loaded first, 2020 after it, and the forward warehouse's 2020 model and scores
    copied in (its batch ids are the other way round), then the track record built."""
    with pg_cluster.scratch_database("track_bwd") as url:
        batch_2025 = ingest(url, TOI_2025)
        batch_2020 = ingest(url, TOI_2020)
        build(url, *FEATURES, "--exclude", "tag:scored")
        batch_of = dict(zip(forward["batches"], (batch_2020, batch_2025), strict=True))
        copy_scores(forward["url"], url, forward["model"], batch_of)
        build(url, *TRACK_RECORD)
        yield {"url": url, "batches": (batch_2020, batch_2025)}


def copy_scores(source: str, target: str, model: str, batch_of: dict[int, int]) -> None:
    """The model's registry row and every score it wrote, with the load batch ids mapped."""
    with psycopg.connect(source) as src, psycopg.connect(target) as dst:
        registry = src.execute("select * from ml.model_registry where model_version = %s", (model,))
        names = [c.name for c in registry.description]
        row = dict(zip(names, registry.fetchone(), strict=True))
        row["training_load_batch_id"] = batch_of[row["training_load_batch_id"]]
        row["hyperparameters"] = Jsonb(row["hyperparameters"])
        dst.execute(
            f"insert into ml.model_registry ({', '.join(row)})"
            f" values ({', '.join(['%s'] * len(row))})",
            list(row.values()),
        )
        predictions = src.execute(
            "select model_version, load_batch_id, toi, tic_id, p_planet, planet_log_odds,"
            " candidate_rank, scored_at from ml.toi_predictions where model_version = %s",
            (model,),
        ).fetchall()
        with dst.cursor() as cur:
            cur.executemany(
                "insert into ml.toi_predictions values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(p[0], batch_of[p[1]], *p[2:]) for p in predictions],
            )


# -- what the CSV files and the model's raw scores say, computed independently --------------------
def independent(scores_2020: pd.DataFrame) -> dict[str, object]:
    """The 2020 TOIs without a disposition (blank or PC/APC), their 2020 scores, their 2025
    dispositions: the track record by pandas and scikit-learn."""
    then, now = toi_csv(TOI_2020), toi_csv(TOI_2025)
    unresolved = then[then["tfopwg_disp"].isna() | then["tfopwg_disp"].isin(["PC", "APC"])]
    tois = unresolved.merge(scores_2020, on="toi", how="inner", validate="1:1")
    tois = tois.merge(now, on="toi", how="left", suffixes=("_then", "_now"), validate="1:1")
    tois["name"] = "TOI-" + tois["toi"]
    tois = tois.sort_values(["planet_log_odds", "name"], ascending=[False, True])
    tois["rank"] = np.arange(1, len(tois) + 1)
    tois["planet"] = tois["tfopwg_disp_now"].isin(["CP", "KP"])
    tois["resolved"] = tois["planet"] | tois["tfopwg_disp_now"].isin(["FP", "FA"])
    resolved = tois[tois["resolved"]]
    y, score = resolved["planet"].to_numpy(), resolved["planet_log_odds"].to_numpy()
    figures: dict[str, object] = {
        "n_unresolved_scored": len(tois),
        "n_resolved": len(resolved),
        "n_resolved_planet": int(y.sum()),
        "n_resolved_false_positive": int((~y).sum()),
        "n_absent": int(tois["tfopwg_disp_now"].isna().sum()),
        "roc_auc": roc_auc_score(y, score),
        "average_precision": average_precision_score(y, score),
    }
    for k in TOP_KS:
        top = tois[tois["rank"] <= k]
        figures[f"precision_at_{k}_among_resolved"] = top["planet"].sum() / top["resolved"].sum()
        figures[f"precision_at_{k}_unresolved_as_not_confirmed"] = top["planet"].sum() / k
    bins = np.minimum(np.floor(resolved["p_planet"] * 10), 9).astype(int)
    figures["reliability"] = {
        int(b): (len(group), int(group["planet"].sum()), group["planet"].mean())
        for b, group in resolved.groupby(bins)
    }
    figures["ranks"] = dict(zip(tois["name"], tois["rank"], strict=True))
    return figures


def mart_record(url: str, model: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select * from marts.fct_track_record where model_version = %s", (model,)
        )
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        assert len(rows) == 1, rows
        bins = conn.execute(
            "select p_planet_bin, n_resolved, n_confirmed, share_confirmed"
            " from marts.fct_track_record_reliability where model_version = %s",
            (model,),
        ).fetchall()
        ranks = conn.execute(
            "select signal_name, old_rank from marts.fct_track_record_signals"
            " where model_version = %s",
            (model,),
        ).fetchall()
    record = rows[0]
    record["reliability"] = {b: (n, c, s) for b, n, c, s in bins if n}
    record["ranks"] = dict(ranks)
    return record


# -- training on the older snapshot ---------------------------------------------------------------
def test_the_model_is_trained_on_the_2020_snapshot_and_records_its_date(
    forward: dict[str, object],
) -> None:
    with psycopg.connect(forward["url"]) as conn:
        batch, snapshot_at, rows = conn.execute(
            "select training_load_batch_id, training_snapshot_at, training_rows"
            " from ml.model_registry where model_version = %s",
            (forward["model"],),
        ).fetchone()
    assert (batch, snapshot_at) == (forward["batches"][0], SNAPSHOT_2020)
    assert rows == 52 + 253 + 469  # CP + KP + FP of 2020; its 1,267 blank and PC TOIs scored only


def test_scoring_the_newer_batch_keeps_the_older_scores(forward: dict[str, object]) -> None:
    with psycopg.connect(forward["url"]) as conn:
        kept = scores_of(conn, forward["batches"][0])
        n_2025 = conn.execute(
            "select count(*) from ml.toi_predictions where load_batch_id = %s",
            (forward["batches"][1],),
        ).fetchone()[0]
    pd.testing.assert_frame_equal(kept, forward["scores_2020"])
    assert (len(kept), n_2025) == (2041, 7703)


def test_staging_follows_the_latest_export_not_the_latest_load(
    backward: dict[str, object],
) -> None:
    """2020 loaded after 2025: the feature mart (what train and score read) stays on 2025."""
    with psycopg.connect(backward["url"]) as conn:
        batches = conn.execute(
            "select distinct load_batch_id, snapshot_at from marts.fct_toi_features"
        ).fetchall()
    assert batches == [(backward["batches"][1], SNAPSHOT_2025)]


# -- the disposition history ----------------------------------------------------------------------
def history(url: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select mission, signal_name, run_number, host_star_id, disposition,"
            " disposition_class, previous_disposition, previous_disposition_class, valid_from,"
            " valid_to, last_seen_at, is_current, n_snapshots"
            " from marts.fct_disposition_history order by signal_name, run_number"
        )
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_the_history_holds_every_transition_of_the_csv_files(forward: dict[str, object]) -> None:
    frame = history(forward["url"])
    then, now = toi_csv(TOI_2020), toi_csv(TOI_2025)
    both = then.merge(now, on="toi", how="outer", suffixes=("_then", "_now"), indicator=True)
    assert (both["_merge"] == "left_only").sum() == 0  # no 2020 TOI left the table
    same = both["tfopwg_disp_then"].fillna("") == both["tfopwg_disp_now"].fillna("")
    changed = both[(both["_merge"] == "both") & ~same]
    # one run per TOI, and a second for each that changed
    assert len(frame) == len(both) + len(changed)
    transitions = frame[frame["run_number"] == 2]
    assert set(transitions["signal_name"]) == set("TOI-" + changed["toi"])
    assert (transitions["valid_from"] == SNAPSHOT_2025).all()
    assert transitions["is_current"].all() and transitions["valid_to"].isna().all()
    changed_names = frame["signal_name"].isin(transitions["signal_name"])
    first = frame[changed_names & (frame["run_number"] == 1)]
    assert (first["valid_from"] == SNAPSHOT_2020).all()
    assert (first["valid_to"] == SNAPSHOT_2025).all()
    pairs = (
        transitions["previous_disposition"].fillna("blank")
        + "→"
        + transitions["disposition"].fillna("blank")
    ).value_counts()
    expected = (
        changed["tfopwg_disp_then"].fillna("blank") + "→" + changed["tfopwg_disp_now"]
    ).value_counts()
    pd.testing.assert_series_equal(pairs.sort_index(), expected.sort_index(), check_names=False)
    assert pairs["blank→CP"] == 330 and pairs["PC→CP"] == 2 and pairs["FP→APC"] == 101


def test_loading_the_snapshots_in_either_order_gives_the_same_history(
    forward: dict[str, object], backward: dict[str, object]
) -> None:
    pd.testing.assert_frame_equal(history(forward["url"]), history(backward["url"]))


# -- the track record ---------------------------------------------------------------------------
def test_the_track_record_equals_the_figures_computed_from_the_csv_files(
    forward: dict[str, object],
) -> None:
    expected = independent(forward["scores_2020"])
    record = mart_record(forward["url"], forward["model"])
    assert (record["scored_snapshot_at"], record["later_snapshot_at"]) == (
        SNAPSHOT_2020,
        SNAPSHOT_2025,
    )
    assert record["training_snapshot_at"] == SNAPSHOT_2020
    assert record["n_signals_scored"] == 2041
    for name, value in expected.items():
        if name in ("reliability", "ranks"):
            continue
        assert record[name] == pytest.approx(value, abs=1e-12), name
    assert record["ranks"] == expected["ranks"]
    assert record["reliability"].keys() == expected["reliability"].keys()
    for b, (n, confirmed, share) in expected["reliability"].items():
        assert record["reliability"][b] == pytest.approx((n, confirmed, share), abs=1e-12), b


def test_the_2020_model_has_no_track_record_of_its_2025_scores(
    forward: dict[str, object],
) -> None:
    """No snapshot is later than 2025: the 2025 scores wait for the next export."""
    with psycopg.connect(forward["url"]) as conn:
        scored = conn.execute(
            "select distinct scored_load_batch_id from marts.fct_track_record"
        ).fetchall()
    assert scored == [(forward["batches"][0],)]


def test_loading_the_snapshots_in_either_order_gives_the_same_track_record(
    forward: dict[str, object], backward: dict[str, object]
) -> None:
    ids = ("scored_load_batch_id", "later_load_batch_id")
    there, here = (
        {k: v for k, v in mart_record(w["url"], forward["model"]).items() if k not in ids}
        for w in (forward, backward)
    )
    assert here == there


def test_a_model_trained_on_the_later_snapshot_is_never_credited(
    forward: dict[str, object], backward: dict[str, object]
) -> None:
    """A "model" registered as trained on 2025 (the honest model's row, its training batch and
    date moved) that scores the 2020 TOIs with their 2025 outcome, a perfect cheat: it has no
    track record at all, and the honest model's is unchanged beside it."""
    url = backward["url"]
    batch_2020, batch_2025 = backward["batches"]
    outcome = toi_csv(TOI_2025).set_index("toi")["tfopwg_disp"]
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into ml.model_registry (model_version, task, algorithm, hyperparameters,"
            " feature_list, training_load_batch_id, training_snapshot_at, training_rows,"
            " artifact_path, artifact_sha256)"
            " select 'cheat', task, 'hindsight', hyperparameters, feature_list, %s, %s,"
            " 2562, artifact_path, artifact_sha256 from ml.model_registry"
            " where model_version = %s",
            (batch_2025, SNAPSHOT_2025, forward["model"]),
        )
        tois = conn.execute(
            "select toi, tid from raw.toi where load_batch_id = %s", (batch_2020,)
        ).fetchall()
        rows = []
        for toi, tic in tois:
            p = 0.999 if outcome.get(toi) in ("CP", "KP") else 0.001
            rows.append(("cheat", batch_2020, toi, tic, p, float(np.log(p / (1 - p)))))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ml.toi_predictions values (%s, %s, %s, %s, %s, %s, null, now())",
                rows,
            )
    try:
        build(url, *TRACK_RECORD)
        with psycopg.connect(url) as conn:
            credited = conn.execute(
                "select (select count(*) from marts.fct_track_record_signals"
                "         where model_version = 'cheat'),"
                "       (select count(*) from marts.fct_track_record"
                "         where model_version = 'cheat')"
            ).fetchone()
            honest = conn.execute("select count(*) from marts.fct_track_record").fetchone()[0]
            with pytest.raises(track_record.TrackRecordError, match="model cheat has no"):
                track_record.load(conn, "TESS", "cheat")
        assert credited == (0, 0) and honest == 1
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("delete from ml.model_registry where model_version = 'cheat'")
        build(url, *TRACK_RECORD)


# -- exohunter track-record ------------------------------------------------------------------------
def test_the_command_prints_the_marts_figures(
    forward: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOHUNTER_DATABASE_URL", forward["url"])
    result = exohunter("track-record", "--mission", "tess")
    assert result.returncode == 0, result.stdout + result.stderr
    record = mart_record(forward["url"], forward["model"])
    out = result.stdout
    assert f"TESS model {forward['model']}" in out
    assert "2020-06-30 snapshot, judged by the 2025-10-04 one" in out
    for label, value in (
        ("unresolved then (counted)", f"{record['n_unresolved_scored']:,}"),
        ("resolved since: planet", f"{record['n_resolved_planet']:,}"),
        ("resolved since: false positive", f"{record['n_resolved_false_positive']:,}"),
        ("ROC AUC on the resolved", f"{record['roc_auc']:.4f}"),
        ("average precision on the resolved", f"{record['average_precision']:.4f}"),
    ):
        assert re.search(rf"{re.escape(label)}\s*[│|]\s*{re.escape(value)}\s", out), label
    among, as_not = (
        record["precision_at_100_among_resolved"],
        record["precision_at_100_unresolved_as_not_confirmed"],
    )
    assert f"{among:.3f} | {as_not:.3f}" in out


def test_the_command_says_what_is_missing_with_one_snapshot(
    pg_cluster: server.PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_cluster.scratch_database("track_one") as url:
        monkeypatch.setenv("EXOHUNTER_DATABASE_URL", url)
        none = exohunter("track-record")
        ingest(url, TOI_2020)
        one = exohunter("track-record", "--mission", "tess")
    assert none.returncode == one.returncode == 1
    assert "needs two snapshots of the TOI table and none is loaded" in none.stdout
    assert "only the 2020-06-30 one is loaded" in one.stdout
    assert "exohunter ingest toi FILE" in one.stdout
    assert "Traceback" not in one.stdout + one.stderr
