"""The inputs of every IKM number the application shows, and the engine run over them.

Every number is computed by one implementation, the engine's `estimate_groups`, from
sufficient statistics read here: per desk and period from the rollups (`desk_statistics`,
`service_statistics`; `raw.raw_desk_statistics` reads the raw rows for checks), with the
populations from ServiceVolume (`populations`) and the desks an agency's figures cover
(`agency_scopes`). `compute_groups` / `agency_report` run the engine for the JSON API, the
exports' manifests, the public page and `flask ikm report`; the dashboard builder
(`results.dashboard`) reads the same inputs through `group_inputs` and calls the engine
itself for what it shows beside them (the all-responses variant, services, the desk
screen)."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from survey.core.db import any_of
from survey.core.errors import ValidationError
from survey.core.models import (
    Agency,
    Desk,
    Questionnaire,
    ServiceVolume,
    StatsRollup,
)
from survey.core.org.agencies import children_map, descendants, get_agency
from survey.core.periods import Period, add_months, month_end
from survey.core.questionnaires import element_counts
from survey.core.results import raw
from survey.core.rollups import decode_many, period_filter, scope_filter
from survey.ikm.engine import GroupResult, estimate_groups
from survey.ikm.standards import WEIGHT_MODES, display_decimal
from survey.ikm.stats import StratumStats, flat_length, reduce_flat

# --- Which desks an agency's figures cover ---------------------------------------------


@dataclass(frozen=True)
class DeskRef:
    id: int
    key: str  # the desk's label inside its group: "L1", or "CHILD/L1" below the agency
    code: str
    name: str
    agency_code: str
    questionnaire_id: int
    active: bool


def _group_desks(session: Session, agencies: Sequence[Agency]) -> dict[int, list[DeskRef]]:
    """The desks each agency's figures cover (its own and those below it), for many
    agencies with two queries in all."""
    children = children_map(session)
    codes = {i: code for kids in children.values() for i, code in kids}
    covered = {a.id: descendants(children, a.id) for a in agencies}
    wanted = sorted({i for ids in covered.values() for i in ids})
    by_agency: dict[int, list] = defaultdict(list)
    for row in session.execute(
            select(Desk.id, Desk.code, Desk.name, Desk.agency_id, Desk.questionnaire_id,
                   Desk.active).where(Desk.agency_id.in_(wanted)).order_by(Desk.id)):
        by_agency[row.agency_id].append(row)
    out = {}
    for a in agencies:
        rows = sorted((r for i in covered[a.id] for r in by_agency[i]), key=lambda r: r.id)
        out[a.id] = [
            DeskRef(r.id, r.code if r.agency_id == a.id else f"{codes[r.agency_id]}/{r.code}",
                    r.code, r.name, codes[r.agency_id], r.questionnaire_id, r.active)
            for r in rows
        ]
    return out


# --- Sufficient statistics ---------------------------------------------------------------


def first_month(session: Session, desk_ids: Sequence[int]) -> date | None:
    """The first month with any stored response at these desks (the start of what a
    period picker offers), from the monthly rollups."""
    if not desk_ids:
        return None
    return session.scalar(select(func.min(StatsRollup.period_start)).where(
        any_of(StatsRollup.desk_id, desk_ids), StatsRollup.grain == "M",
        StatsRollup.scope.in_(("clean", "flagged"))))


def desk_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date, scope: str = "clean",
) -> dict[tuple[int, int], StratumStats]:
    """Statistics per (desk id, questionnaire id) over [start, end] from the rollups:
    one query, whole months from monthly rows, the rest from daily rows."""
    if not desk_ids:
        return {}
    rows = fetch_rows(session,
        select(StatsRollup.desk_id, StatsRollup.questionnaire_id, StatsRollup.stats)
        .where(any_of(StatsRollup.desk_id, desk_ids), scope_filter(scope),
               StatsRollup.service_id == 0, period_filter(start, end)))
    return _sum_rows(session, [((r[0], r[1]), r[2]) for r in rows])


def periods_overlap(periods: Sequence[Period]) -> bool:
    """Whether two of the periods share a day."""
    ordered = sorted(periods, key=lambda p: p.start)
    return any(a.end >= b.start for a, b in pairwise(ordered))


def desk_statistics_by_period(
    session: Session, desk_ids: Sequence[int], periods: Sequence[Period], scope: str = "clean",
) -> list[dict[tuple[int, int], StratumStats]]:
    """`desk_statistics` for each of several periods that do not overlap (a trend), in one
    query: each row read belongs to the one period holding its first day."""
    if not periods:
        return []
    if periods_overlap(periods):
        raise ValueError("the periods overlap")
    ordered = sorted(periods, key=lambda p: p.start)
    if not desk_ids:
        return [{} for _ in periods]
    rows = fetch_rows(session,
        select(StatsRollup.period_start, StatsRollup.desk_id, StatsRollup.questionnaire_id,
               StatsRollup.stats)
        .where(any_of(StatsRollup.desk_id, desk_ids), scope_filter(scope),
               StatsRollup.service_id == 0,
               or_(*(period_filter(p.start, p.end) for p in periods))))
    index = {id(p): i for i, p in enumerate(periods)}
    starts = [p.start for p in ordered]
    keyed = []
    for start, desk_id, questionnaire_id, blob in rows:
        period = ordered[bisect_right(starts, start) - 1]
        keyed.append(((index[id(period)], desk_id, questionnaire_id), blob))
    out: list[dict[tuple[int, int], StratumStats]] = [{} for _ in periods]
    for (i, desk_id, questionnaire_id), stats in _sum_rows(session, keyed).items():
        out[i][(desk_id, questionnaire_id)] = stats
    return out


def service_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date,
) -> dict[tuple[int, int, int], StratumStats]:
    """Clean statistics per (service id, desk id, questionnaire id) over [start, end]."""
    if not desk_ids:
        return {}
    rows = fetch_rows(session,
        select(StatsRollup.service_id, StatsRollup.desk_id, StatsRollup.questionnaire_id,
               StatsRollup.stats)
        .where(any_of(StatsRollup.desk_id, desk_ids), StatsRollup.scope == "service",
               period_filter(start, end)))
    return _sum_rows(session, [((r[0], r[1], r[2]), r[3]) for r in rows])


def fetch_rows(session: Session, statement) -> list[tuple]:
    """The rows of a SELECT of rollup blobs. (A binary cursor on PostgreSQL read a
    parent's year of blobs in a third of the time, but it bypassed SQLAlchemy: its errors
    were not the DBAPIError the 503 page and the read replica's fallback expect, and the
    statement was invisible to the engine's events.)"""
    return [tuple(r) for r in session.execute(statement)]


def _sum_rows(session: Session, rows: list[tuple[tuple, bytes]]) -> dict:
    widths = element_counts(session)
    by_questionnaire: dict[int, list[tuple[tuple, bytes]]] = defaultdict(list)
    for key, blob in rows:
        by_questionnaire[key[-1]].append((key, blob))
    out: dict = {}
    for questionnaire_id, items in by_questionnaire.items():
        j = widths[questionnaire_id]
        keys = [k for k, _ in items]
        index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        labels = np.array([index[k] for k in keys])
        flat = decode_many([bytes(b) for _, b in items], flat_length(j))
        inverse = list(index)
        for label, stats in reduce_flat(labels, flat, j).items():
            out[inverse[label]] = stats
    return out


# --- Populations ---------------------------------------------------------------------------


def populations(
    session: Session, desk_ids: Sequence[int], start: date, end: date
) -> dict[int, int | None]:
    """Citizens served per desk over [start, end] (the survey population N), or None when
    some month of the period has no figure. Per month: the monthly figure when the whole
    month is in the period (else the sum of daily figures); for a partly covered month the
    daily figures in range, else the monthly figure prorated by days (rounded half-up)."""
    if not desk_ids:
        return {}
    rows = session.execute(
        select(ServiceVolume.desk_id, ServiceVolume.granularity, ServiceVolume.period_start,
               ServiceVolume.count)
        .where(any_of(ServiceVolume.desk_id, desk_ids),
               ServiceVolume.period_start.between(start.replace(day=1), end))
    ).all()
    monthly: dict[tuple[int, date], int] = {}
    daily: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for desk_id, granularity, day, count in rows:
        if granularity == "month":
            monthly[(desk_id, day)] = count
        else:
            daily[desk_id].append((day, count))
    # The months of the period, once: (month, first day in range, last, whole month?).
    spans = []
    month = start.replace(day=1)
    while month <= end:
        first, last = max(month, start), min(month_end(month), end)
        spans.append((month, first, last, first == month and last == month_end(month)))
        month = add_months(month, 1)
    out: dict[int, int | None] = {}
    for desk_id in desk_ids:
        days = daily.get(desk_id, ())
        total: int | None = 0
        for month, first, last, whole in spans:
            figure = monthly.get((desk_id, month))
            if whole and figure is not None:
                total += figure
                continue
            in_range = [c for d, c in days if first <= d <= last]
            in_month = [c for d, c in days if month <= d <= month_end(month)]
            if in_range or (whole and in_month):
                total += sum(in_range)
            elif figure is not None:
                share = figure * ((last - first).days + 1)
                total += int(display_decimal(share / month_end(month).day, 0))
            else:
                total = None
                break
        out[desk_id] = total
    return out


# --- Results ---------------------------------------------------------------------------------


@dataclass
class AgencyScope:
    """An agency with the desks its figures cover, on one questionnaire."""

    agency: Agency
    desks: list[DeskRef]
    questionnaire: Questionnaire
    excluded: list[DeskRef] = field(default_factory=list)  # on another questionnaire


def agency_scope(session: Session, agency: Agency) -> AgencyScope:
    return agency_scopes(session, [agency])[0]


def agency_scopes(session: Session, agencies: Sequence[Agency]) -> list[AgencyScope]:
    """Each agency with the desks its figures cover, on the questionnaire most of them
    use (desks on another questionnaire are listed as excluded)."""
    desks_of = _group_desks(session, agencies)
    default_id = None
    out = []
    for agency in agencies:
        desks = desks_of[agency.id]
        counts = Counter(d.questionnaire_id for d in desks)
        if counts:
            questionnaire_id = counts.most_common(1)[0][0]
        else:
            if default_id is None:
                default_id = session.scalar(select(Questionnaire.id).where(
                    Questionnaire.code == "permenpan-14-2017"))
            questionnaire_id = default_id
        out.append(AgencyScope(
            agency, [d for d in desks if d.questionnaire_id == questionnaire_id],
            session.get(Questionnaire, questionnaire_id),
            [d for d in desks if d.questionnaire_id != questionnaire_id]))
    return out


@dataclass
class GroupInputs:
    """What the engine needs for some agencies in one period, per questionnaire standard:
    statistics[agency][desk key] and populations[agency][desk key]."""

    statistics: dict[str, dict[str, dict[str, StratumStats]]]
    populations: dict[str, dict[str, dict[str, int | None]]]


def group_inputs(
    session: Session, scopes: Sequence[AgencyScope], period: Period, scope: str = "clean",
    use_rollups: bool = True,
) -> GroupInputs:
    """One database round trip for the statistics and one for the populations of all the
    agencies' desks."""
    desk_ids = scope_desk_ids(scopes)
    reader = desk_statistics if use_rollups else raw.raw_desk_statistics
    stats = reader(session, desk_ids, period.start, period.end, scope)
    pops = populations(session, desk_ids, period.start, period.end)
    return arrange(scopes, stats, pops)


def scope_desk_ids(scopes: Sequence[AgencyScope]) -> list[int]:
    """Every desk the agencies' figures cover, once, sorted."""
    return sorted({d.id for s in scopes for d in s.desks})


def arrange(scopes: Sequence[AgencyScope], stats: dict[tuple[int, int], StratumStats],
            pops: dict[int, int | None]) -> GroupInputs:
    """The engine's inputs for these agencies from statistics and populations read per
    desk (by `desk_statistics` and `populations` over at least their desks): a page that
    shows an agency and the agencies below it reads each period once."""
    inputs = GroupInputs(defaultdict(dict), defaultdict(dict))
    for s in scopes:
        standard = s.questionnaire.standard
        inputs.statistics[standard][s.agency.code] = {
            d.key: stats[(d.id, d.questionnaire_id)] for d in s.desks
            if (d.id, d.questionnaire_id) in stats and stats[(d.id, d.questionnaire_id)].n
        }
        inputs.populations[standard][s.agency.code] = {d.key: pops.get(d.id) for d in s.desks}
    return inputs


def _check_settings(weights: str, confidence: float) -> None:
    if weights not in WEIGHT_MODES:
        raise ValidationError(f"weights must be one of {', '.join(WEIGHT_MODES)}",
                              code="bad_weights", value=str(weights)[:20])
    if not 0.5 <= confidence < 1:
        raise ValidationError("confidence must be between 0.5 and 1 (e.g. 0.95)",
                              code="bad_confidence")


def compute_groups(
    session: Session, scopes: Sequence[AgencyScope], period: Period, scope: str = "clean",
    weights: str = "exact", confidence: float = 0.95, use_rollups: bool = True,
    *, desks: bool = True,
) -> dict[str, GroupResult]:
    """Results for many agencies: one read per kind of data and one engine batch per
    questionnaire standard; keyed by agency code. ``desks=False``: the agencies' own
    estimates only (see `estimate_groups`)."""
    _check_settings(weights, confidence)
    return run_engine(group_inputs(session, scopes, period, scope, use_rollups), weights,
                      confidence, desks=desks)


def run_engine(inputs: GroupInputs, weights: str = "exact", confidence: float = 0.95, *,
               desks: bool = True) -> dict[str, GroupResult]:
    """The engine over arranged inputs: one batch per questionnaire standard."""
    results: dict[str, GroupResult] = {}
    for standard, groups in inputs.statistics.items():
        results.update(estimate_groups(groups, inputs.populations[standard], standard,
                                       weights, confidence, desks=desks))
    return results


@dataclass
class AgencyReport:
    scope: AgencyScope
    period: Period
    result: GroupResult
    population_by_key: dict[str, int | None]


def agency_report(
    session: Session, agency_code: str, period: Period, scope: str = "clean",
    weights: str = "exact", confidence: float = 0.95,
) -> AgencyReport:
    agency = get_agency(session, agency_code)
    covered = agency_scope(session, agency)
    result = compute_groups(session, [covered], period, scope, weights, confidence)
    pops = populations(session, [d.id for d in covered.desks], period.start, period.end)
    return AgencyReport(covered, period, result[agency.code],
                        {d.key: pops.get(d.id) for d in covered.desks})
