"""The published interval (revision 2: Clopper-Pearson on an effective sample size) with
its dispersion pools and leave-one-out priors, the t interval, and grade probabilities:
properties a reader of the dashboard relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.ikm import StratumStats, estimate_desk, estimate_group, estimate_groups


@st.composite
def desks(draw: st.DrawFn) -> tuple[StratumStats, int | None]:
    n = draw(st.integers(1, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["mixed", "ceiling", "floor", "blanks"]))
    if kind == "ceiling":
        y = np.full((n, 9), 4)
        y[rng.random((n, 9)) < draw(st.sampled_from([0.0, 0.02, 0.1]))] = 3
    elif kind == "floor":
        y = np.full((n, 9), 1)
        y[rng.random((n, 9)) < 0.05] = 2
    else:
        y = rng.choice([1, 2, 3, 4], size=(n, 9), p=rng.dirichlet(np.ones(4)))
        if kind == "blanks":
            y[rng.random((n, 9)) < 0.2] = 0
            y[0] = np.where(y[0] == 0, 3, y[0])  # every element answered at least once
    pop = draw(st.one_of(st.none(), st.integers(n, 5 * n + 50), st.just(n)))
    return StratumStats.from_scores(y), pop


def _inside(est) -> None:
    rows = [(est.ikm_converted, est.ci)] + [(e.nrr_converted, e.ci) for e in est.elements]
    for value, (lo, hi) in rows:
        assert 25.0 <= lo <= hi <= 100.0
        assert lo <= value <= hi


@settings(max_examples=150, deadline=None)
@given(desks())
def test_published_interval_stays_on_the_scale_and_contains_the_estimate(desk) -> None:
    s, pop = desk
    _inside(estimate_desk(s, pop))


@settings(max_examples=60, deadline=None)
@given(st.lists(desks(), min_size=2, max_size=6))
def test_agency_interval_stays_on_the_scale_and_contains_the_estimate(items) -> None:
    group = estimate_group({f"d{i}": s for i, (s, _) in enumerate(items)},
                           {f"d{i}": p for i, (_, p) in enumerate(items)})
    for est in group.estimates():
        _inside(est)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.one_of(st.none(), st.integers(0, 2000)))
def test_all_fours_interval_is_never_empty_unless_census(n: int, extra: int | None) -> None:
    """The t interval collapses to a point at the ceiling; the published one must not,
    except for a census, where there is nothing left to estimate."""
    pop = None if extra is None else n + extra
    est = estimate_desk(StratumStats.from_scores(np.full((n, 9), 4)), pop)
    assert est.se == 0 and est.ci_t is None
    if pop == n:
        assert est.ci == (100.0, 100.0)
    else:
        assert est.ci[0] < est.ci[1] == 100.0
        assert all(e.ci[0] < 100.0 for e in est.elements)


def test_all_fours_agency_of_several_desks_falls_back_to_the_shrunk_form() -> None:
    full = {d: StratumStats.from_scores(np.full((n, 9), 4)) for d, n in (("a", 40), ("b", 8))}
    group = estimate_group(full, {"a": 500, "b": 100})
    assert group.estimate.se == 0
    assert group.estimate.ci[0] < 100.0
    census = estimate_group(full, {"a": 40, "b": 8})
    assert census.estimate.ci == (100.0, 100.0)
    assert census.estimate.grade_probabilities == {"D": 0.0, "C": 0.0, "B": 0.0, "A": 1.0}
    assert census.estimate.confident_grade == "A"


def test_t_interval_is_not_clipped_at_the_ceiling() -> None:
    y = np.full((20, 9), 4)
    y[0, 0] = 3
    y[5, 6] = 3
    est = estimate_desk(StratumStats.from_scores(y), 300)
    assert est.ci_t[1] > 100.0
    assert est.ci[1] <= 100.0


def test_published_interval_converges_to_the_t_interval(h) -> None:
    rng = np.random.default_rng(4)
    est = estimate_desk(h.stats(h.random_scores(rng, 20000)))
    half_t = (est.ci_t[1] - est.ci_t[0]) / 2
    assert abs(est.ci[0] - est.ci_t[0]) < 0.01 * half_t
    assert abs(est.ci[1] - est.ci_t[1]) < 0.01 * half_t


def test_higher_confidence_widens_both_intervals(h) -> None:
    s = h.stats(h.random_scores(np.random.default_rng(8), 60))
    narrow, wide = estimate_desk(s, confidence=0.90), estimate_desk(s, confidence=0.99)
    assert wide.ci[0] < narrow.ci[0] and wide.ci[1] > narrow.ci[1]
    assert wide.ci_t[0] < narrow.ci_t[0] and wide.ci_t[1] > narrow.ci_t[1]
    assert wide.confidence == 0.99
    assert wide.grade_probabilities == narrow.grade_probabilities


def test_phi_pool_defaults_to_a_quarter_without_large_desks(h) -> None:
    rng = np.random.default_rng(1)
    group = estimate_group({"a": h.stats(h.random_scores(rng, 29)),
                            "b": h.stats(h.random_scores(rng, 12))})
    assert group.phi_pool == 0.25
    assert group.element_phi_pool == (0.25,) * 9


def test_phi_pool_ignores_small_and_census_desks(h) -> None:
    """Only desks with n >= 30 and f < 1 inform phi_pool: adding a small desk or a census
    desk to an agency leaves it unchanged."""
    rng = np.random.default_rng(2)
    big = {"a": h.stats(h.random_scores(rng, 60)), "b": h.stats(h.random_scores(rng, 45))}
    base = estimate_group(big).phi_pool
    small = estimate_group({**big, "c": h.stats(h.random_scores(rng, 29))}).phi_pool
    census = estimate_group({**big, "d": h.stats(h.random_scores(rng, 80))},
                            {"a": None, "b": None, "d": 80}).phi_pool
    assert small == pytest.approx(base, rel=1e-14)
    assert census == pytest.approx(base, rel=1e-14)
    assert base != 0.25


def test_phi_pool_has_a_floor(h) -> None:
    y = np.full((200, 9), 4)
    y[0, 0] = 3
    group = estimate_group({"a": h.stats(y)})
    assert group.phi_pool == 0.05


def test_element_phi_pool_is_per_element() -> None:
    """An element everyone rates 4 (e.g. a free service, U4 'Gratis') has no dispersion
    to pool (0/0): it keeps the default, while the others are pooled from the data."""
    rng = np.random.default_rng(3)
    y = rng.choice([1, 2, 3, 4], size=(100, 9), p=[0.1, 0.2, 0.4, 0.3])
    y[:, 3] = 4
    group = estimate_group({"a": StratumStats.from_scores(y)})
    assert group.element_phi_pool[3] == 0.25
    assert all(0.05 <= p < 1 for p in group.element_phi_pool)
    assert len(set(group.element_phi_pool)) > 2


def test_desk_drill_down_matches_the_agency_view(h) -> None:
    rng = np.random.default_rng(12)
    desks = {d: h.stats(h.random_scores(rng, n, blank_rate=0.1))
             for d, n in (("a", 70), ("b", 35), ("c", 12))}
    pops = {"a": 900, "b": 200, "c": 40}
    group = estimate_group(desks, pops, agency="DINAS")
    for d in desks:
        alone = estimate_desk(desks[d], pops[d], prior=group.desk_priors[d], agency="DINAS",
                              desk=d)
        assert alone == group.desks[d]
    # Without the agency's prior the small desk is judged by the default dispersion.
    assert estimate_desk(desks["c"], 40).ci != group.desks["c"].ci


def test_grade_probabilities_sum_to_one_and_mark_confident_grades(h) -> None:
    rng = np.random.default_rng(6)
    for n in (10, 50, 400):
        est = estimate_desk(h.stats(h.random_scores(rng, n)))
        probs = est.grade_probabilities
        assert probs is not None and set(probs) == {"A", "B", "C", "D"}
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-12)
        best = max(probs, key=probs.get)
        assert est.confident_grade == (best if probs[best] >= 0.95 else None)


def test_no_grade_below_ten_respondents_but_an_interval(h) -> None:
    est = estimate_desk(h.stats(h.random_scores(np.random.default_rng(0), 9)))
    assert est.grade is None and est.grade_label is None
    assert est.grade_probabilities is None and est.confident_grade is None
    assert est.ci_t is not None and est.ci[0] < est.ikm_converted < est.ci[1]


def test_batch_equals_one_agency_at_a_time(h) -> None:
    rng = np.random.default_rng(21)
    groups = {a: {d: h.stats(h.random_scores(rng, int(rng.integers(5, 60)), blank_rate=0.05))
                  for d in ("x", "y", "z")} for a in ("A1", "A2", "A3")}
    pops = {"A1": {"x": 100, "y": 200, "z": 300}, "A2": {"x": 500}, "A3": {}}
    batch = estimate_groups(groups, pops)
    for agency in groups:
        alone = estimate_group(groups[agency], pops[agency], agency=agency)
        assert batch[agency] == alone
    assert batch["A1"].method == "stratified"
    assert batch["A2"].method == batch["A3"].method == "pooled"


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_confidence_must_be_a_probability(h, confidence: float) -> None:
    with pytest.raises(ValueError):
        estimate_desk(h.stats([[4] * 9]), confidence=confidence)


def test_interval_form_depends_on_the_number_of_strata(h) -> None:
    """An estimate over H >= 2 strata uses n* = (m-1)(4-m)/V (its V already holds the
    weighting) times the Korn-Graubard factor (t(n-1)/t(n-H))^2, not the shrunk
    one-stratum form; the interval is Clopper-Pearson on n* (checked with scipy.stats)."""
    from scipy.stats import beta, t

    rng = np.random.default_rng(30)
    group = estimate_group({"a": h.stats(h.random_scores(rng, 40)),
                            "b": h.stats(h.random_scores(rng, 40))})
    assert group.estimate is not None
    est = group.estimate
    m, var, n = est.ikm, est.se ** 2, est.n
    nstar = (m - 1) * (4 - m) / var * (t.ppf(0.975, n - 1) / t.ppf(0.975, n - 2)) ** 2
    x = (m - 1) / 3 * nstar
    assert est.ci[0] == pytest.approx(25 * (1 + 3 * beta.ppf(0.025, x, nstar - x + 1)),
                                      rel=1e-12)
    assert est.ci[1] == pytest.approx(25 * (1 + 3 * beta.ppf(0.975, x + 1, nstar - x)),
                                      rel=1e-12)


def _one_stratum_ci(m: float, var: float, n: int, f: float, prior: float) -> tuple[float, ...]:
    """Revision 2's one-stratum form written out with scipy.stats (k = 30), converted."""
    from scipy.stats import beta

    g = (m - 1) * (4 - m)
    phi_hat = var * n / ((1 - f) * g) if var > 0 and g > 0 else 0.0
    phi = ((n - 1) * phi_hat + 30 * prior) / (n - 1 + 30)
    nstar = n / ((1 - f) * phi)
    x = (m - 1) / 3 * nstar
    low = beta.ppf(0.025, x, nstar - x + 1) if x > 0 else 0.0
    high = beta.ppf(0.975, x + 1, nstar - x) if x < nstar else 1.0
    return 25 * min(1 + 3 * low, m), 25 * max(1 + 3 * high, m)


def test_a_desk_shrinks_towards_the_other_desks_never_towards_itself(h) -> None:
    """Leave-one-out: desk a's prior is the dispersion of desk b alone (and b's of a); a
    desk whose own sample shows little spread does not pull its interval narrower."""
    rng = np.random.default_rng(44)
    a = h.stats(h.random_scores(rng, 60, probs=(0.0, 0.02, 0.08, 0.9)))   # little spread
    b = h.stats(h.random_scores(rng, 80, probs=(0.1, 0.2, 0.4, 0.3)))     # a lot
    group = estimate_group({"a": a, "b": b}, {"a": 600, "b": 800})
    for desk, other, pop_other in (("a", "b", 800), ("b", "a", 600)):
        est_other = group.desks[other]
        n_o, m_o = est_other.n, est_other.ikm
        s2 = est_other.se ** 2 * n_o / (1 - n_o / pop_other)
        expected_prior = max((n_o - 1) * s2 / ((n_o - 1) * (m_o - 1) * (4 - m_o)), 0.05)
        assert group.desk_priors[desk][0] == pytest.approx(expected_prior, rel=1e-12)
        est = group.desks[desk]
        ci = _one_stratum_ci(est.ikm, est.se ** 2, est.n, est.n / (600 if desk == "a" else 800),
                             expected_prior)
        assert est.ci == pytest.approx(ci, rel=1e-12)
    # The agency's own pool covers both desks and is what results report.
    assert group.desk_priors["a"][0] != group.phi_pool != group.desk_priors["b"][0]


def test_a_lone_desk_uses_the_default_prior_whatever_its_own_spread(h) -> None:
    rng = np.random.default_rng(45)
    for probs in ((0.0, 0.0, 0.05, 0.95), (0.25, 0.25, 0.25, 0.25)):
        s = h.stats(h.random_scores(rng, 50, probs=probs))
        group = estimate_group({"only": s})
        assert group.desk_priors["only"][0] == 0.25
        est = group.estimate
        assert est.ci == group.desks["only"].ci  # an agency of one desk is that desk
        assert est.ci == pytest.approx(_one_stratum_ci(est.ikm, est.se ** 2, est.n, 0.0,
                                                       0.25), rel=1e-12)


def test_all_fours_still_get_an_interval_below_100(h) -> None:
    """The t interval collapses when every answer is 4 (SE 0); the published one does not,
    and it narrows as n grows."""
    widths = []
    for n in (5, 30, 200):
        est = estimate_desk(h.stats(np.full((n, 9), 4)))
        assert est.ci_t is None and est.ci[1] == 100.0 and est.ci[0] < 100.0
        widths.append(100.0 - est.ci[0])
    assert widths[0] > widths[1] > widths[2] > 0
