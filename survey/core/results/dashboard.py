"""Everything the agency dashboard shows (and the XLSX workbook and PDF report print),
assembled from the results queries and the engine. No statistics are computed here
beyond calling the engine; this module only decides what to ask for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.core.db import any_of
from survey.core.models import Agency, CountRollup, Desk, FollowUp, Service
from survey.core.periods import Period, PeriodError, current_period
from survey.core.profile import PROFILE
from survey.core.results import cache, queries
from survey.core.review import pending_count, published_comments
from survey.core.rollups import period_filter
from survey.ikm.compare import Comparison, DeskScreen, compare, screen_desks
from survey.ikm.engine import ElementEstimate, Estimate, GroupResult, estimate_groups
from survey.ikm.stats import StratumStats

TREND_PERIODS = 6
WEEKDAYS_ID = ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class DeskRow:
    id: int
    key: str
    name: str
    estimate: Estimate | None
    rank: int | None
    screen: DeskScreen | None
    reason: str | None  # why there is no estimate


@dataclass
class ServiceRow:
    code: str
    name: str
    estimate: Estimate | None
    rank: int | None


@dataclass
class TrendPoint:
    period: Period
    estimate: Estimate | None
    change: Comparison | None  # against the previous period


@dataclass
class YearChange:
    """The index against the same period a year earlier (2024-S1 against 2023-S1): a
    comparison free of seasons, beside the change against the previous period."""

    period: Period               # the same period a year earlier
    estimate: Estimate | None    # its index (None: no responses then)
    change: Comparison | None    # now - then; None when either has no estimate


def year_change(session: Session, scope: queries.AgencyScope, period: Period,
                current: Estimate | None,
                known: Sequence[tuple[Period, Estimate | None]] = (),
                stamp: tuple | None = None) -> YearChange | None:
    """The agency's change against the same period a year earlier, its estimate taken
    from `known` (e.g. the trend) when it is there, else computed as every period's is
    (kept when sealed, see `agency_estimate`); None when there is no period a year
    before."""
    try:
        earlier = period.year_earlier()
    except PeriodError:
        return None
    found = [e for p, e in known if p == earlier]
    estimate = found[0] if found else agency_estimate(session, scope, earlier, stamp)
    change = compare(current, estimate) if current is not None and estimate is not None else None
    return YearChange(earlier, estimate, change)


def agency_estimate(session: Session, scope: queries.AgencyScope, period: Period,
                    stamp: tuple | None = None, first: date | None = None
                    ) -> Estimate | None:
    """The agency's own index in a period (no desk results), kept when the period is
    sealed under the `cache.fingerprint` ``stamp`` (from ``first``, the first month with
    any response, when the caller read it)."""
    return cache.FIGURES.get_or_compute(
        cache.key(stamp, "estimate", scope.agency.id, period=period, since=first),
        lambda: _estimate(queries.compute_groups(session, [scope], period, desks=False)
                          .get(scope.agency.code)))


def agency_estimates(session: Session, scope: queries.AgencyScope,
                     periods: Sequence[Period], stamp: tuple | None = None,
                     first: date | None = None) -> dict[Period, Estimate | None]:
    """`agency_estimate` for several periods that do not overlap (the trend's earlier
    periods, the year before): the kept ones from the cache, the others computed together,
    one read of the rollups and one engine batch (each period a group of its own, so the
    same numbers). A national parent of 3,000 desks reads each period once, not per call."""
    out: dict[Period, Estimate | None] = {}
    todo: list[tuple[Period, tuple | None]] = []
    for p in periods:
        if first is None or p.end < first:
            out[p] = None
            continue
        key = cache.key(stamp, "estimate", scope.agency.id, period=p, since=first)
        kept = cache.FIGURES.get(key)
        if kept is cache.MISSING:
            todo.append((p, key))
        else:
            out[p] = kept
    if not todo:
        return out
    todo_periods = [p for p, _ in todo]
    desk_ids = [d.id for d in scope.desks]
    stats = queries.desk_statistics_by_period(session, desk_ids, todo_periods)
    standard = scope.questionnaire.standard
    code = scope.agency.code
    groups: dict[str, dict[str, StratumStats]] = {}
    pops: dict[str, dict[str, int | None]] = {}
    for i, p in enumerate(todo_periods):
        inputs = queries.arrange([scope], stats[i], queries.populations(
            session, desk_ids, p.start, p.end))
        groups[str(i)] = inputs.statistics[standard][code]
        pops[str(i)] = inputs.populations[standard][code]
    results = estimate_groups(groups, pops, standard, desks=False)
    for i, (p, key) in enumerate(todo):
        est = _estimate(results.get(str(i)))
        # The engine names an estimate after its group: the agency's code, as alone.
        out[p] = replace(est, agency=code) if est is not None else None
        cache.FIGURES.put(key, out[p])
    return out


@dataclass
class Dashboard:
    agency: Agency
    period: Period
    scope: queries.AgencyScope
    result: GroupResult
    estimate: Estimate | None
    verified: Estimate | None
    everything: Estimate | None
    n_clean: int
    n_flagged: int
    n_verified: int
    weakest: tuple[ElementEstimate, ...]
    desks: list[DeskRow]
    services: list[ServiceRow]
    trend: list[TrendPoint]
    arrivals: dict[tuple[int, int], tuple[int, float | None]]
    profile: dict[str, list[tuple[str, int]]]
    channels: dict[str, int]
    follow_ups: list[FollowUp]
    pending_flags: int
    pending_comments: int
    children: list[tuple[Agency, Estimate | None]] = field(default_factory=list)
    year: YearChange | None = None  # against the same period a year earlier

    @property
    def change(self) -> tuple[Period, Comparison] | None:
        """The change against the previous period, for the headline, when both have an
        estimate."""
        return _change([(t.period, t.estimate) for t in self.trend])


def _change(points: list[tuple[Period, Estimate | None]]
            ) -> tuple[Period, Comparison] | None:
    if len(points) < 2 or points[-1][1] is None or points[-2][1] is None:
        return None
    return points[-2][0], compare(points[-1][1], points[-2][1])


def _from_first_data(points: list, estimate=lambda point: point[1]) -> list:
    """Drop the periods before the first one with an estimate: a trend should not open
    with semesters in which nothing was collected yet. The current period always stays."""
    first = next((i for i, point in enumerate(points) if estimate(point) is not None),
                 len(points) - 1)
    return points[first:]


def _estimate(result: GroupResult | None) -> Estimate | None:
    return result.estimate if result is not None else None


@dataclass(frozen=True)
class _Figures:
    """What the page computes from the rollups and the volumes: a value with no ORM
    object, so a sealed period's can be kept (survey.core.results.cache)."""

    result: GroupResult
    verified: GroupResult | None
    everything: GroupResult | None
    n_flagged: int
    desks: list[DeskRow]
    services: list[ServiceRow]
    arrivals: dict[tuple[int, int], tuple[int, float | None]]
    profile: dict[str, list[tuple[str, int]]]
    channels: dict[str, int]
    pending: tuple[int, int]
    children: dict[str, Estimate | None]


_UNREAD: Any = object()


def build(session: Session, agency: Agency, period: Period,
          scope: queries.AgencyScope | None = None, first: date | None = _UNREAD
          ) -> Dashboard:
    """The page: who and what it covers read live, its figures computed (or, for a sealed
    period, taken from the cache when nothing they depend on has changed since).
    ``scope`` and ``first``: the agency's scope and first month when the caller has just
    read them (to pick the period), so that a page reads each once."""
    children = list(session.scalars(select(Agency).where(Agency.parent_id == agency.id)
                                    .order_by(Agency.code)))
    if scope is None:
        scope, *child_scopes = queries.agency_scopes(session, [agency, *children])
    else:
        child_scopes = queries.agency_scopes(session, children) if children else []
    stamp = cache.fingerprint(session)
    # The first month with any response: periods that end before it are empty (not
    # computed), and only the part of a period from it on must be sealed to be kept.
    if first is _UNREAD:
        first = queries.first_month(session, [d.id for d in scope.desks])
    figures = cache.FIGURES.get_or_compute(
        cache.key(stamp, "dashboard", agency.id, period=period, since=first),
        lambda: _figures(session, scope, child_scopes, period))
    estimate = figures.result.estimate
    verified = _estimate(figures.verified)
    trend, known = _trend(session, scope, period, estimate, stamp, first)
    return Dashboard(
        agency=agency,
        period=period,
        scope=scope,
        result=figures.result,
        estimate=estimate,
        verified=verified,
        everything=_estimate(figures.everything),
        n_clean=estimate.n if estimate else 0,
        n_flagged=figures.n_flagged,
        n_verified=verified.n if verified else 0,
        weakest=estimate.lowest_elements(3) if estimate else (),
        desks=figures.desks,
        services=figures.services,
        trend=trend,
        arrivals=figures.arrivals,
        profile=figures.profile,
        channels=figures.channels,
        follow_ups=list(session.scalars(
            select(FollowUp).where(FollowUp.agency_id == agency.id,
                                   FollowUp.period == period.key)
            .order_by(FollowUp.element_code, FollowUp.id))),
        pending_flags=figures.pending[0],
        pending_comments=figures.pending[1],
        children=[(c, figures.children.get(c.code)) for c in children],
        year=year_change(session, scope, period, estimate, known, stamp),
    )


def _figures(session: Session, scope: queries.AgencyScope,
             child_scopes: list[queries.AgencyScope], period: Period) -> _Figures:
    """Each kind of statistics is read once for the period and shared: the agencies below
    this one (an MPP's tenants) are estimated from the same read as the agency; the
    variants and the children need no desk results. Nothing outside the period: the
    trend's earlier periods are kept (or not) each on their own seal."""
    code = scope.agency.code
    standard = scope.questionnaire.standard
    desk_ids = [d.id for d in scope.desks]
    read_ids = queries.scope_desk_ids([scope, *child_scopes])
    clean = queries.desk_statistics(session, read_ids, period.start, period.end, "clean")
    desk_pops = queries.populations(session, read_ids, period.start, period.end)
    inputs = queries.arrange([scope], clean, desk_pops)
    stats = inputs.statistics[standard]
    pops = inputs.populations[standard]
    result = estimate_groups(stats, pops, standard)[code]
    screens = {s.desk: s for s in screen_desks(stats, pops, standard,
                                               results={code: result})}
    flagged = queries.desk_statistics(session, desk_ids, period.start, period.end, "flagged")
    verified = queries.arrange([scope], queries.desk_statistics(
        session, desk_ids, period.start, period.end, "verified"), desk_pops)
    children = (queries.run_engine(queries.arrange(child_scopes, clean, desk_pops),
                                   desks=False) if child_scopes else {})
    return _Figures(
        result=result,
        verified=queries.run_engine(verified, desks=False).get(code),
        everything=estimate_groups(_with_flagged(scope, stats[code], flagged), pops,
                                   standard, desks=False)[code],
        n_flagged=sum(s.n for s in flagged.values()),
        desks=_desk_rows(scope, result, screens),
        services=_service_rows(session, scope, period, standard),
        arrivals=_arrivals(session, desk_ids, period),
        profile=profile_counts(session, desk_ids, period),
        channels=_counts(session, desk_ids, period, "channel"),
        pending=_pending_counts(session, desk_ids, period),
        children={s.agency.code: _estimate(children.get(s.agency.code))
                  for s in child_scopes},
    )


def _with_flagged(scope: queries.AgencyScope, clean: dict[str, StratumStats],
                  flagged: dict[tuple[int, int], StratumStats]
                  ) -> dict[str, dict[str, StratumStats]]:
    """The "all" scope's statistics, clean plus flagged, as `group_inputs(..., "all")`
    would read them, from the two already read (the sums are of integers: the same)."""
    out: dict[str, StratumStats] = {}
    for d in scope.desks:
        parts = [s for s in (clean.get(d.key), flagged.get((d.id, d.questionnaire_id)))
                 if s is not None]
        if parts and (total := sum(parts[1:], parts[0])).n:
            out[d.key] = total
    return {scope.agency.code: out}


def _desk_rows(scope: queries.AgencyScope, result: GroupResult,
               screens: dict[str, DeskScreen]) -> list[DeskRow]:
    ranked = sorted(result.desks, key=lambda k: -result.desks[k].ikm_converted)
    ranks = {key: i + 1 for i, key in enumerate(ranked)}
    rows = [
        DeskRow(d.id, d.key, d.name, result.desks.get(d.key), ranks.get(d.key), screens.get(d.key),
                None if d.key in result.desks else result.not_estimable.get(
                    d.key, "no responses in this period"))
        for d in scope.desks
    ]
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, r.key))


def _service_rows(session: Session, scope: queries.AgencyScope, period: Period,
                  standard: str) -> list[ServiceRow]:
    """Each service across the desks that offer it (desks as strata, pooled: service
    volumes are not known per service)."""
    desk_keys = {d.id: d.key for d in scope.desks}
    stats = queries.service_statistics(session, list(desk_keys), period.start, period.end)
    groups: dict[str, dict] = defaultdict(dict)
    for (service_id, desk_id, _q), s in stats.items():
        if s.n:
            groups[str(service_id)][desk_keys[desk_id]] = s
    if not groups:
        return []
    results = estimate_groups(groups, {}, standard, desks=False)
    services = {str(s.id): s for s in session.scalars(
        select(Service).where(Service.id.in_([int(k) for k in groups])))}
    rows = [ServiceRow(services[k].code, services[k].name_id, results[k].estimate, None)
            for k in groups]
    rows.sort(key=lambda r: -(r.estimate.ikm_converted if r.estimate else -1))
    for i, row in enumerate(rows):
        row.rank = i + 1 if row.estimate else None
    return rows


def _trend(session: Session, scope: queries.AgencyScope, period: Period,
           current: Estimate | None, stamp: tuple | None, first: date | None
           ) -> tuple[list[TrendPoint], list[tuple[Period, Estimate | None]]]:
    """The last TREND_PERIODS periods up to `period`, whose estimate (`current`) the
    caller has already computed; those ending before `first` (the first month with any
    response; None: there is none) have none. With them, every period whose estimate is
    known, the same period a year earlier included (computed with the trend's)."""
    periods = trend_periods(period)
    earlier = [p for p in periods if p != period]
    with suppress(PeriodError):
        year = period.year_earlier()
        if year not in periods:
            earlier.append(year)
    if queries.periods_overlap(earlier):  # e.g. ranges longer than a year: each period on its own
        found = {p: (None if first is None or p.end < first else
                     agency_estimate(session, scope, p, stamp, first)) for p in earlier}
    else:
        found = agency_estimates(session, scope, earlier, stamp, first)
    found[period] = current
    points: list[TrendPoint] = []
    for p in periods:
        est = found[p]
        before = points[-1].estimate if points else None
        change = compare(est, before) if est is not None and before is not None else None
        points.append(TrendPoint(p, est, change))
    trend = _from_first_data(points, lambda point: point.estimate)
    known = [(t.period, t.estimate) for t in trend]
    known += [(p, e) for p, e in found.items() if p not in periods]
    return trend, known


def _pending_counts(session: Session, desk_ids: list[int], period: Period) -> tuple[int, int]:
    """Flagged responses and comments of the period still waiting for a decision; each
    count reads only its partial index (flagged rows, commented rows), not the period."""
    return tuple(pending_count(session, kind, desk_ids, period.start, period.end)
                 for kind in ("flag", "comment"))


def _count_rows(session: Session, desk_ids: list[int], period: Period, dimension: str):
    if not desk_ids:
        return []
    return session.execute(
        select(CountRollup.value, func.sum(CountRollup.n), func.sum(CountRollup.answers),
               func.sum(CountRollup.score_sum))
        .where(any_of(CountRollup.desk_id, desk_ids), CountRollup.dimension == dimension,
               period_filter(period.start, period.end, CountRollup))
        .group_by(CountRollup.value)).all()


def _counts(session: Session, desk_ids: list[int], period: Period,
            dimension: str) -> dict[str, int]:
    return {value: int(n) for value, n, _a, _s in _count_rows(session, desk_ids, period,
                                                              dimension)}


def _arrivals(session: Session, desk_ids: list[int], period: Period
              ) -> dict[tuple[int, int], tuple[int, float | None]]:
    """(weekday 0=Mon, hour) -> (responses, mean score of their answers)."""
    out = {}
    for value, n, answers, score_sum in _count_rows(session, desk_ids, period, "arrival"):
        weekday, hour = (int(x) for x in value.split("-"))
        out[(weekday, hour)] = (int(n), float(score_sum) / answers if answers else None)
    return out


def profile_counts(session: Session, desk_ids: list[int], period: Period
                   ) -> dict[str, list[tuple[str, int]]]:
    """Each profile question's choices (then "" for not stated) with how many responses
    of the period chose them: every response received, flagged ones included (the counts
    are kept per desk, not per result scope). The dashboard and the public infographic."""
    profile = {}
    for dimension, values in PROFILE.items():
        counts = _counts(session, desk_ids, period, dimension)
        profile[dimension] = [(v, counts.get(v, 0)) for v in values] + [("", counts.get("", 0))]
    return profile


def _desk_estimate(session: Session, scope: queries.AgencyScope, ref: queries.DeskRef,
                   period: Period) -> Estimate | None:
    """One desk's estimate in a period, within its agency (its interval shrinks towards
    the agency's other desks, as on the agency page)."""
    result = queries.compute_groups(session, [scope], period).get(scope.agency.code)
    return result.desks.get(ref.key) if result else None


def default_period(today: date) -> Period:
    """The current semester: what a unit reports on."""
    return current_period("semester", today)


def trend_periods(period: Period) -> list[Period]:
    """The last TREND_PERIODS periods of the same kind, ending with `period` (fewer near
    the year 1)."""
    periods = [period]
    for _ in range(TREND_PERIODS - 1):
        try:
            periods.insert(0, periods[0].previous())
        except PeriodError:
            break
    return periods


@dataclass
class DeskBoard:
    """One desk's page: its index in the period and over the last periods (each computed
    within its agency, as on the agency page), and its published comments."""

    ref: queries.DeskRef
    desk: Desk
    scope: queries.AgencyScope
    estimate: Estimate | None
    points: list[tuple[Period, Estimate | None]]
    comments: list[tuple[str, str]]

    @property
    def change(self) -> tuple[Period, Comparison] | None:
        return _change(self.points)


def build_desk(session: Session, agency: Agency, desk_id: int, period: Period
               ) -> DeskBoard | None:
    """The desk's page data, or None when the desk is not one of the agency's (on its
    questionnaire)."""
    scope = queries.agency_scope(session, agency)
    ref = next((d for d in scope.desks if d.id == desk_id), None)
    if ref is None:
        return None
    stamp = cache.fingerprint(session)
    points = []
    for p in trend_periods(period):
        points.append((p, cache.FIGURES.get_or_compute(
            cache.key(stamp, "desk", agency.id, desk_id, period=p),
            lambda p=p: _desk_estimate(session, scope, ref, p))))
    return DeskBoard(ref, session.get(Desk, desk_id), scope, points[-1][1],
                     _from_first_data(points),
                     published_comments(session, [desk_id], period.start, period.end))
