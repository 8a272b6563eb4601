"""Agreement with samplics 0.6.1 (``TaylorEstimator``, the reference of statistics.md) on
240 seeded random data sets: 1-7 strata, blanks, census strata, unknown populations
(pooled), single-respondent strata and all three weight modes.

samplics sees raw rows; the engine sees only sufficient statistics. Per data set:

- every element: NRR, SE and t interval against ``PopParam.ratio`` with y = r*y, x = r,
  ``samp_weight`` = N_h/n_h (1 when pooled), ``stratum``, ``fpc`` = {h: 1 - n_h/N_h};
- the index on complete data: point, SE and t interval against ``PopParam.mean`` of each
  respondent's weighted score sum_j c_j y_j;
- the index with blanks, where no samplics parameter is the IKM: the point against
  sum_j c_j R_j of samplics' ratios, and the SE against ``PopParam.total`` of the
  linearised variable z = sum_j c_j w r (y - R_j) / X_j, computed here from raw rows
  independently of the engine (passed as y = (z + 1) / w with the design weights).

Single-respondent strata are given to samplics with one PSU per respondent and
``SinglePSUEst.skip`` (they contribute no variance; df stays n - H in both).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from scipy.stats import t as student

from survey.ikm import PERMENPAN_2017, StratumStats, estimate_group

REL = 1e-9
NOISE = 1e-13  # samplics computes from raw floats: an exact 0 can come back as 1e-19
PER_SCENARIO = 60


@pytest.fixture(scope="module")
def samplics() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samplics warns on import that it is archived
        return pytest.importorskip("samplics")


def _make(rng: np.random.Generator, scenario: str) -> dict[str, Any]:
    h = int(rng.integers(1, 8))
    n_h = rng.integers(2, 45, size=h)
    if scenario == "single":
        n_h[rng.random(h) < 0.4] = 1
        n_h[0] = max(n_h[0], 3)
    complete = rng.random() < 0.35
    rows, strata = [], []
    for s in range(h):
        probs = rng.dirichlet(np.ones(4) * rng.uniform(0.3, 3))
        if rng.random() < 0.1:
            probs = np.array([0, 0, 0, 1.0])  # a stratum at the ceiling
        y = rng.choice([1, 2, 3, 4], size=(int(n_h[s]), 9), p=probs)
        if not complete:
            blank_rate = rng.uniform(0, 0.35, size=9) * (rng.random(9) < 0.5)
            y[rng.random(y.shape) < blank_rate] = 0
        rows.append(y)
        strata += [s] * int(n_h[s])
    y = np.concatenate(rows)
    for j in range(9):  # every element answered by someone in the agency
        if (y[:, j] == 0).all():
            y[0, j] = 3
    complete = complete and bool((y > 0).all())
    big_n: list[int | None] = [int(n + rng.integers(0, 400)) for n in n_h]
    if scenario == "census":
        for s in range(h):
            if rng.random() < 0.5:
                big_n[s] = int(n_h[s])
    if scenario == "pooled":
        big_n[int(rng.integers(0, h))] = None
    mode = ["exact", "0.111", "0.11"][int(rng.integers(0, 3))]
    return {"y": y, "strata": np.array(strata), "n_h": n_h, "N": big_n, "mode": mode,
            "complete": complete}


def _check(actual: float, expected: float, what: str) -> None:
    if abs(expected) < NOISE:
        assert abs(actual) < NOISE, f"{what}: {actual} != 0"
    else:
        assert actual == pytest.approx(expected, rel=REL, abs=0), what


def _agree(samplics: Any, data: dict[str, Any]) -> None:
    y, st, n_h, big_n = data["y"], data["strata"], data["n_h"], data["N"]
    h = len(n_h)
    stratified = all(x is not None for x in big_n)
    w_h = np.array([x / n if stratified else 1.0 for x, n in zip(big_n, n_h, strict=True)])
    fpc = {s: (1 - n_h[s] / big_n[s]) if stratified else 1.0 for s in range(h)}
    w = w_h[st]
    c = np.array(PERMENPAN_2017.weights(data["mode"]))

    desks = {f"d{s}": StratumStats.from_scores(y[st == s]) for s in range(h)}
    pops = {f"d{s}": big_n[s] for s in range(h)}
    est = estimate_group(desks, pops, weights=data["mode"]).estimate
    assert est is not None
    assert est.method == ("stratified" if stratified else "pooled")
    assert est.df == len(y) - h

    common = dict(samp_weight=w, stratum=st, psu=np.arange(len(y)), fpc=fpc,
                  single_psu=samplics.SinglePSUEst.skip)
    r = (y > 0).astype(float)
    ratios = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, el in enumerate(est.elements):
            ref = samplics.TaylorEstimator(samplics.PopParam.ratio)
            ref.estimate(y=r[:, j] * y[:, j], x=r[:, j], **common)
            assert ref.degree_of_freedom == est.df
            ratios.append(ref.point_est)
            _check(el.nrr, ref.point_est, f"{el.code} nrr")
            _check(el.se, ref.stderror, f"{el.code} se")
            if ref.stderror > NOISE:
                _check(el.ci_t[0] / 25, ref.lower_ci, f"{el.code} ci_t low")
                _check(el.ci_t[1] / 25, ref.upper_ci, f"{el.code} ci_t high")
            elif el.se == 0:
                assert el.ci_t is None
        if data["complete"]:
            ref = samplics.TaylorEstimator(samplics.PopParam.mean)
            ref.estimate(y=y @ c, **common)
            _check(est.ikm, ref.point_est, "ikm")
            _check(est.se, ref.stderror, "ikm se")
            if ref.stderror > NOISE:
                _check(est.ci_t[0] / 25, ref.lower_ci, "ikm ci_t low")
                _check(est.ci_t[1] / 25, ref.upper_ci, "ikm ci_t high")
        else:
            big_x = np.array([np.sum(w * r[:, j]) for j in range(9)])
            ratio = np.array([np.sum(w * r[:, j] * y[:, j]) for j in range(9)]) / big_x
            z = (w[:, None] * r * (y - ratio[None, :]) / big_x[None, :]) @ c
            ref = samplics.TaylorEstimator(samplics.PopParam.total)
            # z sums to 0 and samplics divides by the total for its CV; a constant 1 per
            # respondent moves the total without changing any within-stratum deviation.
            ref.estimate(y=(z + 1) / w, **common)
            _check(est.ikm, float(np.dot(c, ratios)), "ikm from samplics ratios")
            _check(est.se, ref.stderror, "ikm se (linearised)")
            if ref.stderror > NOISE:
                q = student.ppf(0.975, ref.degree_of_freedom)
                _check(est.ci_t[0] / 25, est.ikm - q * ref.stderror, "ikm ci_t low")


@pytest.mark.parametrize("scenario", ["stratified", "census", "pooled", "single"])
def test_engine_agrees_with_samplics(samplics: Any, scenario: str) -> None:
    seed = {"stratified": 100, "census": 200, "pooled": 300, "single": 400}[scenario]
    complete = 0
    for i in range(PER_SCENARIO):
        data = _make(np.random.default_rng(seed * 1000 + i), scenario)
        complete += data["complete"]
        try:
            _agree(samplics, data)
        except AssertionError as exc:
            raise AssertionError(f"data set {scenario}/{i}: {exc}") from None
    assert complete >= 10  # both index paths (complete and blanks) were exercised
