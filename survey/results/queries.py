"""Every IKM number the application shows comes from here: sufficient statistics per desk
and period (from the rollups, or from raw rows for checks), service populations from
ServiceVolume, and the engine run over them. Dashboards, the JSON API, exports and the
`flask ikm report` command all call `compute_groups` / `agency_report`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..admin.services import get_agency
from ..errors import ValidationError
from ..ikm.engine import GroupResult, estimate_groups
from ..ikm.standards import WEIGHT_MODES, display_decimal
from ..ikm.stats import StratumStats, flat_length, reduce_flat, reduce_rows
from ..models import (
    Agency,
    Answer,
    Desk,
    Element,
    Questionnaire,
    Response,
    ReviewDecision,
    ServiceVolume,
    StatsRollup,
)
from ..periods import Period, _add_months, _month_end
from .rollups import Contribution, decode_many, period_filter

SCOPES = ("clean", "all", "verified", "flagged")


# --- Which desks an agency's figures cover ---------------------------------------------


def descendant_agencies(session: Session, agency: Agency) -> list[Agency]:
    """The agency and every agency below it (an MPP's tenants, a regency's OPDs)."""
    ids = _descendants(_children(session), agency.id)
    by_id = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}
    return [by_id[i] for i in ids]


def _children(session: Session) -> dict[int | None, list[tuple[int, str]]]:
    children: dict[int | None, list[tuple[int, str]]] = defaultdict(list)
    for agency_id, parent_id, code in session.execute(
            select(Agency.id, Agency.parent_id, Agency.code)):
        children[parent_id].append((agency_id, code))
    return children


def _descendants(children: dict[int | None, list[tuple[int, str]]], root: int) -> list[int]:
    out, stack = [], [root]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(i for i, _code in sorted(children[current], key=lambda c: c[1],
                                               reverse=True))
    return out


@dataclass(frozen=True)
class DeskRef:
    id: int
    key: str  # the desk's label inside its group: "L1", or "CHILD/L1" below the agency
    code: str
    name: str
    agency_code: str
    questionnaire_id: int
    active: bool


def group_desks(session: Session, agency: Agency) -> list[DeskRef]:
    return _group_desks(session, [agency])[agency.id]


def _group_desks(session: Session, agencies: Sequence[Agency]) -> dict[int, list[DeskRef]]:
    """The desks each agency's figures cover (its own and those below it), for many
    agencies with two queries in all."""
    children = _children(session)
    codes = {i: code for kids in children.values() for i, code in kids}
    covered = {a.id: _descendants(children, a.id) for a in agencies}
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


def _scope_filter(scope: str):
    if scope == "all":
        return StatsRollup.scope.in_(("clean", "flagged"))
    if scope in ("clean", "verified", "flagged"):
        return StatsRollup.scope == scope
    raise ValidationError(f"scope must be one of {', '.join(SCOPES)}")


def desk_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date, scope: str = "clean",
) -> dict[tuple[int, int], StratumStats]:
    """Statistics per (desk id, questionnaire id) over [start, end] from the rollups:
    one query, whole months from monthly rows, the rest from daily rows."""
    if not desk_ids:
        return {}
    rows = session.execute(
        select(StatsRollup.desk_id, StatsRollup.questionnaire_id, StatsRollup.stats)
        .where(StatsRollup.desk_id.in_(list(desk_ids)), _scope_filter(scope),
               StatsRollup.service_id == 0, period_filter(start, end))
    ).all()
    return _sum_rows(session, [((r[0], r[1]), r[2]) for r in rows])


def service_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date,
) -> dict[tuple[int, int, int], StratumStats]:
    """Clean statistics per (service id, desk id, questionnaire id) over [start, end]."""
    if not desk_ids:
        return {}
    rows = session.execute(
        select(StatsRollup.service_id, StatsRollup.desk_id, StatsRollup.questionnaire_id,
               StatsRollup.stats)
        .where(StatsRollup.desk_id.in_(list(desk_ids)), StatsRollup.scope == "service",
               period_filter(start, end))
    ).all()
    return _sum_rows(session, [((r[0], r[1], r[2]), r[3]) for r in rows])


def _sum_rows(session: Session, rows: list[tuple[tuple, bytes]]) -> dict:
    widths = _element_counts(session)
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


def _element_counts(session: Session) -> dict[int, int]:
    return dict(session.execute(
        select(Element.questionnaire_id, func.count()).group_by(Element.questionnaire_id)
    ).all())


def flagged_now():
    """SQL: is the response currently flagged? Flagged at submission and not released
    by its latest review decision."""
    latest = (
        select(ReviewDecision.decision)
        .where(ReviewDecision.response_id == Response.id, ReviewDecision.kind == "flag")
        .order_by(ReviewDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return and_(Response.flags != "", func.coalesce(latest, "keep") != "release")


def _score_columns(width: int):
    return [
        func.max(case((Element.position == p, Answer.score), else_=0)).label(f"p{p}")
        for p in range(1, width + 1)
    ]


def iter_contributions(
    session: Session, desk_ids: Sequence[int] | None = None, chunk: int = 20_000,
    start: date | None = None, end: date | None = None,
) -> Iterator[list[Contribution]]:
    """Raw responses as rollup contributions, in chunks (pivoting answers in SQL)."""
    widths = _element_counts(session)
    width = max(widths.values())
    last_id = 0
    while True:
        query = (
            select(Response.id, Response.desk_id, Response.questionnaire_id, Response.day,
                   Response.service_id, Response.verified, flagged_now().label("flagged"),
                   Response.hour, Response.channel, Response.sex, Response.age,
                   Response.education, Response.occupation, *_score_columns(width))
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .join(Element, Element.id == Answer.element_id, isouter=True)
            .where(Response.id > last_id)
            .group_by(Response.id)
            .order_by(Response.id)
            .limit(chunk)
        )
        if desk_ids is not None:
            query = query.where(Response.desk_id.in_(list(desk_ids)))
        if start is not None and end is not None:
            query = query.where(Response.day.between(start, end))
        rows = session.execute(query).all()
        if not rows:
            return
        last_id = rows[-1][0]
        yield [
            Contribution(r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]),
                         tuple(int(x or 0) for x in r[13:13 + widths[r[2]]]), r[7], r[8],
                         (r[9], r[10], r[11], r[12]))
            for r in rows
        ]


def raw_desk_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date, scope: str = "clean",
) -> dict[tuple[int, int], StratumStats]:
    """The same as `desk_statistics`, computed from raw response rows (no rollups): for
    checks and for the benchmark that shows what the rollups buy."""
    _scope_filter(scope)
    keys, rows = [], []
    for chunk in iter_contributions(session, desk_ids, start=start, end=end):
        for c in chunk:
            keep = {"clean": not c.flagged, "flagged": c.flagged, "all": True,
                    "verified": c.verified and not c.flagged}[scope]
            if keep:
                keys.append((c.desk_id, c.questionnaire_id))
                rows.append(c.scores)
    out: dict[tuple[int, int], StratumStats] = {}
    by_width: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_width[len(r)].append(i)
    for indices in by_width.values():
        labels = sorted({keys[i] for i in indices})
        lookup = {k: n for n, k in enumerate(labels)}
        ids = np.array([lookup[keys[i]] for i in indices])
        scores = np.array([rows[i] for i in indices], dtype=np.int8)
        for label, stats in reduce_rows(ids, scores).items():
            out[labels[label]] = stats
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
        .where(ServiceVolume.desk_id.in_(list(desk_ids)),
               ServiceVolume.period_start.between(start.replace(day=1), end))
    ).all()
    monthly: dict[tuple[int, date], int] = {}
    daily: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for desk_id, granularity, day, count in rows:
        if granularity == "month":
            monthly[(desk_id, day)] = count
        else:
            daily[desk_id].append((day, count))
    out: dict[int, int | None] = {}
    for desk_id in desk_ids:
        total: int | None = 0
        month = start.replace(day=1)
        while month <= end and total is not None:
            first, last = max(month, start), min(_month_end(month), end)
            whole = first == month and last == _month_end(month)
            in_range = [c for d, c in daily[desk_id] if first <= d <= last]
            in_month = [c for d, c in daily[desk_id] if month <= d <= _month_end(month)]
            if whole and (desk_id, month) in monthly:
                total += monthly[(desk_id, month)]
            elif in_range or (whole and in_month):
                total += sum(in_range)
            elif (desk_id, month) in monthly:
                share = monthly[(desk_id, month)] * ((last - first).days + 1)
                total += int(display_decimal(share / _month_end(month).day, 0))
            else:
                total = None
            month = _add_months(month, 1)
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
    desk_ids = sorted({d.id for s in scopes for d in s.desks})
    reader = desk_statistics if use_rollups else raw_desk_statistics
    stats = reader(session, desk_ids, period.start, period.end, scope)
    pops = populations(session, desk_ids, period.start, period.end)
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
        raise ValidationError(f"weights must be one of {', '.join(WEIGHT_MODES)}")
    if not 0.5 <= confidence < 1:
        raise ValidationError("confidence must be between 0.5 and 1 (e.g. 0.95)")


def compute_groups(
    session: Session, scopes: Sequence[AgencyScope], period: Period, scope: str = "clean",
    weights: str = "exact", confidence: float = 0.95, use_rollups: bool = True,
) -> dict[str, GroupResult]:
    """Results for many agencies: one read per kind of data and one engine batch per
    questionnaire standard; keyed by agency code."""
    _check_settings(weights, confidence)
    inputs = group_inputs(session, scopes, period, scope, use_rollups)
    results: dict[str, GroupResult] = {}
    for standard, groups in inputs.statistics.items():
        results.update(estimate_groups(groups, inputs.populations[standard], standard,
                                       weights, confidence))
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
