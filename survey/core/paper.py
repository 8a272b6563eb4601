"""Storing typed paper sheets.

A paper questionnaire carries a date but no time, so it is stored at 12:00 (noon) of that
date in the agency's time zone: the response then falls on the right local day whatever
the zone, and the arrival heatmap shows paper as one midday block rather than as fake
hours. The sheet's random key plus the row number is each response's idempotency key, so
sending the same sheet twice (a double Enter, a reload) stores it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.db import write_transaction
from survey.core.errors import ValidationError
from survey.core.models import ChainEntry, Desk, Receipt, Response
from survey.core.responses import NewResponse, record_responses

PAPER_HOUR = time(12)
MAX_ROWS = 25  # rows of one typed sheet


@dataclass(frozen=True)
class Entry:
    """A valid row, ready to store."""

    number: int
    day: date
    service_id: int | None
    answers: dict[str, int]
    profile: dict[str, str | None]
    comment: str | None


@dataclass(frozen=True)
class Saved:
    number: int  # the row on the sheet
    receipt: str


@dataclass(frozen=True)
class SheetOutcome:
    rows: list[Saved]
    replayed: bool = False


def noon(day: date, timezone: str) -> datetime:
    """When a paper response is stored: 12:00 on the form's date, agency time."""
    return datetime.combine(day, PAPER_HOUR, ZoneInfo(timezone))


def row_key(sheet_key: str, number: int) -> str:
    return f"{sheet_key}-{number:02d}"


def _earlier(session: Session, desk: Desk, sheet_key: str) -> list[Saved] | None:
    keys = {row_key(sheet_key, n): n for n in range(1, MAX_ROWS + 1)}
    rows = session.execute(
        select(Response.idempotency_key, Response.desk_id, Receipt.code)
        .join(ChainEntry, (ChainEntry.kind == "response") & (ChainEntry.ref_id == Response.id))
        .join(Receipt, Receipt.seq == ChainEntry.seq)
        .where(Response.idempotency_key.in_(keys))
    ).all()
    if not rows:
        return None
    if any(desk_id != desk.id for _key, desk_id, _code in rows):
        raise ValidationError("this sheet was already saved for another desk",
                              code="sheet_other_desk")
    return sorted((Saved(keys[key], code) for key, _d, code in rows),
                  key=lambda s: s.number)


def store_sheet(session: Session, desk: Desk, entries: Sequence[Entry], sheet_key: str,
                *, actor: Actor) -> SheetOutcome:
    """Store the valid rows of one sheet in one transaction, with one audit event; a sheet
    already stored returns its first outcome and stores nothing."""
    desk_id, agency_code, desk_code = desk.id, desk.agency.code, desk.code
    timezone = desk.agency.timezone
    items = [
        NewResponse(desk_id=desk_id, answers=e.answers, submitted_at=noon(e.day, timezone),
                    channel="paper", service_id=e.service_id, comment=e.comment,
                    idempotency_key=row_key(sheet_key, e.number), **e.profile)
        for e in entries
    ]
    try:
        with write_transaction(session):
            earlier = _earlier(session, desk, sheet_key)
            if earlier is not None:
                return SheetOutcome(earlier, replayed=True)
            recorded = record_responses(session, items)
            record_event(session, "paper_entered", actor,
                         target=f"{agency_code}/{desk_code}",
                         details={"responses": len(items)})
    except IntegrityError:
        # The same sheet, sent twice at once: the other request committed first.
        earlier = _earlier(session, desk, sheet_key)
        session.commit()
        if earlier is not None:
            return SheetOutcome(earlier, replayed=True)
        raise
    return SheetOutcome([Saved(e.number, r.receipt)
                         for e, r in zip(entries, recorded, strict=True)])
