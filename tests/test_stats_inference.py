"""Paired inference (softjax.sweeps.inference, exposed by softjax.sweeps.stats) and the t
distribution (softjax.sweeps.tdist): reference values from t tables and closed forms,
properties of Holm and TOST, and the verdicts' error rates on simulated replicates."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softjax.sweeps import factorial, inference, stats, tdist
from softjax.sweeps.factorial import factorial_2x2, factorial_contrasts
from softjax.sweeps.inference import (
    Estimate,
    decide,
    family_line,
    holm,
    mean_difference,
    paired_estimate,
    pooled,
    replicates_needed,
    sign_test,
)
from softjax.sweeps.tdist import betainc, t_cdf, t_quantile, t_sf

# t_{0.95, df}, one-sided 95% (any t table; NIST/SEMATECH e-Handbook 1.3.6.7.2).
T95 = {1: 6.3138, 2: 2.9200, 3: 2.3534, 4: 2.1318, 5: 2.0150, 9: 1.8331, 10: 1.8125, 30: 1.6973}
T995 = {1: 63.6567, 4: 4.6041, 9: 3.2498, 29: 2.7564}


def test_doctests():
    for module in (tdist, inference, factorial):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("df", range(1, 31))
def test_t_quantile_matches_the_table(df):
    assert t_quantile(0.975, df) == pytest.approx(stats._T975[df - 1], abs=6e-5)
    assert stats.t_quantile_975(df) == pytest.approx(t_quantile(0.975, df), abs=6e-5)


def test_t_quantiles_one_sided_tables():
    for df, q in T95.items():
        assert t_quantile(0.95, df) == pytest.approx(q, abs=6e-5)
        assert t_quantile(0.05, df) == pytest.approx(-q, abs=6e-5)
    for df, q in T995.items():
        assert t_quantile(0.995, df) == pytest.approx(q, abs=6e-5)


@pytest.mark.parametrize("t", [-40.0, -3.0, -0.7, 0.0, 0.2, 1.0, 2.5, 12.0, 1e4])
def test_t_cdf_closed_forms(t):
    # df = 1: Cauchy; df = 2: ½ + t / (2√(2 + t²)); df → ∞: the normal.
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    normal = 0.5 * (1 + math.erf(t / math.sqrt(2)))
    assert t_cdf(t, 1e7) == pytest.approx(normal, abs=1e-6)
    assert t_cdf(t, 7) + t_sf(t, 7) == pytest.approx(1.0, abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-6, 1 - 1e-6), st.floats(0.5, 500.0))
def test_t_quantile_inverts_the_cdf(p, df):
    q = t_quantile(p, df)
    assert t_cdf(q, df) == pytest.approx(p, rel=1e-8, abs=1e-12)


def test_t_against_scipy_when_present():
    sp = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    for df in (1, 2.5, 3, 9, 29, 31, 200):
        for t in (-6.0, -1.5, 0.1, 2.0, 8.0):
            assert t_cdf(t, df) == pytest.approx(sp.t.cdf(t, df), abs=1e-11)
        for p in (0.001, 0.025, 0.6, 0.975, 0.9999):
            assert t_quantile(p, df) == pytest.approx(sp.t.ppf(p, df), rel=1e-8)
    for a, b, x in ((0.5, 0.5, 0.2), (3.0, 7.0, 0.9), (100.0, 0.5, 0.99), (2.0, 50.0, 0.01)):
        assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), abs=1e-13)


def test_t_rejects_bad_arguments():
    with pytest.raises(ValueError, match="df"):
        t_cdf(1.0, 0)
    with pytest.raises(ValueError, match="p"):
        t_quantile(1.0, 5)


def test_paired_estimate_by_hand():
    # d = [1, 2, 2, 3]: mean 2, s = √(2/3), se = s/2, t = 2/se = 4.899 on 3 df.
    est = paired_estimate([1, 2, 3, 4], [0, 0, 1, 1])
    assert (est.mean, est.df, est.n) == (2.0, 3, 4)
    assert est.se == pytest.approx(math.sqrt(2 / 3) / 2)
    assert est.half_width() == pytest.approx(3.1824 * math.sqrt(2 / 3) / 2, abs=1e-4)
    assert est.p_value() == pytest.approx(0.0162766, abs=1e-6)  # 2·P(T₃ > 4.899)
    assert stats.paired_estimate is paired_estimate  # exposed by stats


def test_tost_by_hand():
    # mean 0.1, se 0.1, df 9, δ = 0.5: p₁ = P(T > 6), p₂ = P(T < −4).
    est = Estimate(mean=0.1, se=0.1, df=9, n=10)
    assert est.p_equivalence(0.5) == pytest.approx(t_sf(4.0, 9), rel=1e-12)
    assert t_sf(4.0, 9) == pytest.approx(0.00155521, abs=1e-8)  # scipy.stats.t.sf(4, 9)
    # 90% interval inside ±δ iff TOST p < 0.05.
    low, high = est.interval(0.90)
    assert (-0.5 < low and high < 0.5) == (est.p_equivalence(0.5) < 0.05)


def test_paired_estimate_rejects_bad_input():
    with pytest.raises(ValueError, match="a, b"):
        paired_estimate([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="a"):
        paired_estimate([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        mean_difference([1.0])
    with pytest.raises(ValueError, match="delta"):
        decide({"x": mean_difference([1.0, 2.0])}, family="f", delta=-1.0)


def test_holm_reference():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2]) == [0.2]
    assert holm([0.5, 0.6]) == [1.0, 1.0]


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_holm_is_at_least_raw_at_most_one_and_keeps_order(p):
    adj = holm(p)
    assert all(a >= r for a, r in zip(adj, p, strict=True))
    assert all(a <= 1.0 for a in adj)
    for i in range(len(p)):
        for j in range(len(p)):
            if p[i] <= p[j]:
                assert adj[i] <= adj[j]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(1e-4, 1.0), min_size=3, max_size=15),
    st.floats(0.05, 1.0),
)
def test_tost_says_equivalent_for_tight_zero_mean_differences(xs, scale):
    delta = 0.5
    d = [x * scale * 0.1 for x in xs]
    d = d + [-x for x in d]  # mean zero, spread ≤ δ/10
    (v,) = decide({"x − y": mean_difference(d)}, family="f", delta=delta)
    assert v.verdict == "equivalent"
    assert v.p_equivalence_adjusted < 0.05 and v.p_adjusted > 0.05


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 1.0), st.sampled_from([-1, 1]))
def test_recovers_a_known_effect(seed, size, sign):
    rng = np.random.default_rng(seed)
    base = rng.normal(0.5, 1.0, 10)  # shared by both arms of a replicate: pairing removes it
    effect = sign * size
    a = base + effect + rng.normal(0, 0.01, 10)
    b = base + rng.normal(0, 0.01, 10)
    (v,) = decide({"a − b": paired_estimate(a, b)}, family="f", delta=0.01)
    assert v.verdict == ("higher" if sign > 0 else "lower")
    assert abs(v.mean - effect) < 0.05 and v.low < v.mean < v.high


def _simulate(n_sims, n, effect, sd, delta, family_size=1, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sims):
        d = rng.normal(effect, sd, (family_size, n))
        est = {f"c{k}": mean_difference(d[k]) for k in range(family_size)}
        out.append(decide(est, family="sim", delta=delta))
    return out


def test_interval_covers_at_its_level_and_noise_is_inconclusive_at_the_stated_rate():
    sims = _simulate(2000, 10, effect=0.0, sd=1.0, delta=0.05)
    verdicts = [vs[0].verdict for vs in sims]
    false = sum(v in ("higher", "lower") for v in verdicts) / len(verdicts)
    covered = sum(vs[0].low <= 0.0 <= vs[0].high for vs in sims) / len(sims)
    # α = 0.05; 2000 draws: binomial sd 0.005.
    assert 0.035 <= false <= 0.065
    assert covered == pytest.approx(1 - false)
    assert verdicts.count("inconclusive") / len(verdicts) >= 0.93


def test_holm_controls_the_family_wise_rate_on_noise():
    sims = _simulate(600, 8, effect=0.0, sd=1.0, delta=0.05, family_size=5)
    any_false = sum(any(v.verdict != "inconclusive" for v in vs) for vs in sims) / len(sims)
    assert any_false <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 600)
    assert all(v.family_size == 5 and v.family == "sim" for v in sims[0])
    assert all(v.p_adjusted >= v.p for vs in sims for v in vs)


def test_verdict_record_and_render():
    (v,) = decide(
        {"mse − cce": paired_estimate([0.70, 0.68, 0.72], [0.88, 0.89, 0.87])},
        family="init 100",
        delta=0.005,
    )
    assert v.verdict == "lower" and v.family == "init 100" and v.family_size == 1
    assert v.as_dict()["p_adjusted"] == v.p
    text = v.render(scale=100, unit=" pp")
    assert text.startswith("mse − cce: −18.00 pp [")
    assert "lower (Holm p = " in text and '"init 100", 1 comparison;' in text
    assert "±0.50 pp" in text
    # A real difference smaller than δ: higher, and the sentence says it is within δ.
    (small,) = decide({"a − b": mean_difference([0.011, 0.01, 0.009, 0.01])}, family="f", delta=0.5)
    assert small.verdict == "higher" and "higher, yet within ±0.50" in small.render()


def test_pooled_by_hand_and_spread_widens_it():
    e = pooled({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]})
    assert (e.mean, e.df, e.n, e.parts) == (3.5, 2, 3, (1.5, 3.5, 5.5))
    assert e.se == pytest.approx(2.0 / math.sqrt(3))
    assert "random effects" in e.method
    tight = pooled({"a": [3.0, 4.0], "b": [3.5, 3.5], "c": [3.0, 4.0]})
    assert tight.mean == pytest.approx(e.mean) and tight.half_width() < e.half_width()
    one = pooled({"a": [1.0, 2.0, 3.0]})
    assert one.mean == 2.0 and one.df == 2 and "one setting" in one.method


def test_sign_test_reference():
    assert sign_test([-1.0] * 12) == pytest.approx(2 / 2**12)
    assert sign_test([1.0, -1.0]) == 1.0
    assert sign_test([1, 1, 1, 1, -1]) == pytest.approx(2 * 6 / 32)


def _arms(rng, n, a_effect, b_effect, ab, noise):
    base = rng.normal(0.5, 1.0, n)

    def y(a, b):
        mean = a_effect * (a - 0.5) + b_effect * (b - 0.5) + ab * (a - 0.5) * (b - 0.5)
        return base + mean + rng.normal(0, noise, n)

    return {(a, b): y(a, b) for a in (0, 1) for b in (0, 1)}


def test_factorial_contrasts_by_hand():
    arms = {("ce", "ce"): [0.9], ("mse", "ce"): [0.8], ("ce", "mse"): [0.5], ("mse", "mse"): [0.3]}
    c = factorial_contrasts(
        arms, factors=("direction", "norm"), levels=(("ce", "mse"), ("ce", "mse"))
    )
    assert c["main effect of direction (mse − ce)"] == pytest.approx([-0.15])
    assert c["main effect of norm (mse − ce)"] == pytest.approx([-0.45])
    assert c["interaction direction × norm"] == pytest.approx([-0.1])
    with pytest.raises(ValueError, match="arms"):
        factorial_contrasts({(0, 0): [1.0], (0, 1): [1.0], (1, 0): [1.0]})
    with pytest.raises(ValueError, match="two levels"):
        factorial_contrasts({(0, 0): [1.0], (0, 1): [1.0], (1, 0): [1.0], (2, 1): [1.0]})
    with pytest.raises(ValueError, match="same replicates"):
        factorial_contrasts({(0, 0): [1.0], (0, 1): [1.0], (1, 0): [1.0], (1, 1): [1.0, 2.0]})


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_factorial_recovers_known_effects_pooled_over_settings(seed):
    rng = np.random.default_rng(seed)
    by_model = {m: _arms(rng, 10, -0.3, 0.0, 0.2, 0.01) for m in ("lin", "mlp", "deep")}
    out = {v.comparison: v for v in factorial_2x2(by_model, family="init 10", delta=0.02)}
    a, b, ab = out.values()
    assert a.verdict == "lower" and a.mean == pytest.approx(-0.3, abs=0.03)
    assert abs(b.mean) < 0.03  # no effect of B (its verdict errs at α: tested below)
    assert ab.verdict == "higher" and ab.mean == pytest.approx(0.2, abs=0.06)
    assert all(v.family_size == 3 and v.method.startswith("pooled over 3") for v in out.values())


def test_factorial_on_pure_noise_is_inconclusive_at_the_stated_rate():
    rng = np.random.default_rng(1)
    calls = 0
    for _ in range(300):
        out = factorial_2x2({"m": _arms(rng, 10, 0.0, 0.0, 0.0, 1.0)}, family="f", delta=0.01)
        calls += any(v.verdict != "inconclusive" for v in out)
    assert calls / 300 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)


def test_paired_values_from_records():
    def rec(loss, seed, acc, diverged=False):
        return {
            "loss": loss,
            "init_scale": 1.0,
            "lr": 0.1,
            "seed": seed,
            "data_seed": seed,
            "diverged": diverged,
            "history": {"test_accuracy": [0.1, acc]},
        }

    records = [rec("cce", s, 0.9 + s / 100) for s in range(4)]
    records += [rec("mse", s, 0.8 + s / 100, diverged=(s == 2)) for s in range(4)]
    a, b = ({"loss": loss, "init_scale": 1.0, "lr": 0.1} for loss in ("mse", "cce"))
    pairs, va, vb = stats.paired_values(records, a, b)
    assert pairs == [(0, 0), (1, 1), (3, 3)]
    assert paired_estimate(va, vb).mean == pytest.approx(-0.1)
    (v,) = stats.paired_verdicts(records, {"mse − cce": (a, b)}, family="init 1", delta=0.005)
    assert v.verdict == "lower" and v.n == 3 and v.family == "init 1"
    assert v.mean == pytest.approx(-0.1)
    lonely = [r for r in records if r["seed"] < 2 or r["loss"] == "cce"]
    lonely = [r for r in lonely if not (r["loss"] == "mse" and r["seed"] == 1)]
    with pytest.raises(ValueError, match="mse − cce"):
        stats.paired_verdicts(lonely, {"mse − cce": (a, b)}, family="f", delta=0.01)


def test_replicates_needed_by_hand():
    # s = 1: the smallest n ≥ 10 with t_{0.975, n−1}/√n ≤ δ.
    est = Estimate(mean=0.0, se=1 / math.sqrt(4), df=3, n=4)
    assert replicates_needed(est, 0.5) == 18  # t₁₇ = 2.1098: 2.1098/√18 = 0.497
    assert 2.1199 / math.sqrt(17) > 0.5  # n = 17 is not enough (t₁₆ = 2.1199)
    assert replicates_needed(est, 10.0) == 10  # never below n_min
    assert replicates_needed(est, 0.01) == 30  # capped
    assert replicates_needed(est, 0.01, cap=50) == 50
    with pytest.raises(ValueError, match="n_min"):
        replicates_needed(est, 0.5, n_min=1)


def test_family_line_names_size_correction_and_counts():
    est = {
        "a": paired_estimate([0.7, 0.68, 0.72], [0.88, 0.89, 0.87]),
        "b": mean_difference([0.3, -0.4, 0.2]),
    }
    line = family_line(decide(est, family="init 100", delta=0.005), scale=100, unit=" pp")
    assert line == (
        'Family "init 100": 2 comparisons, Holm-corrected at α = 0.05, equivalence margin '
        "±0.50 pp: 1 lower, 1 inconclusive."
    )
    mixed = decide({"a": est["a"]}, family="x", delta=0.1) + decide(est, family="y", delta=0.1)
    with pytest.raises(ValueError, match="one family"):
        family_line(mixed)
