"""Reporting periods (e.g. 2024-S1): closing one publishes its results on the public page."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.errors import ValidationError
from survey.core.models import ReportingPeriod
from survey.core.periods import PeriodError, parse_period


def create_period(session: Session, key: str, *, actor: Actor) -> ReportingPeriod:
    """Add a reporting period (open); the key is normalised (2024-s1 -> 2024-S1)."""
    try:
        period = parse_period(key)
    except PeriodError as exc:
        raise ValidationError(str(exc)) from None
    exists = session.scalar(select(ReportingPeriod.id).where(ReportingPeriod.key == period.key))
    if exists is not None:
        raise ValidationError(f"period {period.key} already exists")
    row = ReportingPeriod(key=period.key)
    session.add(row)
    session.flush()
    record_event(session, "period_created", actor, target=row.key)
    return row


def close_period(session: Session, period: ReportingPeriod, now: datetime, today: date, *,
                 actor: Actor) -> None:
    """Close a period, which publishes its results. Only once it is over (`today` in the
    site's zone): closing earlier would publish an index of a half-finished period."""
    if period.closed_at is not None:
        raise ValidationError(f"period {period.key} is already closed")
    end = parse_period(period.key).end
    if end >= today:
        raise ValidationError(f"period {period.key} runs until {end.isoformat()}; close it "
                              "after it has ended")
    period.closed_at = now
    session.flush()
    record_event(session, "period_closed", actor, target=period.key)


def reopen_period(session: Session, period: ReportingPeriod, *, actor: Actor) -> None:
    if period.closed_at is None:
        raise ValidationError(f"period {period.key} is not closed")
    period.closed_at = None
    session.flush()
    record_event(session, "period_reopened", actor, target=period.key)
