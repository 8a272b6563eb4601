"""Comparing independent estimates (periods, desks, agencies) and screening many desks.

Welch-Satterthwaite on the converted scale: diff = a - b, SE = sqrt(SE_a^2 + SE_b^2),
df = (SE_a^2 + SE_b^2)^2 / (SE_a^4/df_a + SE_b^4/df_b), two-sided p from t(df). For two
desks without a finite population correction this is exactly
``scipy.stats.ttest_ind(equal_var=False)`` on the respondents' mean scores.

Screening compares each desk with the *rest* of its agency (the other desks, estimated as
the agency would be without it), because a desk and an agency that contains it are not
independent. The p-values of all desks screened together are adjusted for the false
discovery rate (Benjamini-Hochberg by default). Members of a parent (the agencies of a
Mal Pelayanan Publik) are screened the same way against the other members together
(:func:`screen_members`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from survey.ikm.engine import (
    POOLED,
    SCALE,
    STRATIFIED,
    Estimate,
    GroupResult,
    estimate_groups,
    ratio_estimates,
    stratum_brackets,
    variance_weights,
)
from survey.ikm.lazy import special
from survey.ikm.standards import DEFAULT_STANDARD, Standard, get_standard
from survey.ikm.stats import StratumStats


@dataclass(frozen=True, slots=True)
class Comparison:
    """a - b on the converted scale. ``t``, ``p_value``, ``df`` and ``ci`` are None when
    both standard errors are 0 (nothing to test against)."""

    diff: float
    se: float
    df: float | None
    t: float | None
    p_value: float | None
    ci: tuple[float, float] | None
    confidence: float


@dataclass(frozen=True, slots=True)
class RestEstimate:
    """The rest of an agency without one desk (``without_desk``; for a member screen, the
    member left out): the index with its SE and degrees of freedom, which is all a
    comparison needs. ``method`` follows the agency rule (stratified when every remaining
    desk has a population)."""

    agency: str
    without_desk: str
    method: str
    n: int
    population: int | None
    strata: int
    ikm: float
    ikm_converted: float
    se: float
    se_converted: float
    df: int


@dataclass(frozen=True, slots=True)
class DeskScreen:
    """One desk against the rest of its agency, with its FDR-adjusted p-value."""

    agency: str
    desk: str
    desk_estimate: Estimate
    rest_estimate: RestEstimate
    comparison: Comparison
    p_adjusted: float | None
    flagged: bool                 # a discovery at the requested false discovery rate
    direction: str | None         # "above" or "below" the rest when flagged


@dataclass(frozen=True, slots=True)
class MemberScreen:
    """One member of a parent (an agency of a Mal Pelayanan Publik) against the parent's
    other members estimated together, with its FDR-adjusted p-value."""

    parent: str
    member: str
    member_estimate: Estimate
    rest_estimate: RestEstimate
    comparison: Comparison
    p_adjusted: float | None
    flagged: bool                 # a discovery at the requested false discovery rate
    direction: str | None         # "above" or "below" the others when flagged


def welch(diff: np.ndarray, se_a: np.ndarray, df_a: np.ndarray, se_b: np.ndarray,
          df_b: np.ndarray, confidence: float = 0.95) -> list[Comparison]:
    """Vectorised Welch-Satterthwaite for many pairs at once (one scipy call each)."""
    diff = np.asarray(diff, dtype=np.float64)
    va = np.asarray(se_a, dtype=np.float64) ** 2
    vb = np.asarray(se_b, dtype=np.float64) ** 2
    dfa = np.asarray(df_a, dtype=np.float64)
    dfb = np.asarray(df_b, dtype=np.float64)
    v = va + vb
    testable = v > 0
    term = np.zeros_like(v)
    for vx, dfx in ((va, dfa), (vb, dfb)):
        part = np.zeros_like(v)
        np.divide(vx * vx, dfx, out=part, where=(vx > 0) & (dfx > 0))
        term += part
    testable &= term > 0
    df = np.ones_like(v)
    np.divide(v * v, term, out=df, where=testable)
    se = np.sqrt(v)
    t = np.zeros_like(v)
    np.divide(diff, se, out=t, where=testable)
    p = 2.0 * special.stdtr(df, -np.abs(t))
    q = special.stdtrit(df, 0.5 + confidence / 2)
    out = []
    for i in range(diff.shape[0]):
        if testable[i]:
            half = float(q[i] * se[i])
            out.append(Comparison(float(diff[i]), float(se[i]), float(df[i]), float(t[i]),
                                  float(min(p[i], 1.0)),
                                  (float(diff[i]) - half, float(diff[i]) + half), confidence))
        else:
            out.append(Comparison(float(diff[i]), float(se[i]), None, None, None, None,
                                  confidence))
    return out


def compare(a: Estimate, b: Estimate, confidence: float | None = None) -> Comparison:
    """Two independent estimates (e.g. this quarter against the last): a - b."""
    conf = a.confidence if confidence is None else confidence
    return welch(np.array([a.ikm_converted - b.ikm_converted]), np.array([a.se_converted]),
                 np.array([a.df]), np.array([b.se_converted]), np.array([b.df]), conf)[0]


def screen_desks(
    groups: Mapping[str, Mapping[str, StratumStats]],
    populations: Mapping[str, Mapping[str, int | None]] | None = None,
    standard: Standard | str = DEFAULT_STANDARD,
    weights: str = "exact",
    confidence: float = 0.95,
    fdr: float = 0.05,
    method: str = "bh",
    results: Mapping[str, GroupResult] | None = None,
) -> list[DeskScreen]:
    """Each desk of each agency with at least two estimable desks against the rest of its
    agency; p-values adjusted together with ``scipy.stats.false_discovery_control``
    (``method`` "bh" or "by"). Sorted by adjusted p-value. Pass ``results`` (from
    :func:`estimate_groups` on the same arguments) when the caller already has them."""
    populations = populations or {}
    std = standard if isinstance(standard, Standard) else get_standard(standard)
    if results is None:
        results = estimate_groups(groups, populations, std, weights, confidence)
    desk_est: list[Estimate] = []
    rest_est: list[RestEstimate] = []
    for agency in sorted(results):
        result = results[agency]
        if len(result.desks) < 2:
            continue
        desks = sorted(result.desks)
        pops = populations.get(agency) or {}
        for desk, rest in zip(desks, leave_one_out(
                agency, [groups[agency][d] for d in desks], desks,
                [pops.get(d) for d in desks], std, weights), strict=True):
            if rest is not None:
                desk_est.append(result.desks[desk])
                rest_est.append(rest)
    pairs = list(zip(desk_est, rest_est, strict=True))
    out = [DeskScreen(r.agency, r.without_desk, d, r, *verdict)
           for (d, r), verdict in zip(pairs, _against_rest(pairs, confidence, fdr, method),
                                       strict=True)]
    out.sort(key=lambda s: (s.p_adjusted is None, s.p_adjusted or 0.0, s.agency, s.desk))
    return out


def screen_members(
    strata: Mapping[str, Mapping[str, StratumStats]],
    estimates: Mapping[str, Estimate],
    populations: Mapping[str, Mapping[str, int | None]] | None = None,
    standard: Standard | str = DEFAULT_STANDARD,
    weights: str = "exact",
    confidence: float = 0.95,
    fdr: float = 0.05,
    method: str = "bh",
    parent: str = "",
) -> list[MemberScreen]:
    """Each member of a parent (``strata[member][desk]``, e.g. the agencies of a Mal
    Pelayanan Publik with their desks) against the parent's *other* members estimated
    together, as :func:`screen_desks` does for the desks of one agency: the rest is the
    combined estimator over the other members' desks (stratified when every one of them
    has a population in ``populations[member][desk]``), independent of the member because
    no desk is in both. ``estimates[member]`` is the member's own estimate (as its own
    report gives it); members without one take no part, neither screened nor in another's
    rest. Nothing is screened with fewer than two such members. P-values are adjusted
    together (``method`` "bh" or "by"); the result is sorted by adjusted p-value, then
    member."""
    populations = populations or {}
    std = standard if isinstance(standard, Standard) else get_standard(standard)
    members = sorted(m for m in strata if m in estimates and strata[m])
    if len(members) < 2:
        return []
    flat: list[StratumStats] = []
    keys: list[str] = []
    pops: list[int | None] = []
    member_of: list[int] = []
    for i, member in enumerate(members):
        member_pops = populations.get(member) or {}
        for desk in sorted(strata[member]):
            flat.append(strata[member][desk])
            keys.append(f"{member}/{desk}")
            pops.append(member_pops.get(desk))
            member_of.append(i)
    rests = leave_members_out(parent, flat, keys, pops, std, weights, member_of, members)
    pairs = [(estimates[m], r) for m, r in zip(members, rests, strict=True) if r is not None]
    out = [MemberScreen(parent, r.without_desk, e, r, *verdict)
           for (e, r), verdict in zip(pairs, _against_rest(pairs, confidence, fdr, method),
                                       strict=True)]
    out.sort(key=lambda s: (s.p_adjusted is None, s.p_adjusted or 0.0, s.member))
    return out


def _against_rest(pairs: list[tuple[Estimate, RestEstimate]], confidence: float,
                  fdr: float, method: str
                  ) -> list[tuple[Comparison, float | None, bool, str | None]]:
    """Each (unit, rest) pair compared (Welch), the p-values adjusted together: the
    comparison, adjusted p-value, whether it is a discovery at `fdr`, and its direction.
    One implementation for the desk screen and the member (agency) screen."""
    if not pairs:
        return []
    comps = welch(
        np.array([e.ikm_converted - r.ikm_converted for e, r in pairs]),
        np.array([e.se_converted for e, _r in pairs]),
        np.array([e.df for e, _r in pairs]),
        np.array([r.se_converted for _e, r in pairs]),
        np.array([r.df for _e, r in pairs]),
        confidence,
    )
    verdicts = []
    for comp, p_adj in zip(comps, _adjust(comps, method), strict=True):
        flagged = p_adj is not None and p_adj <= fdr
        verdicts.append((comp, p_adj, flagged,
                         ("above" if comp.diff > 0 else "below") if flagged else None))
    return verdicts


def _adjust(comps: list[Comparison], method: str) -> list[float | None]:
    """The p-values adjusted together for the false discovery rate
    (``scipy.stats.false_discovery_control``); None where there was nothing to test."""
    from scipy.stats import false_discovery_control  # heavy import, only needed here

    p_values = [c.p_value for c in comps]
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(comps)
    if tested:
        adj = false_discovery_control(np.array([p_values[i] for i in tested]), method=method)
        for i, value in zip(tested, adj.tolist(), strict=True):
            adjusted[i] = float(value)
    return adjusted


def _exclusive_sums(values: np.ndarray) -> np.ndarray:
    """Row i: the sum of every row but i, as prefix + suffix sums (no subtraction, so a
    desk that dominates its agency loses no precision from the rest)."""
    before = np.zeros_like(values)
    before[1:] = np.cumsum(values[:-1], axis=0)
    after = np.zeros_like(values)
    after[:-1] = np.cumsum(values[:0:-1], axis=0)[::-1]
    return before + after


def leave_one_out(
    agency: str,
    strata: list[StratumStats],
    desks: list[str],
    populations: list[int | None],
    standard: Standard,
    weights: str = "exact",
) -> list[RestEstimate | None]:
    """For each desk, the agency estimated from its other desks: the same combined ratio
    estimator and linearised variance as :func:`estimate_groups` on the remaining desks,
    in O(desks) rather than O(desks^2). Every term of the estimator is a sum over strata
    (totals, and covariances that are quadratic forms in the ratios with per-stratum
    coefficient matrices), so each rest is a sum of all strata but one. ``None`` where
    the rest has nothing to estimate from (all weights zero)."""
    return leave_members_out(agency, strata, desks, populations, standard, weights,
                             list(range(len(strata))), list(desks))


def leave_members_out(
    agency: str,
    strata: list[StratumStats],
    desks: list[str],
    populations: list[int | None],
    standard: Standard,
    weights: str,
    member_of: list[int],
    members: list[str],
) -> list[RestEstimate | None]:
    """:func:`leave_one_out` for members made of several strata: stratum s belongs to
    member ``member_of[s]`` (an index into ``members``), and each member's rest is the
    agency estimated from every stratum of the other members. The terms are summed per
    member first, then each rest is the sum over all members but one. ``None`` where the
    rest has no stratum, or nothing to estimate from."""
    del desks  # the strata's labels; a rest is named by the member it leaves out
    k, m = len(strata), len(members)
    if m < 2:
        return [None] * m
    c = np.array(standard.weights(weights), dtype=np.float64)
    n = np.array([s.n for s in strata], dtype=np.float64)
    owner = np.array(member_of, dtype=np.int64)
    dcnt, dsy, b1, pp, b3 = stratum_brackets(strata)
    known = np.array([p is not None for p in populations])
    pop = np.array([p if p is not None else 0 for p in populations], dtype=np.float64)
    ok_fpc = known & (n <= pop)
    f = np.where(ok_fpc, n / np.where(pop > 0, pop, 1.0), 0.0)

    def per_member(values: np.ndarray) -> np.ndarray:
        out = np.zeros((m, *values.shape[1:]), dtype=values.dtype)
        np.add.at(out, owner, values)
        return out

    def rest_terms(w: np.ndarray, fpc: np.ndarray) -> tuple[np.ndarray, ...]:
        coef = variance_weights(w, fpc, n)
        return tuple(_exclusive_sums(per_member(t)) for t in (
            w[:, None] * dcnt, w[:, None] * dsy, coef[:, None, None] * b1,
            coef[:, None, None] * pp, coef[:, None, None] * b3))

    pooled = rest_terms(np.ones(k), np.zeros(k))
    w_strat = np.where(known, pop / n, 0.0)
    stratified = rest_terms(w_strat, f)
    # The rest is stratified when every remaining desk has a population.
    unknown_of = np.bincount(owner, weights=(~known).astype(np.float64), minlength=m)
    rest_stratified = (int((~known).sum()) - unknown_of) == 0
    pick = rest_stratified[:, None]
    x, a = (np.where(pick, s_, p_) for s_, p_ in zip(stratified[:2], pooled[:2], strict=True))
    c1, c2, c3 = (np.where(pick[:, :, None], s_, p_)
                  for s_, p_ in zip(stratified[2:], pooled[2:], strict=True))
    answered_el, _ratio, _cov, var, ikm = ratio_estimates(x, a, c1, c2, c3, c,
                                                          weights == "exact")
    answered = answered_el.all(axis=1)
    se = np.sqrt(var)
    n_int = np.array([s.n for s in strata], dtype=np.int64)
    pop_int = np.array([p if p is not None else 0 for p in populations], dtype=np.int64)
    n_rest = int(n_int.sum()) - np.bincount(owner, weights=n_int, minlength=m).astype(np.int64)
    pop_rest = int(pop_int.sum()) - np.bincount(owner, weights=pop_int,
                                                 minlength=m).astype(np.int64)
    strata_rest = k - np.bincount(owner, minlength=m)
    out: list[RestEstimate | None] = []
    for i in range(m):
        if strata_rest[i] == 0 or not answered[i]:
            out.append(None)
            continue
        all_known = bool(rest_stratified[i])
        out.append(RestEstimate(
            agency=agency, without_desk=members[i],
            method=STRATIFIED if all_known else POOLED, n=int(n_rest[i]),
            population=int(pop_rest[i]) if all_known else None,
            strata=int(strata_rest[i]), ikm=float(ikm[i]), ikm_converted=float(ikm[i]) * SCALE,
            se=float(se[i]), se_converted=float(se[i]) * SCALE,
            df=int(n_rest[i]) - int(strata_rest[i])))
    return out
