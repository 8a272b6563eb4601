"""Comparing independent estimates (periods, desks, agencies) and screening many desks.

Welch-Satterthwaite on the converted scale: diff = a - b, SE = sqrt(SE_a^2 + SE_b^2),
df = (SE_a^2 + SE_b^2)^2 / (SE_a^4/df_a + SE_b^4/df_b), two-sided p from t(df). For two
desks without a finite population correction this is exactly
``scipy.stats.ttest_ind(equal_var=False)`` on the respondents' mean scores.

Screening compares each desk with the *rest* of its agency (the other desks, estimated as
the agency would be without it), because a desk and an agency that contains it are not
independent. The p-values of all desks screened together are adjusted for the false
discovery rate (Benjamini-Hochberg by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from survey.ikm.engine import Estimate, estimate_groups
from survey.ikm.lazy import special
from survey.ikm.standards import DEFAULT_STANDARD, Standard
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
class DeskScreen:
    """One desk against the rest of its agency, with its FDR-adjusted p-value."""

    agency: str
    desk: str
    desk_estimate: Estimate
    rest_estimate: Estimate
    comparison: Comparison
    p_adjusted: float | None
    flagged: bool                 # a discovery at the requested false discovery rate
    direction: str | None         # "above" or "below" the rest when flagged


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
) -> list[DeskScreen]:
    """Each desk of each agency with at least two estimable desks against the rest of its
    agency; p-values adjusted together with ``scipy.stats.false_discovery_control``
    (``method`` "bh" or "by"). Sorted by adjusted p-value."""
    from scipy.stats import false_discovery_control  # heavy import, only needed here

    populations = populations or {}
    main = estimate_groups(groups, populations, standard, weights, confidence)
    rest_groups: dict[str, dict[str, StratumStats]] = {}
    rest_pops: dict[str, dict[str, int | None]] = {}
    pairs: list[tuple[str, str, str]] = []
    for agency, result in main.items():
        if len(result.desks) < 2:
            continue
        for desk in sorted(result.desks):
            key = f"{len(pairs)}"
            rest_groups[key] = {d: s for d, s in groups[agency].items()
                                if d != desk and d in result.desks}
            rest_pops[key] = {d: p for d, p in (populations.get(agency) or {}).items()
                              if d in rest_groups[key]}
            pairs.append((agency, desk, key))
    if not pairs:
        return []
    rest = estimate_groups(rest_groups, rest_pops, standard, weights, confidence)
    desk_est = [main[a].desks[d] for a, d, _ in pairs]
    rest_est = [rest[k].estimate for _, _, k in pairs]
    kept = [(i, r) for i, r in enumerate(rest_est) if r is not None]
    comps = welch(
        np.array([desk_est[i].ikm_converted - r.ikm_converted for i, r in kept]),
        np.array([desk_est[i].se_converted for i, _ in kept]),
        np.array([desk_est[i].df for i, _ in kept]),
        np.array([r.se_converted for _, r in kept]),
        np.array([r.df for _, r in kept]),
        confidence,
    )
    p_values = [c.p_value for c in comps]
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(comps)
    if tested:
        adj = false_discovery_control(np.array([p_values[i] for i in tested]), method=method)
        for i, value in zip(tested, adj.tolist(), strict=True):
            adjusted[i] = float(value)
    out = []
    for (i, r), comp, p_adj in zip(kept, comps, adjusted, strict=True):
        agency, desk, _ = pairs[i]
        flagged = p_adj is not None and p_adj <= fdr
        out.append(DeskScreen(agency, desk, desk_est[i], r, comp, p_adj, flagged,
                              ("above" if comp.diff > 0 else "below") if flagged else None))
    out.sort(key=lambda s: (s.p_adjusted is None, s.p_adjusted or 0.0, s.agency, s.desk))
    return out
