"""The regulation's arithmetic: golden cases G1-G4 of ikm-standard.md section 6 in every
weight mode, grade bands at their edges, and the Krejcie-Morgan table."""

from __future__ import annotations

import numpy as np
import pytest

from survey.ikm import (
    KEPMENPAN_2004,
    PERMENPAN_2017,
    StratumStats,
    estimate_desk,
    estimate_group,
    krejcie_morgan,
)
from survey.ikm.standards import display_decimal


def shown(value: float) -> str:
    """What a report prints: half-up to two decimals."""
    return str(display_decimal(value, 2))


def g1_scores() -> np.ndarray:
    """29 respondents, every element answered, element totals 105, 101, 100, 116, 102, 105,
    106, 105, 115 (each column: some 4s, the rest 3s)."""
    totals = [105, 101, 100, 116, 102, 105, 106, 105, 115]
    cols = []
    for t in totals:
        fours = t - 3 * 29
        cols.append([4] * fours + [3] * (29 - fours))
    y = np.array(cols).T
    assert y.sum(axis=0).tolist() == totals
    return y


G3 = np.array([
    [4, 4, 3, 4, 4, 4, 4, 3, 4],
    [3, 3, 3, 4, 3, 3, 4, 3, 3],
    [4, 3, 2, 4, 3, 4, 4, 3, 3],
    [3, 3, 3, 4, 3, 3, 3, 2, 2],
    [4, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 2, 2, 4, 3, 3, 3, 3, 3],
    [2, 3, 3, 4, 3, 3, 4, 3, 1],
    [4, 4, 3, 4, 4, 4, 4, 3, 3],
    [3, 3, 2, 4, 3, 3, 3, 3, 3],
    [3, 3, 3, 4, 3, 3, 3, 2, 2],
])


@pytest.mark.parametrize(("mode", "printed", "grade"),
                         [("exact", "91.48", "A"), ("0.111", "91.38", "A"),
                          ("0.11", "90.56", "A")])
def test_g1_every_weight_mode(mode: str, printed: str, grade: str) -> None:
    est = estimate_desk(StratumStats.from_scores(g1_scores()), weights=mode)
    assert shown(est.ikm_converted) == printed
    assert est.grade == grade
    assert est.weights == mode


def test_g2_single_respondent_all_fours() -> None:
    """The arithmetic gives exactly 100.00 (grade A by the bands), but statistics.md
    withholds a grade below 10 respondents; the interval is still shown and one
    respondent contributes no variance (reported, not divided by zero)."""
    est = estimate_desk(StratumStats.from_scores([[4] * 9]), desk="D")
    assert est.ikm_converted == 100.0
    assert PERMENPAN_2017.grade(est.ikm_converted).grade == "A"
    assert est.grade is None and est.grade_probabilities is None
    assert est.se == 0 and est.ci_t is None and est.df == 0
    assert est.single_respondent_strata == ("D",)
    assert est.ci[1] == 100.0 and est.ci[0] < 100.0


@pytest.mark.parametrize(("mode", "printed"), [("exact", "81.39"), ("0.111", "81.31"),
                                               ("0.11", "80.58")])
def test_g3_every_weight_mode(mode: str, printed: str) -> None:
    est = estimate_desk(StratumStats.from_scores(G3), weights=mode)
    assert [round(e.nrr, 10) for e in est.elements] == [3.3, 3.2, 2.8, 4.0, 3.3, 3.4, 3.6,
                                                        2.9, 2.8]
    assert shown(est.ikm_converted) == printed
    assert est.grade == "B"


def test_g3_lowest_elements_for_the_follow_up_plan() -> None:
    est = estimate_desk(StratumStats.from_scores(G3))
    assert [e.code for e in est.lowest_elements(3)] == ["U3", "U9", "U8"]


def test_g3_blanks_leave_the_denominator() -> None:
    y = G3.copy()
    y[2, 3] = 0  # row 3 leaves U4 blank
    y[6, 8] = 0  # row 7 leaves U9 blank
    est = estimate_desk(StratumStats.from_scores(y))
    assert est.element("U4").nrr == pytest.approx(4.0, abs=1e-12)
    assert est.element("U4").n == 9
    assert est.element("U9").nrr == pytest.approx(3.0, abs=1e-12)
    assert est.n == 10
    assert shown(est.ikm_converted) == "81.94"
    assert est.grade == "B"


@pytest.mark.parametrize(("mode", "printed", "grade"),
                         [("exact", "88.38", "A"), ("0.111", "88.29", "B"),
                          ("0.11", "87.49", "B")])
def test_g4_every_weight_mode(mode: str, printed: str, grade: str) -> None:
    column = np.array([4] * 107 + [3] * 93)
    y = np.tile(column[:, None], (1, 9))
    est = estimate_desk(StratumStats.from_scores(y), weights=mode)
    if mode == "exact":
        assert est.ikm_converted == pytest.approx(88.375, abs=1e-12)
    assert shown(est.ikm_converted) == printed
    assert est.grade == grade


def test_all_fours_give_exactly_one_hundred_in_exact_mode() -> None:
    group = estimate_group({"a": StratumStats.from_scores(np.full((40, 9), 4)),
                            "b": StratumStats.from_scores(np.full((15, 9), 4))},
                           {"a": 100, "b": 60})
    for est in group.estimates():
        assert est.ikm == 4.0 and est.ikm_converted == 100.0
        assert shown(est.ikm_converted) == "100.00"


@pytest.mark.parametrize(("value", "grade"), [
    (88.305, "A"), (88.30, "B"), (88.31, "A"), (76.605, "B"), (76.60, "C"),
    (64.995, "C"), (64.99, "D"), (25.0, "D"), (100.0, "A"),
    (88.37499999999999, "A"),  # float noise of an exact 88.375 must not flip the grade
])
def test_band_edges_2017(value: float, grade: str) -> None:
    assert PERMENPAN_2017.grade(value).grade == grade


@pytest.mark.parametrize(("value", "grade"), [
    (81.26, "A"), (81.255, "A"), (81.25, "B"), (62.51, "B"), (62.505, "B"), (62.50, "C"),
    (43.76, "C"), (43.755, "C"), (43.75, "D"), (25.0, "D"),
])
def test_band_edges_2004(value: float, grade: str) -> None:
    assert KEPMENPAN_2004.grade(value).grade == grade


def test_grade_probability_cuts_agree_with_the_band_rule() -> None:
    """The cuts used for grade probabilities are the half-up boundaries of the bands."""
    assert PERMENPAN_2017.cuts() == pytest.approx((64.995, 76.605, 88.305))
    assert KEPMENPAN_2004.cuts() == pytest.approx((43.755, 62.505, 81.255))


def test_2004_standard_fourteen_elements() -> None:
    y = np.tile(np.array([4, 3, 3, 4, 3, 3, 4, 3, 3, 4, 3, 3, 4, 3])[None, :], (12, 1))
    est = estimate_desk(StratumStats.from_scores(y), standard="kepmenpan-25-2004")
    assert len(est.elements) == 14
    assert est.ikm == pytest.approx(47 / 14, abs=1e-12)
    assert shown(est.ikm_converted) == "83.93"
    assert est.grade == "A"  # 83.93 >= 81.26 in the 2004 bands
    assert est.standard == "kepmenpan-25-2004"


@pytest.mark.parametrize(("population", "required"), [
    (100, 80), (500, 217), (1000, 278), (2000, 322), (10000, 370), (1000000, 384),
])
def test_krejcie_morgan_table(population: int, required: int) -> None:
    assert krejcie_morgan(population) == required


def test_sample_adequacy_is_judged_against_the_population() -> None:
    y = np.tile(np.array([3, 4, 3, 4, 3, 4, 3, 4, 3])[None, :], (80, 1))
    y[::7, 0] = 2
    s = StratumStats.from_scores(y)
    assert estimate_desk(s, population=100).sample_adequate is True       # needs 80
    short = estimate_desk(s, population=500)                              # needs 217
    assert short.sample_adequate is False and short.required_sample == 217
    unknown = estimate_desk(s)
    assert unknown.sample_adequate is None and unknown.required_sample is None
    assert short.grade == unknown.grade  # still graded: only flagged as short


def test_vectorised_grading_follows_the_half_up_rule_exactly() -> None:
    """The batch path grades with numpy; at and around every cut it must agree with
    Standard.grade (round half-up to two decimals, then the lower bounds)."""
    from survey.ikm.engine import _band_index

    for std in (PERMENPAN_2017, KEPMENPAN_2004):
        values = [25.0, 100.0, 50.0, 88.375, 88.37499999999999]
        for cut in std.cuts():
            for delta in (-1e-3, -5e-9, -1e-9, -1e-12, 0.0, 1e-12, 1e-9, 5e-9, 1e-3):
                values.append(cut + delta)
                values.append(round(cut + delta, 9))
        arr = np.array(values)
        bands_up = list(reversed(std.bands))
        got = [bands_up[i].grade for i in _band_index(arr, std)]
        assert got == [std.grade(v).grade for v in values]
