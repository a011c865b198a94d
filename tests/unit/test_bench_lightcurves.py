"""The light-curve benchmark's core (``exohunter bench lightcurves``): its manifest reader, the
0.1 % recovery rule and alias detection, eligibility from the data, the budget, and the table's
fields on two real items (Kepler-12 Q15 and an eclipsing binary), with the CNN column scored by
a real, untrained network (random weights: the plumbing, not the figures). No timings are
asserted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.bench import lc_items
from scoring.bench import lightcurves as bench
from scoring.bench.lc_items import Item, Planet
from scoring.cnn import network, predict, training

KEPLER_12_B = 4.437962934


def test_manifest_parses_into_items_and_expected_signals() -> None:
    items = lc_items.items()
    kinds = [i.kind for i in items]
    assert kinds.count("eclipsing binary") == 25
    assert kinds.count("no planet") == 1  # KIC 11454304, its 18 quarters as one item
    stitched = next(i for i in items if i.kind == "no planet")
    assert len(stitched.paths) == 18 and stitched.planets == []
    kepler_32 = [i for i in items if i.target == "KIC 9787239"]
    assert len(kepler_32) == 2
    assert [p.koi for p in kepler_32[0].planets] == [f"K00952.0{n}" for n in range(1, 6)]
    assert kepler_32[0].planets[2].period_days == pytest.approx(22.780782410)
    assert kepler_32[0].planets[4].depth_ppm == 843
    # the epoch and duration come from the KOI table, not the manifest
    assert kepler_32[0].planets[0].epoch_bkjd == pytest.approx(171.40674)
    kepler_6 = next(i for i in items if i.target == "KIC 10874614")
    assert kepler_6.planets[0].name == "Kepler-6 b"
    assert sum(i.kind == "flaring star" for i in items) == 3
    assert lc_items.parse_signals("none (DR24 TCE at 1.24635 d 45 ppm UNK)") == []


@pytest.mark.parametrize(
    ("period", "verdict"),
    [
        (KEPLER_12_B, "recovered"),
        (KEPLER_12_B * 1.0009, "recovered"),  # within 0.1 %
        (KEPLER_12_B * 0.9991, "recovered"),
        (KEPLER_12_B * 1.0011, None),  # just outside 0.1 %: neither the planet nor an alias
        (1.4793, "alias P/3"),  # Q15's P/3 of the issue
        (0.8876, "alias P/5"),  # Q5's P/5 of the issue
        (KEPLER_12_B * 2, "alias 2P"),
        (KEPLER_12_B * 1.5, "alias 3/2P"),
        (5.0, None),
    ],
)
def test_recovery_is_within_a_tenth_of_a_percent_and_aliases_are_not_recoveries(
    period: float, verdict: str | None
) -> None:
    assert lc_items.match(period, KEPLER_12_B) == verdict


def test_classify_prefers_the_planet_over_an_alias_and_reports_a_miss() -> None:
    planet = Planet("K00020.01", "Kepler-12 b", KEPLER_12_B, 16388)
    assert lc_items.classify([1.4793, 4.4380], planet) == ("recovered", 4.4380)
    assert lc_items.classify([1.4793], planet) == ("alias P/3", 1.4793)
    assert lc_items.classify([5.1], planet) == ("missed", None)


def _bls_raw(period: float, sde: float) -> dict:
    return {"seconds": 1.0, "period": period, "sde": sde, "n_periods": 100}


def test_a_baseline_recovers_only_above_its_threshold_and_is_judged_on_no_planet_items() -> None:
    planet = Planet("K00020.01", "Kepler-12 b", KEPLER_12_B, 16388)
    host = Item("Kepler-12", "KIC 11804465", "planet host", [], [planet])
    eb = Item("eb01", "EB", "eclipsing binary", [])
    found = bench.judge(bench.BLS, _bls_raw(4.4374, 30.0), host)
    assert found.planets == {"K00020.01": "recovered"} and found.false_likely == 0
    weak = bench.judge(bench.BLS, _bls_raw(4.4374, 8.0), host)
    assert weak.planets == {"K00020.01": "below threshold"} and weak.likely_periods == []
    alias = bench.judge(bench.TLS, _bls_raw(1.4793, 50.0), host)
    assert alias.planets == {"K00020.01": "alias P/3"} and alias.false_likely == 1
    assert bench.judge(bench.TLS, _bls_raw(0.8, 40.0), eb).false_likely == 1
    assert bench.judge(bench.TLS, _bls_raw(0.8, 5.0), eb).false_likely == 0
    # a method that did not finish counts neither as a recovery nor as a false verdict
    not_run = bench.judge(bench.TLS, None, eb)
    assert not_run.status == "not run (budget)" and not not_run.finished
    refused = bench.judge(bench.BLS, {"seconds": 0.1, "refused": "too large"}, host)
    assert refused.status == "refused" and refused.planets == {}


def untrained_cnn(seed: int = 0) -> predict.Model:
    """The product's network with random weights of the right shapes (no Keras needed)."""
    rng = np.random.default_rng(seed)
    weights, flat = {}, 0

    def layer(shape: tuple[int, ...]) -> list[np.ndarray]:
        fan_in = int(np.prod(shape[:-1]))
        kernel = rng.normal(0, 1 / math.sqrt(fan_in), shape).astype(np.float32)
        return [kernel, np.zeros(shape[-1], np.float32)]

    for view, blocks in network.BRANCHES.items():
        channels, length = 1, network.VIEW_BINS[view]
        for block, (filters, _) in enumerate(blocks):
            for conv in network.conv_names(view, block):
                weights[conv] = layer((network.KERNEL, channels, filters))
                channels = filters
            length = -(-length // network.POOL_STRIDE)
        flat += length * channels
    width = flat + len(training.FOLD_SCALARS)
    for name, units in zip(network.dense_names(), (*network.DENSE, 1), strict=True):
        weights[name] = layer((width, units))
        width = units
    quantiles = np.column_stack([np.linspace(0.2, 30, 101), np.linspace(0.02, 0.5, 101)])
    return predict.Model(weights, training.Scaler(training.FOLD_SCALARS, quantiles), 0.5)


def test_two_items_through_the_core_with_a_budget() -> None:
    chosen = [
        i
        for i in lc_items.items()
        if i.name == "eb08" or (i.target == "KIC 11804465" and "2013011073258" in i.paths[0].name)
    ]
    assert len(chosen) == 2
    budgets = {bench.OURS: 300.0, bench.TLS: 0.5}  # TLS cannot finish in half a second
    raw, _ = bench.run_methods(
        chosen, (bench.OURS, bench.TLS), budgets, say=lambda _: None, warm_up=False
    )
    cnn = bench.cnn_scorer(bench.Cnn("untrained", untrained_cnn(), "random weights"))
    results = bench.judge_all(raw, cnn=cnn)  # no model: no signal is a likely planet
    kepler_12, eb = results
    assert kepler_12.label == "KIC 11804465 Q15" and kepler_12.is_kepler_quarter
    assert eb.label == "eb08" and not eb.is_kepler_quarter and eb.points > 20_000
    (eligibility,) = kepler_12.eligibility
    assert eligibility.eligible and eligibility.n_transits >= 15
    assert eligibility.depth_over_noise > 100 and eligibility.why == "eligible"
    assert eb.eligibility == []
    ours = kepler_12.outcomes[bench.OURS]
    assert ours.finished and ours.seconds > 0
    assert ours.planets["K00020.01"] in ("recovered", "missed") or ours.planets[
        "K00020.01"
    ].startswith("alias")
    assert ours.planets_likely == {"K00020.01": False} or ours.planets["K00020.01"] != "recovered"
    for r in results:
        assert r.outcomes[bench.TLS].status == "not run (budget)"
    summary = bench.summarise(results, bench.OURS)
    assert summary["eligible"] == 1
    assert summary["recovered"] + summary["aliases"] + summary["missed"] == 1
    assert summary["no_planet_items_run"] == 1 and summary["false_likely_no_planet"] == 0
    assert summary["quarter_median_s"] == ours.seconds
    tls = bench.summarise(results, bench.TLS)
    assert tls["items_run"] == 0 and len(tls["not_run_budget"]) == 2
    assert tls["eligible_not_run"] == 1 and tls["recovered"] == 0 and tls["missed"] == 0
    assert bench.ratio(results, bench.OURS, bench.TLS) is None  # no item both finished
    # the CNN column: every item ExoHunter finished has its first signal scored
    for r in results:
        assert 0 <= r.outcomes[bench.OURS].cnn_p_pc <= 1
        assert r.outcomes[bench.TLS].cnn_p_pc is None
    recovered = ours.planets["K00020.01"] == "recovered"
    assert set(ours.cnn_planets) == ({"K00020.01"} if recovered else set())
    assert summary["cnn"]["recovered_scored"] == summary["recovered"]
    assert summary["cnn"]["with_cnn_likely_of_recovered"] == 0  # no model: no likely planet
    assert tls["cnn"] is None
    assert not math.isnan(summary["total_s"])
