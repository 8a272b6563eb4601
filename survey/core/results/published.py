"""What the regulation says to publish, for the public results page and the badge."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.models import Agency, FollowUp, ReportingPeriod
from survey.core.periods import Period, PeriodError, parse_period
from survey.core.results import followups, queries
from survey.core.review import published_comments
from survey.ikm.engine import Estimate


def latest_closed_period(session: Session) -> Period | None:
    """The closed reporting period that ended last."""
    periods = []
    for key in session.scalars(select(ReportingPeriod.key).where(
            ReportingPeriod.closed_at.is_not(None))):
        try:
            periods.append(parse_period(key))
        except PeriodError:
            continue
    return max(periods, key=lambda p: (p.end, -p.days)) if periods else None


@dataclass
class PublicResults:
    agency: Agency
    period: Period | None
    estimate: Estimate | None
    element_names: dict[str, str]
    follow_ups: list[FollowUp]
    comments: list[tuple[str, str]]


def public_results(session: Session, agency: Agency, locale: str) -> PublicResults:
    period = latest_closed_period(session)
    scope = queries.agency_scope(session, agency)
    names = {e.code: e.name(locale) for e in scope.questionnaire.elements}
    if period is None:
        return PublicResults(agency, None, None, names, [], [])
    result = queries.compute_groups(session, [scope], period).get(agency.code)
    return PublicResults(
        agency, period, result.estimate if result else None, names,
        followups.for_period(session, agency, period),
        published_comments(session, [d.id for d in scope.desks], period.start, period.end),
    )
