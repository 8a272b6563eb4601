"""The IKM estimator, its intervals and grade probabilities (docs/methodology.md).

Everything is computed from integer sufficient statistics (:mod:`survey.ikm.stats`) and
vectorised across results: a batch of 50 agencies with 10 desks each is a handful of
numpy operations and one call of each scipy special function, not 550 separate
estimations. That is what keeps a dashboard (which also has to read the database) under
0.2 s.

Vocabulary: a *stratum* is a desk with its respondents; an *agency* combines its desks
(stratified by service population when every desk's population is known, otherwise
pooled); every result is an :class:`Estimate` on the 1..4 scale with its converted
(x25) twin.

Rules the spec leaves open, fixed here (the golden files confirm those they cover):

- The published interval (revision 2) is Clopper-Pearson on an effective sample size n*
  (the Korn-Graubard form) at the requested confidence; ``ci_t`` uses t(n - H).
- Pooled means strata kept, w_h = 1 and f_h = 0 (so df is still n - H).
- One stratum (a desk, an agency of one desk): the observed dispersion shrinks towards a
  prior with weight PRIOR_K = 30; a desk's prior is the pooled dispersion of the *other*
  desks of its agency (leave-one-out), PHI_DEFAULT when none qualifies. The desk's own
  s_h^2 comes from its own estimate (its own fpc divided back out).
- H >= 2 strata: n* = (m-1)(4-m)/V times (t(n-1)/t(n-H))^2; where V is 0 (or df is 0),
  the one-stratum form with f = n / sum N_h and the agency's own pool as prior.
- Element intervals: the same construction per element, n = respondents who answered the
  element (df = that n - H), with element-level pools and priors.
- A pool is PHI_DEFAULT when no desk qualifies, or when every qualifying desk sits
  exactly on a bound (0/0, e.g. all answers 4); it never goes below PHI_FLOOR.
- n_h > N_h: reported in ``data_errors``; that desk keeps its weight N_h/n_h but gets no
  finite population correction (the conservative choice; nothing is clamped silently).
- Grade probabilities are None below 10 respondents, without degrees of freedom, and
  when the SE is 0 (the t model has no spread), except for a census, which knows its
  grade exactly.
- A desk with no respondents, or with an element nobody answered, has no estimate
  (``GroupResult.not_estimable`` says why); its agency is still estimated from the rest.
- The 0.111 / 0.11 weight modes exist to reconcile hand-made reports; their weights do
  not sum to 1, so such an index can fall just outside 25..100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import numpy as np

from survey.ikm.lazy import special
from survey.ikm.standards import (
    DEFAULT_STANDARD,
    Standard,
    display_decimal,
    get_standard,
)
from survey.ikm.stats import StratumStats

SCALE = 25.0                # converted index = index x 25
PRIOR_K = 30.0              # weight of the prior dispersion in the one-stratum interval
PHI_DEFAULT = 0.25          # the prior when no other stratum qualifies (errs on the wide side)
PHI_FLOOR = 0.05            # a pooled dispersion never goes below this (too small under-covers)
POOL_MIN_N = 30             # strata with fewer respondents do not inform a pool
GRADE_MIN_N = 10            # below this no grade is assigned ("sampel tidak cukup")
CONFIDENT = 0.95            # a grade is "confident" when its probability reaches this
LOW, HIGH = 1.0, 4.0        # the answer scale
KM_CHI2, KM_P, KM_D = 3.841, 0.5, 0.05  # Krejcie & Morgan constants

STRATIFIED = "stratified"
POOLED = "pooled"


@dataclass(frozen=True)
class ElementEstimate:
    """One element's NRR (a ratio estimator: blanks leave its denominator).

    The batch path builds these with :func:`_fast_new` (thousands per dashboard), so keep
    them free of ``__post_init__`` logic.
    """

    code: str
    n: int                          # respondents who answered this element
    nrr: float
    nrr_converted: float
    se: float
    se_converted: float
    ci: tuple[float, float]         # published (Clopper-Pearson) interval, converted scale
    ci_t: tuple[float, float] | None  # t interval, converted; None when SE is 0


@dataclass(frozen=True)
class Estimate:
    """The index of one desk or one agency, with everything a report prints about it.

    ``method`` is ``stratified``/``pooled`` for an agency and ``None`` for a desk alone.
    ``ci`` is the published interval; ``ci_t`` the textbook t interval (not clipped, so
    it can pass 100 at the ceiling, which is why it is not the published one).
    Built by :func:`_fast_new` in the batch path: keep it free of ``__post_init__``.
    """

    agency: str | None
    desk: str | None
    method: str | None
    n: int
    population: int | None
    response_fraction: float | None  # n / N, printed beside the index (self-selection)
    ikm: float
    ikm_converted: float
    se: float
    se_converted: float
    df: int
    ci: tuple[float, float]
    ci_t: tuple[float, float] | None
    grade: str | None
    grade_label: str | None
    grade_label_en: str | None
    grade_probabilities: dict[str, float] | None
    confident_grade: str | None
    required_sample: int | None
    sample_adequate: bool | None
    elements: tuple[ElementEstimate, ...]
    strata: int
    single_respondent_strata: tuple[str, ...]
    data_errors: tuple[str, ...]
    phi_pool: float        # the dispersion the interval shrinks towards (see GroupResult)
    standard: str
    weights: str
    confidence: float

    def element(self, code: str) -> ElementEstimate:
        for e in self.elements:
            if e.code == code:
                return e
        raise KeyError(code)

    def lowest_elements(self, count: int = 3) -> tuple[ElementEstimate, ...]:
        """The weakest elements (lowest NRR, ties in questionnaire order): the report's
        candidates for the follow-up plan (RTL)."""
        order = sorted(range(len(self.elements)), key=lambda i: (self.elements[i].nrr, i))
        return tuple(self.elements[i] for i in order[:count])


@dataclass(frozen=True)
class GroupResult:
    """An agency's estimate and each of its desks' estimates. ``phi_pool`` (and
    ``element_phi_pool``) is the dispersion pooled over the agency's desks; each desk's
    interval shrinks towards the pool of the *other* desks (``desk_priors``).
    ``not_estimable`` maps a desk code, or ``None`` for the agency
    itself, to the reason it has no estimate (no respondents, or an element nobody
    answered)."""

    agency: str
    method: str
    estimate: Estimate | None
    desks: dict[str, Estimate]
    phi_pool: float
    element_phi_pool: tuple[float, ...]
    not_estimable: dict[str | None, str] = field(default_factory=dict)
    standard: str = DEFAULT_STANDARD
    weights: str = "exact"
    confidence: float = 0.95
    # desk -> (prior dispersion of its index, of each element): the leave-one-out pools
    # of the agency's other desks that its intervals shrink towards (estimate_desk(prior=))
    desk_priors: dict[str, tuple[float, tuple[float, ...]]] = field(default_factory=dict)

    def estimates(self) -> list[Estimate]:
        """The agency row first, then desks sorted by code (the report order)."""
        rows = [self.estimate] if self.estimate is not None else []
        return rows + [self.desks[d] for d in sorted(self.desks)]


def _fast_new(cls: type, names: tuple[str, ...], values: Iterable[Any]) -> Any:
    """A frozen dataclass instance without its generated ``__init__``, which assigns
    field by field through ``object.__setattr__``; filling ``__dict__`` at once is what
    makes thousands of element results per dashboard cheap. Equality, repr, pickling
    and immutability are unchanged."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


_ELEMENT_FIELDS = tuple(ElementEstimate.__dataclass_fields__)
_ESTIMATE_FIELDS = tuple(Estimate.__dataclass_fields__)


# ---------------------------------------------------------------------------------------
# Small public helpers


@lru_cache(maxsize=4096)
def krejcie_morgan(population: int) -> int:
    """Required sample for a population of N service users (Krejcie & Morgan, P = 0.5,
    d = 0.05, chi2 = 3.841), rounded half-up."""
    if population < 0:
        raise ValueError("population must be non-negative")
    pq = KM_P * (1 - KM_P)
    s = KM_CHI2 * population * pq / (KM_D * KM_D * (population - 1) + KM_CHI2 * pq)
    return int(display_decimal(s, 0))


def grade_probabilities(
    ikm_converted: float, se_converted: float, df: float, standard: Standard | str
) -> dict[str, float]:
    """P(grade) under theta ~ IKM + SE * t(df) truncated to [25, 100] (converted scale),
    between the cuts of the standard (e.g. 64.995 / 76.605 / 88.305). Keys run from the
    lowest grade up."""
    std = _standard(standard)
    if se_converted <= 0 or df <= 0:
        raise ValueError("grade probabilities need SE > 0 and df > 0")
    probs = _grade_probs(np.array([ikm_converted]), np.array([se_converted]),
                         np.array([float(df)]), std)
    return dict(zip(_grades_ascending(std), probs[0].tolist(), strict=True))


# ---------------------------------------------------------------------------------------
# Public estimation API


def estimate_groups(
    groups: Mapping[str, Mapping[str, StratumStats]],
    populations: Mapping[str, Mapping[str, int | None]] | None = None,
    standard: Standard | str = DEFAULT_STANDARD,
    weights: str = "exact",
    confidence: float = 0.95,
    *,
    desks: bool = True,
) -> dict[str, GroupResult]:
    """Estimate many agencies at once: ``groups[agency][desk]`` holds each desk's
    statistics and ``populations[agency][desk]`` its service population N (missing or
    ``None`` = unknown). An agency is stratified when every desk with respondents has a
    population, otherwise pooled. Returns results keyed by agency, in sorted order.

    ``desks=False`` returns the agencies' estimates only (each GroupResult's ``desks`` and
    ``desk_priors`` empty), for callers that show no desk: the same numbers, without
    building an Estimate per desk, which is most of the time for agencies of many desks."""
    return _Batch(groups, populations or {}, _standard(standard), weights,
                  confidence, desk_results=desks).run()


def estimate_group(
    agency_desks: Mapping[str, StratumStats],
    populations: Mapping[str, int | None] | None = None,
    standard: Standard | str = DEFAULT_STANDARD,
    weights: str = "exact",
    confidence: float = 0.95,
    agency: str = "",
) -> GroupResult:
    """One agency and its desks (see :func:`estimate_groups`)."""
    result = estimate_groups({agency: agency_desks}, {agency: dict(populations or {})},
                             standard, weights, confidence)
    return result[agency]


def estimate_desk(
    stats: StratumStats,
    population: int | None = None,
    standard: Standard | str = DEFAULT_STANDARD,
    weights: str = "exact",
    confidence: float = 0.95,
    prior: tuple[float, Iterable[float]] | None = None,
    agency: str | None = None,
    desk: str | None = None,
) -> Estimate:
    """One desk alone (a dashboard drill-down). Pass its ``prior`` from the agency's
    :class:`GroupResult` (``desk_priors[desk]``: the dispersion of the agency's other desks,
    for the index and for each element) to get exactly the interval the agency view shows;
    without it the desk is judged by PHI_DEFAULT, as a lone desk is. Raises ValueError when
    the desk is not estimable."""
    std = _standard(standard)
    override = None
    if prior is not None:
        el = tuple(float(x) for x in prior[1])
        if len(el) != len(std.elements):
            raise ValueError("the prior needs one value per element")
        override = (float(prior[0]), el)
    key = desk if desk is not None else ""
    batch = _Batch({agency or "": {key: stats}}, {agency or "": {key: population}}, std,
                   weights, confidence, phi_override=override)
    result = batch.run()[agency or ""]
    if key not in result.desks:
        raise ValueError(f"desk not estimable: {result.not_estimable.get(key)}")
    est = result.desks[key]
    if agency is None or desk is None:
        est = _replace(est, agency=agency, desk=desk)
    return est


# ---------------------------------------------------------------------------------------
# JSON


def estimate_to_dict(est: Estimate, *, agency_row: bool) -> dict[str, Any]:
    """One result row in the ``ikm compute --format json`` shape (floats unrounded)."""
    row: dict[str, Any] = {"agency": est.agency, "desk": est.desk if not agency_row else None}
    if agency_row:
        row["method"] = est.method
    row.update(
        n=est.n,
        population=est.population,
        response_fraction=est.response_fraction,
        ikm=est.ikm,
        ikm_converted=est.ikm_converted,
        grade=est.grade,
        grade_label=est.grade_label,
        grade_label_en=est.grade_label_en,
        se=est.se,
        se_converted=est.se_converted,
        df=est.df,
        ci=list(est.ci),
        ci_t=list(est.ci_t) if est.ci_t is not None else None,
        grade_probabilities=est.grade_probabilities,
        confident_grade=est.confident_grade,
        required_sample=est.required_sample,
        sample_adequate=est.sample_adequate,
        elements=[
            {
                "code": e.code,
                "n": e.n,
                "nrr": e.nrr,
                "nrr_converted": e.nrr_converted,
                "se_converted": e.se_converted,
                "ci": list(e.ci),
                "ci_t": list(e.ci_t) if e.ci_t is not None else None,
            }
            for e in est.elements
        ],
        strata=est.strata,
        phi_pool=est.phi_pool,
        single_respondent_strata=list(est.single_respondent_strata),
        data_errors=list(est.data_errors),
    )
    return row


_NULL_KEYS = ("response_fraction", "ikm", "ikm_converted", "grade", "grade_label",
              "grade_label_en", "se", "se_converted", "df", "ci", "ci_t",
              "grade_probabilities", "confident_grade", "required_sample",
              "sample_adequate", "elements", "strata", "phi_pool")


def to_json_dict(results: GroupResult | Iterable[GroupResult]) -> dict[str, Any]:
    """``{"standard", "weights", "confidence", "results": [...]}``: per agency (sorted) its
    own row (``"desk": null``, with ``method`` and ``phi_pool``) then its desks sorted.
    A desk or agency without an estimate gets a row with nulls and ``not_estimable``."""
    groups = [results] if isinstance(results, GroupResult) else list(results)
    groups.sort(key=lambda g: g.agency)
    rows: list[dict[str, Any]] = []
    for g in groups:
        if g.estimate is not None:
            rows.append(estimate_to_dict(g.estimate, agency_row=True))
        else:
            rows.append(_null_row(g, None))
        for desk in sorted(set(g.desks) | {d for d in g.not_estimable if d is not None}):
            if desk in g.desks:
                rows.append(estimate_to_dict(g.desks[desk], agency_row=False))
            else:
                rows.append(_null_row(g, desk))
    first = groups[0] if groups else None
    return {
        "standard": first.standard if first else DEFAULT_STANDARD,
        "weights": first.weights if first else "exact",
        "confidence": first.confidence if first else 0.95,
        "results": rows,
    }


def _null_row(g: GroupResult, desk: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"agency": g.agency, "desk": desk}
    if desk is None:
        row["method"] = g.method
    reason = g.not_estimable.get(desk, "")
    row["n"] = 0 if reason == "no respondents" else None
    row["population"] = None
    row.update(dict.fromkeys(_NULL_KEYS))
    row["not_estimable"] = reason
    return row


# ---------------------------------------------------------------------------------------
# Internals


def _standard(standard: Standard | str) -> Standard:
    return get_standard(standard) if isinstance(standard, str) else standard


def _grades_ascending(std: Standard) -> tuple[str, ...]:
    return tuple(b.grade for b in reversed(std.bands))


def _replace(est: Estimate, **changes: Any) -> Estimate:
    values = {name: getattr(est, name) for name in Estimate.__dataclass_fields__}
    values.update(changes)
    return Estimate(**values)


def stratum_brackets(strata: list[StratumStats]) -> tuple[np.ndarray, ...]:
    """Per stratum: the answered counts and score sums per element (diagonals), and the
    ``n Q - S S'`` brackets b1 (scores), pp (scores x answered) and b3 (answered) from
    which every linearised covariance is a quadratic form in the ratios. Integer
    arithmetic, so there is no cancellation at the ceiling; n * syy fits int64 while
    n < 2**29, beyond that float is used."""
    n_s = np.array([s.n for s in strata], dtype=np.int64)
    cnt = np.array([s.cnt for s in strata])
    sy = np.array([s.sy for s in strata])
    syy = np.array([s.syy for s in strata])
    dcnt = np.diagonal(cnt, axis1=1, axis2=2)
    dsy = np.diagonal(sy, axis1=1, axis2=2)
    if n_s.max() < (1 << 29):
        nn = n_s[:, None, None]
        b1 = (nn * syy - dsy[:, :, None] * dsy[:, None, :]).astype(np.float64)
        pp = (nn * sy - dsy[:, :, None] * dcnt[:, None, :]).astype(np.float64)
        b3 = (nn * cnt - dcnt[:, :, None] * dcnt[:, None, :]).astype(np.float64)
    else:  # pragma: no cover - larger than any real desk
        nn = n_s[:, None, None].astype(np.float64)
        fs, fc = dsy.astype(np.float64), dcnt.astype(np.float64)
        b1 = nn * syy - fs[:, :, None] * fs[:, None, :]
        pp = nn * sy - fs[:, :, None] * fc[:, None, :]
        b3 = nn * cnt - fc[:, :, None] * fc[:, None, :]
    return dcnt, dsy, b1, pp, b3


def variance_weights(w: np.ndarray, f: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Each stratum's factor (1 - f) w^2 / (n - 1) on its brackets; 0 for a single
    respondent, who carries no variance information."""
    coef = np.zeros(np.shape(n), dtype=np.float64)
    np.divide((1.0 - f) * w * w, n - 1.0, out=coef, where=n > 1)
    return coef


def ratio_estimates(x: np.ndarray, a: np.ndarray, c1: np.ndarray, c2: np.ndarray,
                    c3: np.ndarray, c: np.ndarray, exact: bool) -> tuple[np.ndarray, ...]:
    """The one implementation of the index and its linearised variance, per result, from
    sums over the result's strata: X_j and A_j (weighted answered counts and score sums)
    and the brackets of :func:`stratum_brackets` weighted by (1 - f) w^2 / (n - 1), summed
    (c1, c2, c3). The covariance of the element ratios R = A / X is
    (C1 - C2 R' - C2' R + C3 R R') / (X X'); the index is their mean (exact weights) or
    weighted sum. Returns (answered, ratios, covariances, index variances, index)."""
    answered = x > 0
    ratio = np.zeros_like(x)
    np.divide(a, x, out=ratio, where=answered)
    xs = np.where(answered, x, 1.0)
    quad = (c1 - c2 * ratio[:, None, :] - np.swapaxes(c2, 1, 2) * ratio[:, :, None]
            + c3 * (ratio[:, :, None] * ratio[:, None, :]))
    cov = quad / (xs[:, :, None] * xs[:, None, :])
    var = np.maximum(np.einsum("rjk,j,k->r", cov, c, c), 0.0)
    ikm = ratio.sum(axis=1) / ratio.shape[1] if exact else ratio @ c
    return answered, ratio, cov, var, ikm


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts, axis=0)


def _grade_probs(mu: np.ndarray, se: np.ndarray, df: np.ndarray,
                 std: Standard) -> np.ndarray:
    """Truncated-t band probabilities, (k, bands) from the lowest band up. Each band's
    mass is taken on the side of the estimate where it is small (cdf below, sf above), so
    a probability of 1e-40 is not lost to cancellation."""
    edges = np.array([LOW * SCALE, *std.cuts(), HIGH * SCALE])
    t = (edges[None, :] - mu[:, None]) / se[:, None]
    dfs = df[:, None]
    cdf = special.stdtr(dfs, t)
    sf = special.stdtr(dfs, -t)
    lo_cdf, hi_cdf = cdf[:, :-1], cdf[:, 1:]
    lo_sf, hi_sf = sf[:, :-1], sf[:, 1:]
    above = edges[None, :-1] >= mu[:, None]
    mass = np.where(above, lo_sf - hi_sf, hi_cdf - lo_cdf)
    mass = np.maximum(mass, 0.0)
    total = mass.sum(axis=1, keepdims=True)
    return mass / total


def effective_n(m: np.ndarray, var: np.ndarray, n: np.ndarray, f: np.ndarray,
                prior: np.ndarray, kg: np.ndarray | None = None) -> np.ndarray:
    """The effective sample size n* of the published interval (revision 2, see
    docs/methodology.md), per result on the 1..4 scale; infinity for a census (f = 1).

    Where ``kg`` is given (the Korn-Graubard factor (t(n - 1)/t(df))^2 of a result over
    H >= 2 strata with df > 0) and the variance is informative, n* = (m-1)(4-m)/V x kg.
    Everywhere else the one-stratum form: the observed dispersion shrunk towards ``prior``
    with weight PRIOR_K, n* = n / ((1 - f) phi)."""
    m_c = np.clip(m, LOW, HIGH)
    g = (m_c - LOW) * (HIGH - m_c)
    informative = (var > 0) & (g > 0)
    open_ = f < 1
    one_minus_f = np.where(open_, 1.0 - f, 1.0)
    phi_hat = np.zeros_like(m_c)
    np.divide(var * n, one_minus_f * g, out=phi_hat, where=informative & open_)
    phi = ((n - 1) * phi_hat + PRIOR_K * prior) / (n - 1 + PRIOR_K)
    nstar = np.full_like(m_c, np.inf)
    np.divide(n, one_minus_f * phi, out=nstar, where=open_)
    if kg is not None:
        multi = informative & (kg > 0)
        kg_n = np.zeros_like(m_c)
        np.divide(g * kg, var, out=kg_n, where=multi)
        nstar = np.where(multi, kg_n, nstar)
    return nstar


def clopper_pearson(m: np.ndarray, nstar: np.ndarray, confidence: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The published interval on the 1..4 scale: Clopper-Pearson for p = (m - 1)/3 on n*
    trials (the Korn-Graubard form), x = p n* not rounded; [m, m] for a census
    (n* infinite). One call of the beta inverse for every bound of the batch."""
    m_c = np.clip(m, LOW, HIGH)
    p = (m_c - LOW) / (HIGH - LOW)
    alpha = 1.0 - confidence
    finite = np.isfinite(nstar)
    ns = np.where(finite, nstar, 1.0)
    x = p * ns
    need_lo = finite & (x > 0)
    need_hi = finite & (x < ns)
    k = int(need_lo.sum())
    bounds = special.betaincinv(
        np.concatenate([x[need_lo], x[need_hi] + 1]),
        np.concatenate([(ns - x + 1)[need_lo], (ns - x)[need_hi]]),
        np.concatenate([np.full(k, alpha / 2), np.full(int(need_hi.sum()), 1 - alpha / 2)]))
    lower = np.where(finite, 0.0, p)
    upper = np.where(finite, 1.0, p)
    lower[need_lo] = bounds[:k]
    upper[need_hi] = bounds[k:]
    lo = LOW + (HIGH - LOW) * lower
    hi = LOW + (HIGH - LOW) * upper
    # The interval contains its estimate; keep it so when rounding says otherwise.
    return np.minimum(lo, m_c), np.maximum(hi, m_c)


@dataclass(frozen=True, slots=True)
class _AgencyPlan:
    """An agency's strata are the contiguous range [first, last) of the batch."""

    group: int
    first: int
    last: int
    stratified: bool
    population: int | None
    f_one: float          # the fraction the one-stratum interval form uses
    errors: tuple[str, ...]
    census: bool


@dataclass(slots=True)
class _Columns:
    """The vectorised pass's per-result values as plain lists, converted in bulk with
    ``.tolist()`` (item i is result i: desks 0..S-1, then agencies), from which
    :meth:`_Batch._build` makes the result objects. ``ikm`` and ``se`` are on the 1..4
    scale; ``conv``, ``se_conv`` and the intervals are converted (x25). All are the
    index's (column 0 of the pass); the elements are already built."""

    ok: list[bool]          # every element answered: the result has an estimate
    n: list[int]            # respondents
    df: list[int]           # n - H
    ikm: list[float]
    conv: list[float]
    se: list[float]
    se_conv: list[float]
    lo: list[float]         # published interval
    hi: list[float]
    t_lo: list[float]       # t interval, used where t_ok
    t_hi: list[float]
    t_ok: list[bool]
    band: list[int]         # index into the bands from the lowest up
    graded: list[bool]      # estimable with at least GRADE_MIN_N respondents
    eligible: list[bool]    # has grade probabilities (row i of probs)
    probs: list[list[float]]
    census: list[bool]
    group: list[int]        # the agency's index
    strata: list[int]       # H
    elements: list[ElementEstimate]  # J per result, result after result


class _Batch:
    """One vectorised pass over every agency and desk of a request.

    Results 0..S-1 are the desks alone (one stratum each, weight 1, their own fpc);
    results S.. are the agencies, each over its contiguous range of strata.
    """

    def __init__(
        self,
        groups: Mapping[str, Mapping[str, StratumStats]],
        populations: Mapping[str, Mapping[str, int | None]],
        std: Standard,
        weights: str,
        confidence: float,
        phi_override: tuple[float, tuple[float, ...]] | None = None,
        desk_results: bool = True,
    ) -> None:
        if not 0 < confidence < 1:
            raise ValueError("confidence must lie strictly between 0 and 1")
        self.std = std
        self.mode = weights
        self.c = np.array(std.weights(weights), dtype=np.float64)
        self.exact = weights == "exact"
        self.J = len(std.elements)
        self.codes = std.element_codes
        self.confidence = float(confidence)
        self.groups = groups
        self.populations = populations
        self.phi_override = phi_override
        self.desk_results = desk_results
        self.grades = _grades_ascending(std)
        self.bands_up = tuple(reversed(std.bands))

    # -- planning ----------------------------------------------------------------------

    def _plan(self) -> None:
        J = self.J
        self.agencies = sorted(self.groups)
        strata: list[StratumStats] = []
        desk_of: list[str] = []
        group_of: list[int] = []
        pop_of: list[int | None] = []
        f_of: list[float] = []
        err_of: list[str | None] = []
        self.not_estimable: list[dict[str | None, str]] = []
        self.methods: list[str] = []
        self.plans: list[_AgencyPlan] = []
        for gi, agency in enumerate(self.agencies):
            desks = self.groups[agency]
            pops = self.populations.get(agency) or {}
            problems: dict[str | None, str] = {}
            notes: list[str] = []
            first = len(strata)
            known_all = True
            pop_total = 0
            for desk in sorted(desks):
                stats = desks[desk]
                if stats.cnt.shape[0] != J:
                    raise ValueError(
                        f"{agency}/{desk}: statistics have {stats.n_elements} elements, "
                        f"{self.std.code} has {J}")
                pop = pops.get(desk)
                if pop is None:
                    known_all = False
                else:
                    pop = _check_population(pop, agency, desk)
                    pop_total += pop
                n = stats.n
                if n == 0:
                    problems[desk] = "no respondents"
                    if pop:
                        notes.append(f"desk {desk} has a population of {pop} but no "
                                     "respondents; the agency estimate does not cover it")
                    continue
                f, err = 0.0, None
                if pop is not None:
                    if n > pop:
                        err = (f"desk {desk}: {n} respondents exceed its population of "
                               f"{pop}; no finite population correction applied")
                    else:
                        f = n / pop
                strata.append(stats)
                desk_of.append(desk)
                group_of.append(gi)
                pop_of.append(pop)
                f_of.append(f)
                err_of.append(err)
            last = len(strata)
            member_pops = pop_of[first:last]
            # Stratified iff every desk with respondents has a population.
            stratified = (all(p is not None for p in member_pops) if last > first
                          else known_all)
            self.methods.append(STRATIFIED if stratified else POOLED)
            self.not_estimable.append(problems)
            if last == first:
                problems[None] = "no respondents"
                continue
            members = strata[first:last]
            errors = tuple(e for e in err_of[first:last] if e) + tuple(notes)
            has_error = any(err_of[first:last])
            covered = sum(p or 0 for p in member_pops)
            if last - first == 1:
                f_one = f_of[first] if stratified else 0.0
            elif stratified and not has_error and covered > 0:
                f_one = sum(s.n for s in members) / covered
            else:
                f_one = 0.0
            self.plans.append(_AgencyPlan(
                group=gi, first=first, last=last, stratified=stratified,
                population=pop_total if known_all else None, f_one=f_one, errors=errors,
                census=stratified and all(p == s.n for p, s in zip(member_pops, members,
                                                                    strict=True))))
        self.strata = strata
        self.desk_of = desk_of
        self.group_of = np.array(group_of, dtype=np.int64)
        self.pop_of = pop_of
        self.f_of = np.array(f_of, dtype=np.float64)
        self.err_of = err_of

    # -- the vectorised pass -------------------------------------------------------------

    def run(self) -> dict[str, GroupResult]:
        self._plan()
        n_groups = len(self.agencies)
        if not self.strata:
            return {agency: self._group(gi, None, {}, PHI_DEFAULT, (PHI_DEFAULT,) * self.J)
                    for gi, agency in enumerate(self.agencies)}
        J = self.J
        S = len(self.strata)
        plans = self.plans
        A = len(plans)
        R = S + A
        n_s = np.array([s.n for s in self.strata], dtype=np.int64)
        dcnt, dsy, b1, pp, b3 = stratum_brackets(self.strata)

        # Memberships: every stratum alone, then every agency over its strata (all strata
        # again, in order, since agencies hold contiguous ranges).
        strat_a = np.array([p.stratified for p in plans], dtype=bool)
        first_a = np.array([p.first for p in plans], dtype=np.int64)
        size_a = np.array([p.last - p.first for p in plans], dtype=np.int64)
        agency_of_s = np.repeat(np.arange(A), size_a)
        stratified_s = strat_a[agency_of_s]
        pop_s = np.array([p if p is not None else 0 for p in self.pop_of], dtype=np.float64)
        mem_s = np.concatenate([np.arange(S), np.arange(S)])
        starts = np.concatenate([np.arange(S), S + first_a])
        mem_w = np.concatenate([np.ones(S), np.where(stratified_s, pop_s / n_s, 1.0)])
        mem_f = np.concatenate([self.f_of, np.where(stratified_s, self.f_of, 0.0)])
        h_res = np.concatenate([np.ones(S, dtype=np.int64), size_a])

        x = _segment_sum(mem_w[:, None] * dcnt[mem_s], starts)            # X_j
        a = _segment_sum(mem_w[:, None] * dsy[mem_s], starts)             # weighted sums
        n_mem = n_s[mem_s]
        coef = variance_weights(mem_w, mem_f, n_mem)
        c1, c2, c3 = (_segment_sum(coef[:, None, None] * b[mem_s], starts)
                      for b in (b1, pp, b3))
        answered, ratio, cov, var, ikm = ratio_estimates(x, a, c1, c2, c3, self.c,
                                                         self.exact)
        var_el = np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0)
        n_res = _segment_sum(n_mem, starts)
        df = n_res - h_res
        n_el = _segment_sum(dcnt[mem_s], starts)                           # n_j
        ok = answered.all(axis=1)

        # One flat pass of intervals: the index (column 0) and every element.
        m_all = np.concatenate([ikm[:, None], ratio], axis=1)
        v_all = np.concatenate([var[:, None], var_el], axis=1)
        n_int = np.concatenate([n_res[:, None], n_el], axis=1)
        n_all = np.maximum(n_int, 1).astype(np.float64)
        valid = np.concatenate([ok[:, None], answered], axis=1)

        # Dispersion pools from the desks' own estimates (results 0..S-1), per column:
        # each agency's pool over all its qualifying desks (reported as phi_pool, and the
        # prior of an agency whose strata show no variance), and each desk's leave-one-out
        # prior, the pool of the *other* desks of its agency.
        pool_args = [(self.group_of, n_groups, n_all[:S, c], self.f_of, m_all[:S, c],
                      v_all[:S, c], valid[:S, c]) for c in range(J + 1)]
        pools = np.stack([_pool(*args) for args in pool_args], axis=1)          # (G, J+1)
        priors = np.stack([_leave_one_out_prior(*args) for args in pool_args], axis=1)
        if self.phi_override is not None:  # estimate_desk given its prior from the agency
            priors = np.tile(np.array([self.phi_override[0], *self.phi_override[1]]),
                             (S, 1))
        plan_group = np.array([p.group for p in plans], dtype=np.int64)
        prior_all = np.concatenate([
            priors,
            # An agency of one desk has that desk's prior (no other desk: PHI_DEFAULT);
            # one of several uses its pool where its variance is 0 (form a fallback).
            np.where((size_a >= 2)[:, None], pools[plan_group], priors[first_a])])

        group_r = np.concatenate([self.group_of, plan_group])
        f_one = np.concatenate([self.f_of, np.array([p.f_one for p in plans])])
        census = np.concatenate([
            np.array([p is not None and p == s.n for p, s in zip(self.pop_of, self.strata,
                                                                   strict=True)], dtype=bool),
            np.array([p.census for p in plans], dtype=bool)])
        q = 0.5 + self.confidence / 2

        # Korn-Graubard factor (t(n - 1)/t(df))^2 for results over H >= 2 strata, df =
        # n - H per column (n: respondents, or those who answered the element).
        # Without desk results only the agencies' rows (S..R-1) become results, so only
        # theirs get intervals: every step below is per row (elementwise), so leaving the
        # desks' rows out changes no agency number; it spares the beta and t inverses of
        # 3,000 desks x 10 columns on a national parent's trend.
        first = 0 if self.desk_results else S
        w = slice(first, R)
        df_all = n_int[w] - h_res[w, None]
        use_kg = (h_res[w] >= 2)[:, None] & (df_all > 0)
        kg = np.zeros_like(m_all[w])
        if use_kg.any():
            k = int(use_kg.sum())
            tq = special.stdtrit(np.concatenate([n_all[w][use_kg] - 1.0,
                                                 df_all[use_kg].astype(np.float64)]), q)
            kg[use_kg] = (tq[:k] / tq[k:]) ** 2
        nstar = effective_n(m_all[w].ravel(), v_all[w].ravel(), n_all[w].ravel(),
                            np.repeat(f_one[w], J + 1), prior_all[w].ravel(), kg.ravel())
        lo_w, hi_w = clopper_pearson(m_all[w].ravel(), nstar, self.confidence)
        lo = np.zeros((R, J + 1))
        hi = np.zeros((R, J + 1))
        lo[w] = lo_w.reshape(R - first, J + 1) * SCALE
        hi[w] = hi_w.reshape(R - first, J + 1) * SCALE
        phi, phi_el = pools[:, 0], pools[:, 1:]

        has_df = (df > 0) & (np.arange(R) >= first)
        tq = np.zeros(R)
        if has_df.any():
            tq[has_df] = special.stdtrit(df[has_df].astype(np.float64),
                                         0.5 + self.confidence / 2)
        se_all = np.sqrt(v_all)
        se_conv = se_all * SCALE
        m_conv = m_all * SCALE
        t_ok = (se_all > 0) & has_df[:, None]
        t_lo, t_hi = m_conv - tq[:, None] * se_conv, m_conv + tq[:, None] * se_conv

        conv = m_conv[:, 0]
        graded = ok & (n_res >= GRADE_MIN_N)
        band_l = _band_index(conv, self.std)

        # Grade probabilities, one scipy call for all eligible results.
        eligible = ok & graded & has_df & (var > 0)
        probs = np.zeros((R, len(self.bands_up)))
        if eligible.any():
            probs[eligible] = _grade_probs(conv[eligible], se_conv[eligible, 0],
                                           df[eligible].astype(np.float64), self.std)

        # Result objects, from lists converted in bulk (construction dominates here);
        # without desk results only the agencies' rows (S..R-1) become objects.
        el_ci_t = [(lo_, hi_) if ok_ else None for lo_, hi_, ok_ in zip(
            t_lo[first:, 1:].ravel().tolist(), t_hi[first:, 1:].ravel().tolist(),
            t_ok[first:, 1:].ravel().tolist(), strict=True)]
        elements = list(map(
            partial(_fast_new, ElementEstimate, _ELEMENT_FIELDS),
            zip(
                self.codes * (R - first),
                n_el[first:].ravel().tolist(),
                ratio[first:].ravel().tolist(),
                m_conv[first:, 1:].ravel().tolist(),
                se_all[first:, 1:].ravel().tolist(),
                se_conv[first:, 1:].ravel().tolist(),
                zip(lo[first:, 1:].ravel().tolist(), hi[first:, 1:].ravel().tolist(),
                    strict=True),
                el_ci_t,
                strict=True,
            ),
        ))
        phi_list = phi.tolist()
        estimates = self._build(_Columns(
            ok=ok.tolist(), n=n_res.tolist(), df=df.tolist(), ikm=ikm.tolist(),
            conv=conv.tolist(), se=se_all[:, 0].tolist(), se_conv=se_conv[:, 0].tolist(),
            lo=lo[:, 0].tolist(), hi=hi[:, 0].tolist(), t_lo=t_lo[:, 0].tolist(),
            t_hi=t_hi[:, 0].tolist(), t_ok=t_ok[:, 0].tolist(), band=band_l,
            graded=graded.tolist(), eligible=eligible.tolist(), probs=probs.tolist(),
            census=census.tolist(), group=group_r.tolist(), strata=h_res.tolist(),
            elements=elements), priors[:, 0].tolist() + phi[plan_group].tolist(), first)

        desks: list[dict[str, Estimate]] = [{} for _ in range(n_groups)]
        agency_est: list[Estimate | None] = [None] * n_groups
        answered_l = answered.tolist()
        for i in range(first, R):
            est = estimates[i - first]
            g = int(group_r[i])
            desk = self.desk_of[i] if i < S else None
            if est is None:
                missing = [self.codes[j] for j in range(J) if not answered_l[i][j]]
                self.not_estimable[g][desk] = "nobody answered " + ", ".join(missing)
            elif desk is None:
                agency_est[g] = est
            else:
                desks[g][desk] = est
        phi_el_list = phi_el.tolist()
        desk_priors: list[dict[str, tuple[float, tuple[float, ...]]]] = [
            {} for _ in range(n_groups)]
        for s, row in enumerate(priors.tolist() if self.desk_results else ()):
            desk_priors[int(self.group_of[s])][self.desk_of[s]] = (row[0], tuple(row[1:]))
        return {agency: self._group(gi, agency_est[gi], desks[gi], phi_list[gi],
                                    tuple(phi_el_list[gi]), desk_priors[gi])
                for gi, agency in enumerate(self.agencies)}

    def _build(self, cols: _Columns, phi: list[float], first: int = 0
               ) -> list[Estimate | None]:
        """One Estimate per result from ``first`` on (None where not estimable), its
        elements at ``cols.elements[(i - first) * J:]``; ``phi`` is each result's
        phi_pool: a desk's prior (its agency's other desks), an agency's own pool."""
        std, J, grades, bands_up = self.std, self.J, self.grades, self.bands_up
        S = len(self.strata)
        # Locals for the loop: it runs once per result.
        ok, n, df, ikm, conv, se, se_conv = (cols.ok, cols.n, cols.df, cols.ikm, cols.conv,
                                             cols.se, cols.se_conv)
        lo, hi, t_lo, t_hi, t_ok = cols.lo, cols.hi, cols.t_lo, cols.t_hi, cols.t_ok
        band, graded, eligible, probs, census = (cols.band, cols.graded, cols.eligible,
                                                 cols.probs, cols.census)
        group, strata, elements = cols.group, cols.strata, cols.elements
        out: list[Estimate | None] = []
        for i in range(first, len(ok)):
            if not ok[i]:
                out.append(None)
                continue
            if i < S:
                agency, desk, method = self.agencies[group[i]], self.desk_of[i], None
                pop, errors = self.pop_of[i], ((self.err_of[i],) if self.err_of[i] else ())
                single = (desk,) if n[i] == 1 else ()
            else:
                plan = self.plans[i - S]
                agency, desk = self.agencies[plan.group], None
                method = STRATIFIED if plan.stratified else POOLED
                pop, errors = plan.population, plan.errors
                single = tuple(self.desk_of[s] for s in range(plan.first, plan.last)
                               if self.strata[s].n == 1)
            b = bands_up[band[i]] if graded[i] else None
            p: dict[str, float] | None = None
            if eligible[i]:
                p = dict(zip(grades, probs[i], strict=True))
            elif b is not None and se[i] == 0 and census[i]:
                # A census with no variation knows its grade exactly.
                p = {g: (1.0 if g == b.grade else 0.0) for g in grades}
            confident = None
            if p is not None:
                best = max(p, key=p.__getitem__)
                confident = best if p[best] >= CONFIDENT else None
            required = krejcie_morgan(pop) if pop is not None else None
            out.append(_fast_new(Estimate, _ESTIMATE_FIELDS, (
                agency, desk, method, n[i], pop, n[i] / pop if pop else None,
                ikm[i], conv[i], se[i], se_conv[i], df[i], (lo[i], hi[i]),
                (t_lo[i], t_hi[i]) if t_ok[i] else None,
                b.grade if b else None, b.label_id if b else None, b.label_en if b else None,
                p, confident, required, n[i] >= required if required is not None else None,
                tuple(elements[(i - first) * J:(i - first + 1) * J]), strata[i], single,
                errors,
                phi[i], std.code, self.mode, self.confidence)))
        return out

    def _group(self, gi: int, est: Estimate | None, desks: dict[str, Estimate],
               phi: float, phi_el: tuple[float, ...],
               priors: dict[str, tuple[float, tuple[float, ...]]] | None = None
               ) -> GroupResult:
        return GroupResult(
            agency=self.agencies[gi], method=self.methods[gi], estimate=est, desks=desks,
            phi_pool=phi, element_phi_pool=phi_el, not_estimable=self.not_estimable[gi],
            standard=self.std.code, weights=self.mode, confidence=self.confidence,
            desk_priors=priors or {})


def _band_index(converted: np.ndarray, std: Standard) -> list[int]:
    """Band of each converted value, counted from the lowest, exactly as
    ``Standard.grade`` decides it (half-up to two decimals): a float comparison with the
    cuts far from them, the Decimal rule itself within 1e-6 of a cut."""
    cuts = np.array(std.cuts())
    band = np.searchsorted(cuts, converted, side="right").tolist()
    near = (np.abs(converted[:, None] - cuts[None, :]) < 1e-6).any(axis=1)
    bands_up = tuple(reversed(std.bands))
    for i in np.flatnonzero(near).tolist():
        band[i] = bands_up.index(std.grade(float(converted[i])))
    return band


def _check_population(pop: Any, agency: str, desk: str) -> int | None:
    if pop is None:
        return None
    if isinstance(pop, bool) or not isinstance(pop, (int, np.integer)):
        raise TypeError(f"{agency}/{desk}: population must be an int or None, got {pop!r}")
    if pop < 0:
        raise ValueError(f"{agency}/{desk}: population must be non-negative")
    return int(pop)


def _pool_terms(n: np.ndarray, f: np.ndarray, m: np.ndarray, var: np.ndarray,
                valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each stratum's share of a pooled dispersion: (n_h - 1) s_h^2 and
    (n_h - 1)(m_h - 1)(4 - m_h), with s_h^2 = V_h n_h / (1 - f_h) from its own estimate,
    for strata with n_h >= 30 and f_h < 1 (zero terms for the others), and whether it
    qualifies."""
    use = valid & (n >= POOL_MIN_N) & (f < 1)
    one_minus_f = np.where(use, 1.0 - f, 1.0)
    s2 = var * n / one_minus_f
    m_c = np.clip(m, LOW, HIGH)
    g = (m_c - LOW) * (HIGH - m_c)
    return (np.where(use, (n - 1) * s2, 0.0), np.where(use, (n - 1) * g, 0.0), use)


def _ratio_or_default(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den, never below PHI_FLOOR; PHI_DEFAULT where nothing qualifies or every
    qualifying stratum sits exactly on a bound (0/0, e.g. all answers 4)."""
    out = np.full(np.shape(num), PHI_DEFAULT)
    np.divide(num, den, out=out, where=den > 0)
    return np.where(den > 0, np.maximum(out, PHI_FLOOR), PHI_DEFAULT)


def _pool(group: np.ndarray, n_groups: int, n: np.ndarray, f: np.ndarray, m: np.ndarray,
          var: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """phi_pool per group over all its qualifying strata: sum (n_h - 1) s_h^2 /
    sum (n_h - 1)(m_h - 1)(4 - m_h) (see _pool_terms, _ratio_or_default). The prior of an
    agency's own interval when its strata show no variance, and what results report."""
    num, den, _use = _pool_terms(n, f, m, var, valid)
    return _ratio_or_default(np.bincount(group, weights=num, minlength=n_groups),
                             np.bincount(group, weights=den, minlength=n_groups))


def _leave_one_out_prior(group: np.ndarray, n_groups: int, n: np.ndarray, f: np.ndarray,
                         m: np.ndarray, var: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per stratum, the pooled dispersion of the *other* strata of its group: the group's
    sums minus the stratum's own terms, O(strata). A desk never shrinks towards its own
    spread (revision 2); with no other qualifying stratum the prior is PHI_DEFAULT."""
    num, den, use = _pool_terms(n, f, m, var, valid)
    others = np.bincount(group, weights=use.astype(np.float64), minlength=n_groups)[group]
    others = others - use
    num_rest = np.bincount(group, weights=num, minlength=n_groups)[group] - num
    den_rest = np.bincount(group, weights=den, minlength=n_groups)[group] - den
    return np.where(others > 0, _ratio_or_default(num_rest, np.where(others > 0, den_rest,
                                                                      0.0)), PHI_DEFAULT)


__all__ = [
    "POOLED",
    "STRATIFIED",
    "ElementEstimate",
    "Estimate",
    "GroupResult",
    "estimate_desk",
    "estimate_group",
    "estimate_groups",
    "estimate_to_dict",
    "grade_probabilities",
    "krejcie_morgan",
    "to_json_dict",
]
