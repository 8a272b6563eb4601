"""Comparing estimates (Welch-Satterthwaite) and screening desks with FDR control."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from survey.ikm import StratumStats, compare, estimate_desk, screen_desks


def test_two_desks_without_fpc_equal_welch_ttest(h) -> None:
    """Complete answers, no population: the IKM comparison is exactly
    scipy.stats.ttest_ind(equal_var=False) on respondents' mean scores (x 25)."""
    rng = np.random.default_rng(10)
    ya = h.random_scores(rng, 45)
    yb = h.random_scores(rng, 70, probs=(0.1, 0.2, 0.45, 0.25))
    cmp_ = compare(estimate_desk(h.stats(ya)), estimate_desk(h.stats(yb)))
    ref = sps.ttest_ind(25 * ya.mean(axis=1), 25 * yb.mean(axis=1), equal_var=False)
    assert cmp_.t == pytest.approx(ref.statistic, rel=1e-12)
    assert cmp_.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert cmp_.df == pytest.approx(ref.df, rel=1e-12)
    assert cmp_.diff == pytest.approx(25 * (ya.mean() - yb.mean()), rel=1e-12)
    low, high = ref.confidence_interval(0.95)
    assert cmp_.ci == pytest.approx((low, high), rel=1e-10)


def test_comparison_of_two_constant_desks_has_nothing_to_test() -> None:
    a = estimate_desk(StratumStats.from_scores(np.full((20, 9), 4)))
    b = estimate_desk(StratumStats.from_scores(np.full((30, 9), 3)))
    cmp_ = compare(a, b)
    assert cmp_.diff == pytest.approx(25.0) and cmp_.se == 0
    assert cmp_.t is None and cmp_.p_value is None and cmp_.ci is None


def test_fpc_narrows_the_comparison(h) -> None:
    rng = np.random.default_rng(11)
    sa, sb = h.stats(h.random_scores(rng, 80)), h.stats(h.random_scores(rng, 80))
    open_ = compare(estimate_desk(sa), estimate_desk(sb))
    census_like = compare(estimate_desk(sa, 100), estimate_desk(sb, 100))
    assert census_like.se < open_.se
    assert census_like.diff == pytest.approx(open_.diff)


def test_screening_flags_the_odd_desk_and_controls_fdr(h) -> None:
    rng = np.random.default_rng(12)
    normal = (0.05, 0.15, 0.5, 0.3)
    groups = {
        "DINAS": {f"d{i}": h.stats(h.random_scores(rng, 80, probs=normal)) for i in range(9)},
        "RSUD": {f"r{i}": h.stats(h.random_scores(rng, 60, probs=normal)) for i in range(4)},
    }
    groups["DINAS"]["bad"] = h.stats(h.random_scores(rng, 80, probs=(0.15, 0.3, 0.4, 0.15)))
    screens = screen_desks(groups)
    assert len(screens) == 14
    flagged = [(s.agency, s.desk, s.direction) for s in screens if s.flagged]
    assert flagged == [("DINAS", "bad", "below")]
    raw = np.array([s.comparison.p_value for s in screens])
    adjusted = sps.false_discovery_control(raw, method="bh")
    assert [s.p_adjusted for s in screens] == pytest.approx(adjusted.tolist(), rel=1e-12)
    assert [s.p_adjusted for s in screens] == sorted(s.p_adjusted for s in screens)
    assert all(s.p_adjusted >= s.comparison.p_value for s in screens)


def test_screening_homogeneous_agencies_flags_nothing(h) -> None:
    """Ten agencies of twenty desks, all from one distribution: raw p-values below 5%
    turn up by chance in most of them; the FDR-adjusted screen flags none."""
    raw_discoveries = 0
    for seed in range(15, 25):
        rng = np.random.default_rng(seed)
        desks = {f"d{i:02d}": h.stats(h.random_scores(rng, 50)) for i in range(20)}
        screens = screen_desks({"X": desks})
        raw_discoveries += min(s.comparison.p_value for s in screens) < 0.05
        assert not any(s.flagged for s in screens)
    assert raw_discoveries >= 5


def test_screening_compares_a_desk_with_the_rest_of_its_agency(h) -> None:
    rng = np.random.default_rng(13)
    desks = {d: h.stats(h.random_scores(rng, 50)) for d in ("a", "b", "c")}
    pops = {"a": 300, "b": 200, "c": 500}
    screens = {s.desk: s for s in screen_desks({"X": desks}, {"X": pops})}
    a = screens["a"]
    assert a.rest_estimate.n == 100 and a.rest_estimate.method == "stratified"
    assert a.rest_estimate.population == 700
    assert a.comparison.diff == pytest.approx(
        a.desk_estimate.ikm_converted - a.rest_estimate.ikm_converted)


def test_agencies_with_one_desk_are_not_screened(h) -> None:
    s = h.stats(h.random_scores(np.random.default_rng(1), 40))
    assert screen_desks({"X": {"only": s}}) == []


@pytest.mark.parametrize("seed", range(40))
def test_each_rest_equals_the_engine_run_on_the_remaining_desks(h, seed: int) -> None:
    """The O(desks) leave-one-out must give what estimating the agency again without the
    desk gives: point, SE, df, n, method and population, for stratified, pooled and mixed
    agencies (a rest turns stratified when the only desk without a population leaves),
    blanks, tiny desks, a desk with more respondents than its population, a census desk,
    every weight mode and both standards."""
    from survey.ikm import estimate_groups, get_standard

    rng = np.random.default_rng(1000 + seed)
    standard = get_standard(("permenpan-14-2017", "kepmenpan-25-2004")[seed % 2])
    weights = ("exact", "0.111", "0.11")[seed % 3]
    J = len(standard.elements)
    k = int(rng.integers(2, 9))
    desks, pops = {}, {}
    for i in range(k):
        n = int(rng.choice([1, 2, 5, 30, 120]))
        desks[f"d{i}"] = h.stats(h.random_scores(rng, n, J, blank_rate=0.1 * (i % 2)))
        kind = rng.integers(0, 5) if seed % 4 else 0  # every 4th agency: all known
        pops[f"d{i}"] = (None if kind == 1 and seed % 4 else
                         n if kind == 2 else max(n - 1, 0) if kind == 3 else n * 7)
    results = estimate_groups({"X": desks}, {"X": pops}, standard, weights)
    screens = {s.desk: s for s in screen_desks({"X": desks}, {"X": pops}, standard, weights,
                                               results=results)}
    estimable = sorted(results["X"].desks)
    if len(estimable) < 2:
        assert screens == {}
        return
    for desk in estimable:
        rest_desks = {d: desks[d] for d in estimable if d != desk}
        rest_pops = {d: pops[d] for d in rest_desks}
        expected = estimate_groups({"R": rest_desks}, {"R": rest_pops}, standard,
                                   weights)["R"].estimate
        if expected is None:
            assert desk not in screens
            continue
        got = screens[desk].rest_estimate
        assert (got.n, got.df, got.method, got.population, got.strata) == (
            expected.n, expected.df, expected.method, expected.population,
            len(rest_desks))
        assert got.ikm_converted == pytest.approx(expected.ikm_converted, rel=1e-12)
        assert got.se_converted == pytest.approx(expected.se_converted, rel=1e-9, abs=1e-12)
        assert screens[desk].desk_estimate == results["X"].desks[desk]


def test_screening_five_hundred_desks_is_linear(h) -> None:
    """A Mal Pelayanan Publik of 500 desks screens in one pass (the old way estimated
    500 groups of 499 strata); spot-check one rest against the engine."""
    from survey.ikm import estimate_groups

    rng = np.random.default_rng(77)
    desks = {f"d{i:03d}": h.stats(h.random_scores(rng, 20)) for i in range(500)}
    screens = screen_desks({"MPP": desks})
    assert len(screens) == 500
    rest = next(s for s in screens if s.desk == "d123").rest_estimate
    expected = estimate_groups({"R": {d: s for d, s in desks.items() if d != "d123"}})["R"]
    assert rest.ikm_converted == pytest.approx(expected.estimate.ikm_converted, rel=1e-12)
    assert rest.se_converted == pytest.approx(expected.estimate.se_converted, rel=1e-10)


# --- Members of a parent (the agencies of a Mal Pelayanan Publik) ----------------------


def _members(h, rng, spec, blank_rate=0.0):
    """{member: {desk: stats}} from {member: [(n, probs), ...]}."""
    return {m: {f"L{i + 1}": h.stats(h.random_scores(rng, n, probs=probs,
                                                     blank_rate=blank_rate))
                for i, (n, probs) in enumerate(desks)}
            for m, desks in spec.items()}


def _own_estimates(strata, pops=None, standard="permenpan-14-2017", weights="exact"):
    from survey.ikm import estimate_groups

    results = estimate_groups(strata, pops or {}, standard, weights)
    return {m: r.estimate for m, r in results.items() if r.estimate is not None}


def test_member_screen_flags_the_odd_agency_and_adjusts_with_bh(h) -> None:
    """Twelve agencies of an MPP with the very same answers and one clearly worse: only
    that one is a discovery, "below" the others; the alike ones sit a little above a rest
    that holds the worse one, not significantly. Adjusted p-values are scipy's
    Benjamini-Hochberg of the raw ones."""
    from survey.ikm import screen_members

    rng = np.random.default_rng(31)
    alike = [h.stats(h.random_scores(rng, 50)) for _ in range(2)]
    strata = {f"A{i:02d}": {"L1": alike[0], "L2": alike[1]} for i in range(12)}
    strata["WORSE"] = {f"L{j}": h.stats(h.random_scores(rng, 20, probs=(0.2, 0.35, 0.35,
                                                                         0.1)))
                       for j in (1, 2)}
    screens = screen_members(strata, _own_estimates(strata), parent="MPP")
    assert len(screens) == 13
    assert [(s.member, s.direction) for s in screens if s.flagged] == [("WORSE", "below")]
    assert screens[0].member == "WORSE" and screens[0].p_adjusted < 0.001
    others = screens[1:]
    assert all(s.comparison.diff > 0 and s.p_adjusted > 0.05 for s in others)
    assert [s.member for s in others] == sorted(s.member for s in others)  # ties: by code
    raw = np.array([s.comparison.p_value for s in screens])
    assert [s.p_adjusted for s in screens] == pytest.approx(
        sps.false_discovery_control(raw, method="bh").tolist(), rel=1e-12)


def test_member_screen_of_alike_agencies_flags_nothing(h) -> None:
    from survey.ikm import screen_members

    raw_discoveries = 0
    for seed in range(40, 50):
        rng = np.random.default_rng(seed)
        strata = _members(h, rng, {f"A{i:02d}": [(40, (0.05, 0.15, 0.5, 0.3))] * 2
                                   for i in range(15)})
        screens = screen_members(strata, _own_estimates(strata))
        raw = np.array([s.comparison.p_value for s in screens])
        raw_discoveries += raw.min() < 0.05
        assert not any(s.flagged for s in screens)
        assert [s.p_adjusted for s in screens] == pytest.approx(
            sps.false_discovery_control(raw, method="bh").tolist(), rel=1e-12)
    assert raw_discoveries >= 3


@pytest.mark.parametrize("seed", range(24))
def test_each_member_rest_equals_the_engine_run_on_the_other_members(h, seed: int) -> None:
    """A member's rest is exactly the engine run on all the other members' desks as one
    agency: stratified when all of them have a population, pooled otherwise (including
    when only the member leaving out lacked one), blanks, both standards, all weights."""
    from survey.ikm import estimate_groups, get_standard, screen_members

    rng = np.random.default_rng(2000 + seed)
    standard = get_standard(("permenpan-14-2017", "kepmenpan-25-2004")[seed % 2])
    weights = ("exact", "0.111", "0.11")[seed % 3]
    J = len(standard.elements)
    strata, pops = {}, {}
    for m in range(int(rng.integers(2, 6))):
        member = f"M{m}"
        strata[member], pops[member] = {}, {}
        for d in range(int(rng.integers(1, 4))):
            n = int(rng.choice([2, 12, 40, 90]))
            strata[member][f"L{d}"] = h.stats(h.random_scores(rng, n, J, blank_rate=0.05))
            kind = int(rng.integers(0, 4)) if seed % 3 else 0
            pops[member][f"L{d}"] = None if kind == 1 else n * int(rng.integers(2, 20))
    estimates = _own_estimates(strata, pops, standard, weights)
    screens = {s.member: s for s in screen_members(strata, estimates, pops, standard,
                                                   weights)}
    assert set(screens) <= set(estimates)
    for member, screen in screens.items():
        others = {f"{m}/{d}": s for m in estimates if m != member
                  for d, s in strata[m].items()}
        other_pops = {f"{m}/{d}": p for m in estimates if m != member
                      for d, p in pops[m].items()}
        expected = estimate_groups({"R": others}, {"R": other_pops}, standard,
                                   weights)["R"].estimate
        got = screen.rest_estimate
        assert (got.n, got.df, got.method, got.population, got.strata) == (
            expected.n, expected.df, expected.method, expected.population, len(others))
        assert got.ikm_converted == pytest.approx(expected.ikm_converted, rel=1e-12)
        assert got.se_converted == pytest.approx(expected.se_converted, rel=1e-9)
        assert screen.member_estimate == estimates[member]
        direct = compare(estimates[member], expected)
        assert screen.comparison.diff == pytest.approx(direct.diff, rel=1e-12)
        assert screen.comparison.p_value == pytest.approx(direct.p_value, rel=1e-6)


def test_members_without_an_estimate_take_no_part(h) -> None:
    from survey.ikm import screen_members

    rng = np.random.default_rng(5)
    strata = _members(h, rng, {"A": [(30, (0.05, 0.15, 0.5, 0.3))],
                               "B": [(30, (0.05, 0.15, 0.5, 0.3))],
                               "C": [(30, (0.05, 0.15, 0.5, 0.3))]})
    estimates = _own_estimates(strata)
    only_two = {m: e for m, e in estimates.items() if m != "C"}
    screens = {s.member: s for s in screen_members(strata, only_two)}
    assert set(screens) == {"A", "B"}
    assert screens["A"].rest_estimate.n == 30  # B only: C is in no one's rest
    assert screen_members(strata, {"A": estimates["A"]}) == []
