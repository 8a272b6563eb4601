"""Reporting periods (e.g. 2024-S1), and the seal of closed ones.

Closing a period publishes its results (survey.core.results.published); from then on no
channel may add a response dated inside it, nor change whether a flagged one counts:
`check_open` is the one gate, called by the write path of responses and by the review.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core import catalog
from survey.core.audit import Actor, record_event
from survey.core.errors import ValidationError
from survey.core.models import ReportingPeriod
from survey.core.periods import Period, PeriodError, parse_period


def create_period(session: Session, key: str, *, actor: Actor) -> ReportingPeriod:
    """Add a reporting period (open); the key is normalised (2024-s1 -> 2024-S1)."""
    try:
        period = parse_period(key)
    except PeriodError as exc:
        raise ValidationError(str(exc), code="bad_period", period=str(key)[:40],
                              last_year=exc.params.get("year")) from None
    exists = session.scalar(select(ReportingPeriod.id).where(ReportingPeriod.key == period.key))
    if exists is not None:
        raise ValidationError(f"period {period.key} already exists", code="period_exists",
                              period=period.key)
    row = ReportingPeriod(key=period.key)
    session.add(row)
    session.flush()
    record_event(session, "period_created", actor, target=row.key)
    return row


def closed_periods(session: Session) -> list[Period]:
    """The sealed periods: closed, their results published (from the catalog copy, which
    every change to a reporting period replaces)."""
    return list(catalog.closed_periods(session))


def first_sealed(session: Session, days: Sequence[date]) -> tuple[int, Period] | None:
    """The index of the first of these (agency-local) days that lies in a closed period,
    and that period; None when every day is open."""
    if not days:
        return None
    sealed = closed_periods(session)
    for index, day in enumerate(days):
        for period in sealed:
            if period.contains(day):
                return index, period
    return None


def sealed_message(period: Period, day: date) -> str:
    return (f"period {period.key} is closed and its results are published; nothing dated "
            f"{day.isoformat()} can be added or changed (an administrator can reopen the "
            "period, with a reason)")


def check_open(session: Session, days: Sequence[date]) -> None:
    """ValidationError (code period_closed) naming the closed period when any of these days
    lies inside one: its published results must not change."""
    found = first_sealed(session, days)
    if found is not None:
        index, period = found
        raise ValidationError(sealed_message(period, days[index]), code="period_closed",
                              period=period.key, day=days[index].isoformat())
