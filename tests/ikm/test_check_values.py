"""The check values of statistics.md, and the textbook identities behind them."""

from __future__ import annotations

import numpy as np
import pytest

from survey.ikm import (
    PERMENPAN_2017,
    StratumStats,
    estimate_desk,
    estimate_group,
    grade_probabilities,
)


def test_fpc_shrinks_se_by_sqrt_of_one_minus_f(h) -> None:
    """One unit, complete answers, n = 100, N = 500: SE with fpc = SE without x sqrt(0.8)."""
    s = h.stats(h.random_scores(np.random.default_rng(1), 100))
    with_fpc = estimate_desk(s, population=500)
    without = estimate_desk(s)
    assert with_fpc.se / without.se == pytest.approx(np.sqrt(0.8), rel=1e-12)
    assert with_fpc.ikm == without.ikm
    for a, b in zip(with_fpc.elements, without.elements, strict=True):
        assert a.se / b.se == pytest.approx(np.sqrt(0.8), rel=1e-12)


def test_three_desk_stratified_estimate_is_the_textbook_formula(h) -> None:
    """N_h = (2000, 500, 120), n_h = (300, 150, 40), complete answers: the point is
    sum W_h ybar_h and the SE sqrt(sum W_h^2 (1 - f_h) s_h^2 / n_h), to machine precision,
    with y the respondent's mean score."""
    rng = np.random.default_rng(7)
    big_n, small_n = (2000, 500, 120), (300, 150, 40)
    probs = [(0.05, 0.15, 0.5, 0.3), (0.02, 0.08, 0.4, 0.5), (0.1, 0.3, 0.4, 0.2)]
    rows = [h.random_scores(rng, n, probs=p) for n, p in zip(small_n, probs, strict=True)]
    group = estimate_group({f"d{i}": h.stats(y) for i, y in enumerate(rows)},
                           {f"d{i}": big for i, big in enumerate(big_n)})
    est = group.estimate
    assert est.method == "stratified" and est.strata == 3 and est.df == 490 - 3
    total = sum(big_n)
    point = sum(big / total * y.mean(axis=1).mean() for big, y in zip(big_n, rows,
                                                                      strict=True))
    var = sum((big / total) ** 2 * (1 - n / big) * y.mean(axis=1).var(ddof=1) / n
              for big, n, y in zip(big_n, small_n, rows, strict=True))
    assert est.ikm == pytest.approx(point, rel=1e-13)
    assert est.se == pytest.approx(np.sqrt(var), rel=1e-12)
    assert est.population == total


def test_grade_probability_example() -> None:
    """IKM 77.11, SE 1.45, df 99 -> P(C) = 0.364, P(B) = 0.636."""
    p = grade_probabilities(77.11, 1.45, 99, PERMENPAN_2017)
    assert list(p) == ["D", "C", "B", "A"]
    assert round(p["C"], 3) == 0.364
    assert round(p["B"], 3) == 0.636
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-12)


def test_grade_probabilities_are_truncated_to_the_scale() -> None:
    """At the ceiling the t density above 100 is cut off, not piled into grade A: the
    mass is renormalised inside [25, 100]."""
    from scipy.stats import t

    p = grade_probabilities(99.0, 3.0, 20, PERMENPAN_2017)
    dist = t(20, loc=99.0, scale=3.0)
    inside = dist.cdf(100) - dist.cdf(25)
    assert inside < 0.7  # a third of the untruncated mass lies above 100
    assert p["A"] == pytest.approx((dist.cdf(100) - dist.cdf(88.305)) / inside, rel=1e-12)
    assert p["B"] == pytest.approx((dist.cdf(88.305) - dist.cdf(76.605)) / inside, rel=1e-9)
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-12)


def test_covariances_between_elements_are_not_dropped(h) -> None:
    """Answers to different elements move together; summing element variances alone
    understates SE(IKM). The engine's SE equals the SE of respondents' mean scores."""
    rng = np.random.default_rng(3)
    mood = rng.choice([2, 3, 4], size=200, p=[0.2, 0.5, 0.3])
    y = np.clip(mood[:, None] + rng.choice([-1, 0, 0, 0, 1], size=(200, 9)), 1, 4)
    est = estimate_desk(h.stats(y))
    naive = np.sqrt(sum((e.se / 9) ** 2 for e in est.elements))
    assert est.se > 2 * naive
    assert est.se == pytest.approx(y.mean(axis=1).std(ddof=1) / np.sqrt(200), rel=1e-12)


def test_sufficient_statistics_do_not_lose_precision_at_the_ceiling() -> None:
    """A million respondents, one of whom answered 3 on one element: the variance comes
    from exact integer brackets (n Q - S^2), not from the difference of large floats."""
    n = 1_000_000
    cnt = np.full((9, 9), n)
    sy = np.full((9, 9), 4 * n)
    syy = np.full((9, 9), 16 * n)
    sy[0, :] -= 1          # the 3 on U1, seen from every pair that includes U1
    syy[0, :] -= 4
    syy[:, 0] -= 4
    syy[0, 0] = 16 * n - 7
    s = StratumStats(n, cnt, sy, syy)
    est = estimate_desk(s)
    r = (4 * n - 1) / n
    ss = (n - 1) * (4 - r) ** 2 + (3 - r) ** 2      # sum of squared deviations of U1
    expected = np.sqrt(ss / (n - 1) / n) / 9
    assert est.se == pytest.approx(expected, rel=1e-9)
    assert est.element("U2").se == 0.0
