"""Publishing results: closing a period (which seals it and snapshots every agency's
figures), reopening it with a reason, and what the public page and the badge show -
including, after a revision, the figures published before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.errors import ValidationError
from survey.core.models import Agency, FollowUp, Publication, ReportingPeriod
from survey.core.org.periods import closed_periods
from survey.core.periods import Period, parse_period
from survey.core.results import cache, followups, queries
from survey.core.results.dashboard import YearChange, agency_estimate, year_change
from survey.core.review import published_comments
from survey.ikm.engine import Estimate


def latest_closed_period(session: Session) -> Period | None:
    """The closed reporting period that ended last."""
    periods = closed_periods(session)
    return max(periods, key=lambda p: (p.end, -p.days)) if periods else None


REASON_MAX = 500


def close_period(session: Session, period: ReportingPeriod, now: datetime, today: date, *,
                 actor: Actor) -> Publication:
    """Close a period: its results are published (a snapshot of every agency's figures)
    and sealed. Only once it is over (`today` in the site's zone): closing earlier would
    publish an index of a half-finished period."""
    if period.closed_at is not None:
        raise ValidationError(f"period {period.key} is already closed",
                              code="period_already_closed", period=period.key)
    span = parse_period(period.key)
    if span.end >= today:
        raise ValidationError(f"period {period.key} runs until {span.end.isoformat()}; close "
                              "it after it has ended", code="period_not_over",
                              period=period.key, end=span.end.isoformat())
    period.closed_at = now
    agencies = list(session.scalars(select(Agency).order_by(Agency.code)))
    results = queries.compute_groups(session, queries.agency_scopes(session, agencies), span)
    snapshot = {code: {"ikm": est.ikm_converted, "ci": list(est.ci), "grade": est.grade,
                       "n": est.n}
                for code, group in results.items() if (est := group.estimate) is not None}
    publication = Publication(period_key=period.key, published_at=now, results=snapshot)
    session.add(publication)
    session.flush()
    record_event(session, "period_closed", actor, target=period.key,
                 details={"publication": publication.id, "agencies": len(snapshot)})
    return publication


def reopen_period(session: Session, period: ReportingPeriod, reason: str, now: datetime, *,
                  actor: Actor) -> None:
    """Reopen a closed period to correct it (an administrator, with a written reason). Its
    publication is withdrawn but kept: once closed again, the public page says when the
    results were revised and shows what was published before."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required to reopen a published period",
                              code="reason_required")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"the reason is longer than {REASON_MAX} characters",
                              code="reason_too_long", limit=REASON_MAX)
    if period.closed_at is None:
        raise ValidationError(f"period {period.key} is not closed", code="period_not_closed",
                              period=period.key)
    period.closed_at = None
    for publication in session.scalars(select(Publication).where(
            Publication.period_key == period.key, Publication.withdrawn_at.is_(None))):
        publication.withdrawn_at, publication.withdrawn_reason = now, reason
    session.flush()
    record_event(session, "period_reopened", actor, target=period.key,
                 details={"reason": reason})


@dataclass(frozen=True)
class EarlierFigures:
    """What an agency's page said before a revision of the period."""

    published_at: datetime
    withdrawn_at: datetime
    reason: str
    ikm: float | None
    ci: tuple[float, float] | None
    grade: str | None
    n: int | None


@dataclass
class PublicResults:
    agency: Agency
    period: Period | None
    estimate: Estimate | None
    element_names: dict[str, str]
    follow_ups: list[FollowUp]
    comments: list[tuple[str, str]]
    revised_at: datetime | None = None  # when the current figures replaced earlier ones
    earlier: list[EarlierFigures] = field(default_factory=list)
    year: YearChange | None = None  # against the same period a year earlier


def history(session: Session, agency: Agency, period: Period
            ) -> tuple[datetime | None, list[EarlierFigures]]:
    """When the period's current publication replaced earlier ones, and the agency's
    figures in those (newest first)."""
    rows = list(session.scalars(select(Publication).where(
        Publication.period_key == period.key).order_by(Publication.id)))
    withdrawn = [r for r in rows if r.withdrawn_at is not None]
    current = [r for r in rows if r.withdrawn_at is None]
    if not withdrawn or not current:
        return None, []
    earlier = []
    for row in reversed(withdrawn):
        figures = (row.results or {}).get(agency.code) or {}
        earlier.append(EarlierFigures(
            row.published_at, row.withdrawn_at, row.withdrawn_reason or "",
            figures.get("ikm"), tuple(figures["ci"]) if figures.get("ci") else None,
            figures.get("grade"), figures.get("n")))
    return current[-1].published_at, earlier


def public_results(session: Session, agency: Agency, locale: str,
                   period: Period | None = None) -> PublicResults:
    """What the public page shows of `period` (a closed one the caller has checked;
    default: the latest closed period)."""
    period = period or latest_closed_period(session)
    scope = queries.agency_scope(session, agency)
    names = {e.code: e.name(locale) for e in scope.questionnaire.elements}
    if period is None:
        return PublicResults(agency, None, None, names, [], [])
    # A closed period's figures are kept (survey.core.results.cache): the page and the
    # badge are public and read far more often than the figures change.
    stamp = cache.fingerprint(session)
    estimate = agency_estimate(session, scope, period, stamp)
    year = year_change(session, scope, period, estimate, stamp=stamp)
    revised_at, earlier = history(session, agency, period)
    return PublicResults(
        agency, period, estimate, names,
        followups.for_period(session, agency, period),
        published_comments(session, [d.id for d in scope.desks], period.start, period.end),
        revised_at, earlier, year,
    )
