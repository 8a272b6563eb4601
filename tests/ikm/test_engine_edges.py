"""What the engine does with awkward data: single respondents, impossible populations,
unanswered elements, empty desks, pooling. Pytest turns every warning into an error, so
these also prove there is no silent division by zero."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from survey.ikm import (
    StratumStats,
    estimate_desk,
    estimate_group,
    estimate_groups,
    to_json_dict,
)


def test_single_respondent_desk_is_reported_and_adds_no_variance(h) -> None:
    rng = np.random.default_rng(1)
    a = h.stats(h.random_scores(rng, 30))
    one = h.stats(h.random_scores(rng, 1))
    group = estimate_group({"a": a, "solo": one}, {"a": 300, "solo": 20})
    est = group.estimate
    assert est.single_respondent_strata == ("solo",)
    assert est.df == 31 - 2
    assert est.se > 0
    solo = group.desks["solo"]
    assert solo.se == 0 and solo.ci_t is None and solo.df == 0
    assert solo.single_respondent_strata == ("solo",)
    assert solo.ci[0] <= solo.ikm_converted <= solo.ci[1] and solo.ci[0] < solo.ci[1]


def test_more_respondents_than_population_is_flagged_not_clamped(h) -> None:
    s = h.stats(h.random_scores(np.random.default_rng(2), 50))
    est = estimate_desk(s, population=40, desk="L1")
    assert len(est.data_errors) == 1
    assert "50 respondents exceed its population of 40" in est.data_errors[0]
    # No finite population correction is taken (f would be above 1): the conservative SE.
    assert est.se == estimate_desk(s).se
    assert est.population == 40 and est.sample_adequate is True
    group = estimate_group({"L1": s, "L2": s}, {"L1": 40, "L2": 100})
    assert group.estimate.data_errors == est.data_errors
    assert group.estimate.method == "stratified"


def test_element_nobody_answered_makes_only_that_desk_not_estimable(h) -> None:
    rng = np.random.default_rng(3)
    y = h.random_scores(rng, 25)
    y[:, 8] = 0  # desk C: U9 left blank by everyone
    group = estimate_group({"A": h.stats(h.random_scores(rng, 40)), "C": h.stats(y)},
                           {"A": 400, "C": 100})
    assert "C" not in group.desks
    assert group.not_estimable == {"C": "nobody answered U9"}
    est = group.estimate
    assert est is not None and est.strata == 2 and est.n == 65
    assert est.element("U9").n == 40
    with pytest.raises(ValueError, match="nobody answered U9"):
        estimate_desk(h.stats(y))


def test_desk_without_respondents_is_listed_and_its_population_counted(h) -> None:
    rng = np.random.default_rng(4)
    group = estimate_group({"A": h.stats(h.random_scores(rng, 40)),
                            "B": StratumStats.zeros(9)}, {"A": 400, "B": 250})
    assert group.not_estimable == {"B": "no respondents"}
    est = group.estimate
    assert est.population == 650 and est.strata == 1
    assert any("desk B" in e and "does not cover" in e for e in est.data_errors)
    rows = to_json_dict(group)["results"]
    assert [(r["desk"], r.get("not_estimable")) for r in rows] == [
        (None, None), ("A", None), ("B", "no respondents")]


def test_agency_without_any_respondent_has_no_estimate() -> None:
    group = estimate_group({"A": StratumStats.zeros(9)}, {"A": 10}, agency="X")
    assert group.estimate is None and group.desks == {}
    assert group.not_estimable == {None: "no respondents", "A": "no respondents"}
    assert json.dumps(to_json_dict(group), allow_nan=False)


def test_pooled_when_any_population_is_unknown(h) -> None:
    rng = np.random.default_rng(5)
    desks = {"A": h.stats(h.random_scores(rng, 60)), "B": h.stats(h.random_scores(rng, 20))}
    pooled = estimate_group(desks, {"A": 1000})
    assert pooled.method == "pooled" and pooled.estimate.method == "pooled"
    assert pooled.estimate.population is None and pooled.estimate.required_sample is None
    # Pooling weights every respondent equally: the plain mean of all respondents.
    both = sum(desks.values())
    assert pooled.estimate.ikm == pytest.approx(estimate_desk(both).ikm, rel=1e-14)
    # A desk keeps its own population (finite population correction, target sample).
    assert pooled.desks["A"].required_sample == 278
    assert pooled.desks["A"].se < estimate_desk(desks["A"]).se
    stratified = estimate_group(desks, {"A": 1000, "B": 1000})
    assert stratified.method == "stratified"
    assert stratified.estimate.ikm != pytest.approx(pooled.estimate.ikm, rel=1e-9)


def test_stratified_weights_follow_populations_not_sample_sizes() -> None:
    """Over-sampling a desk must not move the agency index (it does under pooling)."""
    good = StratumStats.from_scores(np.tile([4, 4, 4, 4, 3, 4, 4, 4, 4], (90, 1)))
    poor = StratumStats.from_scores(np.tile([2, 3, 2, 3, 2, 3, 2, 3, 2], (10, 1)))
    est = estimate_group({"good": good, "poor": poor}, {"good": 100, "poor": 100}).estimate
    assert est.ikm == pytest.approx((good.totals.sum() / 90 + poor.totals.sum() / 10) / 18,
                                    rel=1e-14)


def test_statistics_of_another_standard_are_refused(h) -> None:
    s = StratumStats.from_scores(np.full((5, 14), 3))
    with pytest.raises(ValueError, match="14 elements"):
        estimate_group({"A": s})
    assert estimate_group({"A": s}, standard="kepmenpan-25-2004").estimate.ikm == 3.0


@pytest.mark.parametrize("population", [-1, 2.5, "10", True])
def test_population_must_be_a_non_negative_int(h, population) -> None:
    with pytest.raises((ValueError, TypeError)):
        estimate_desk(h.stats([[3] * 9]), population)


def test_results_are_frozen_and_picklable(h) -> None:
    group = estimate_group({"A": h.stats(h.random_scores(np.random.default_rng(6), 30))})
    est = group.estimate
    with pytest.raises(AttributeError):
        est.ikm = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        est.elements[0].nrr = 1.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(group)) == group


def test_json_rows_have_the_golden_shape(h) -> None:
    rng = np.random.default_rng(7)
    results = estimate_groups({"B": {"y": h.stats(h.random_scores(rng, 20))},
                               "A": {"x": h.stats(h.random_scores(rng, 12)),
                                     "w": h.stats(h.random_scores(rng, 15))}})
    doc = to_json_dict(results.values())
    assert [(r["agency"], r["desk"]) for r in doc["results"]] == [
        ("A", None), ("A", "w"), ("A", "x"), ("B", None), ("B", "y")]
    agency_row, desk_row = doc["results"][0], doc["results"][1]
    base = {"agency", "desk", "n", "population", "ikm", "ikm_converted", "grade",
            "grade_label", "se_converted", "df", "ci", "ci_t", "grade_probabilities",
            "required_sample", "sample_adequate", "elements", "phi_pool",
            "single_respondent_strata", "data_errors"}
    assert base | {"method"} <= set(agency_row)
    assert base <= set(desk_row) and "method" not in desk_row
    assert set(agency_row["elements"][0]) >= {"code", "n", "nrr", "nrr_converted",
                                              "se_converted", "ci"}
    assert doc["standard"] == "permenpan-14-2017" and doc["weights"] == "exact"
    json.dumps(doc, allow_nan=False)


def test_agency_estimates_without_desk_results_are_the_same_numbers(h) -> None:
    """desks=False (the dashboard's variants, trend and child agencies) builds no desk
    Estimate, and each agency's estimate equals the full run's, field by field."""
    rng = np.random.default_rng(17)
    groups = {
        "A": {f"L{i}": h.stats(h.random_scores(rng, 5 + 7 * i)) for i in range(6)},
        "B": {"solo": h.stats(h.random_scores(rng, 1)), "L1": h.stats(h.random_scores(rng, 40))},
        "C": {"L1": h.stats(h.random_scores(rng, 12))},
    }
    groups["A"]["blank"] = h.stats(np.zeros((0, 9), dtype=np.int8))
    pops = {"A": {f"L{i}": 200 + i for i in range(6)}, "B": {"solo": 5, "L1": 300}, "C": {}}
    full = estimate_groups(groups, pops)
    lean = estimate_groups(groups, pops, desks=False)
    assert lean.keys() == full.keys()
    for agency, result in full.items():
        assert result.desks and lean[agency].desks == {}
        assert lean[agency].estimate == result.estimate
        assert lean[agency].method == result.method
        assert lean[agency].phi_pool == result.phi_pool
