"""The citizen's side: the directory of desks on the home page, finding a desk by its
public link, and storing one submitted questionnaire (idempotent, with its one-time
ticket consumed in the same transaction)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from survey.core import tickets
from survey.core.catalog import DeskView
from survey.core.db import write_transaction
from survey.core.models import Agency, Answer, ChainEntry, Desk, Receipt, Response
from survey.core.responses import NewResponse, record_responses


@dataclass
class SurveyInput:
    """A questionnaire as the citizen submitted it (parsed and checked by the form)."""

    answers: dict[str, int] = field(default_factory=dict)
    service_id: int | None = None
    profile: dict[str, str | None] = field(default_factory=dict)
    comment: str | None = None
    idempotency_key: str | None = None
    honeypot: bool = False
    served_token: str | None = None


def is_low(answers: dict[str, int]) -> bool:
    """Answers low enough to point the citizen to the national complaint channel."""
    if not answers:
        return False
    scores = list(answers.values())
    return min(scores) == 1 or sum(scores) / len(scores) < 2.5


def agency_directory(session: Session) -> list[Agency]:
    """Every agency with its active desks, parents first, for the home page."""
    agencies = session.scalars(
        select(Agency)
        .options(selectinload(Agency.desks), selectinload(Agency.children))
        .order_by(Agency.code)
    ).all()
    return [a for a in agencies if a.parent_id is None]


def active_desks(agency: Agency) -> list[Desk]:
    return [d for d in agency.desks if d.active]


@dataclass(frozen=True)
class DirectoryEntry:
    """One agency of the home page with the active desks a citizen can rate."""

    agency: Agency
    parent: Agency | None
    desks: list[Desk]


def desk_directory(tops: list[Agency], query: str = "") -> list[DirectoryEntry]:
    """The agencies of `agency_directory` (each parent, such as a Mal Pelayanan Publik,
    before its children) with their active desks. A query keeps the desks whose agency,
    name, code or location contain every word of it, ignoring case; agencies left
    without desks are dropped."""
    words = query.casefold().split()
    entries = []
    for top in tops:
        for agency, parent in [(top, None)] + [
                (child, top) for child in sorted(top.children, key=lambda a: a.code)]:
            desks = [d for d in active_desks(agency) if all(
                w in " ".join((agency.name, agency.code, d.name, d.code, d.location or "",
                               parent.name if parent else "")).casefold()
                for w in words)]
            if desks or (not words and not agency.children):
                entries.append(DirectoryEntry(agency, parent, desks))
    return entries


@dataclass(frozen=True)
class Outcome:
    receipt: str
    low: bool
    masked_numbers: int = 0
    replayed: bool = False


class IdempotencyConflict(Exception):
    """The key was already used for a submission at another desk."""


def _replay(session: Session, key: str, desk_id: int) -> Outcome | None:
    """The outcome of the submission that used this idempotency key first, if any."""
    row = session.execute(
        select(Response.id, Response.desk_id, Receipt.code)
        .join(ChainEntry, (ChainEntry.kind == "response") & (ChainEntry.ref_id == Response.id))
        .join(Receipt, Receipt.seq == ChainEntry.seq)
        .where(Response.idempotency_key == key)
    ).first()
    if row is None:
        return None
    response_id, first_desk_id, code = row
    if first_desk_id != desk_id:
        raise IdempotencyConflict(key)
    scores = dict(session.execute(select(Answer.element_id, Answer.score)
                                  .where(Answer.response_id == response_id)).all())
    return Outcome(code, is_low({str(k): v for k, v in scores.items()}), replayed=True)


def submit(session: Session, desk: DeskView, data: SurveyInput, *, channel: str,
           flags: tuple[str, ...], now: datetime, ticket_token: str | None = None,
           device_id: int | None = None) -> Outcome:
    """Store one citizen response: in one write transaction consume the ticket (if any),
    insert the response with its answers, extend the chain and the rollups. A repeated
    idempotency key returns the first submission's outcome and stores nothing.
    `device_id`: the enrolled kiosk tablet it was answered on (channel kiosk)."""
    desk_id = desk.id
    item = NewResponse(
        desk_id=desk_id, answers=data.answers, submitted_at=now, channel=channel,
        service_id=data.service_id, verified=ticket_token is not None, flags=flags,
        comment=data.comment, idempotency_key=data.idempotency_key, device_id=device_id,
        **data.profile)
    try:
        with write_transaction(session):
            if data.idempotency_key:
                earlier = _replay(session, data.idempotency_key, desk_id)
                if earlier is not None:
                    return earlier
            if ticket_token is not None:
                tickets.consume(session, ticket_token, now)
            recorded = record_responses(session, [item])[0]
    except IntegrityError:
        # A concurrent request with the same idempotency key committed first.
        if data.idempotency_key:
            earlier = _replay(session, data.idempotency_key, desk_id)
            session.commit()
            if earlier is not None:
                return earlier
        raise
    return Outcome(recorded.receipt, is_low(data.answers), recorded.masked_numbers)
