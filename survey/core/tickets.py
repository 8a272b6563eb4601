"""One-time visit tickets: a verified response for a citizen who was really served.

A token carries 128 random bits; only its SHA-256 is stored, so a database leak reveals
no usable ticket. Consuming one is a single conditional UPDATE in the transaction that
stores the response, so of any number of concurrent uses exactly one succeeds. The
response never records which ticket produced it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from survey.core.db import utcnow
from survey.core.errors import ValidationError
from survey.core.models import Desk, Ticket

MAX_BATCH = 500


class TicketRefused(Exception):
    """The ticket cannot be used: `status` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, desk: Desk, count: int = 1, ttl_hours: int = 24,
          now: datetime | None = None) -> list[str]:
    """Create `count` tickets for a desk; returns the tokens (shown once, never stored)."""
    if not desk.active:
        raise ValidationError(f"desk {desk.code} is closed", code="desk_closed", desk=desk.code)
    if not 1 <= count <= MAX_BATCH:
        raise ValidationError(f"count must be between 1 and {MAX_BATCH}", code="ticket_count",
                              limit=MAX_BATCH)
    if not 1 <= ttl_hours <= 24 * 31:
        raise ValidationError("validity must be between 1 hour and 31 days", code="ticket_ttl")
    now = now or utcnow()
    tokens = [secrets.token_urlsafe(16) for _ in range(count)]
    session.execute(insert(Ticket), [
        {"desk_id": desk.id, "token_hash": token_hash(t), "created_at": now,
         "expires_at": now + timedelta(hours=ttl_hours)} for t in tokens
    ])
    return tokens


def find(session: Session, token: str) -> Ticket:
    """The ticket with this token, used or not; TicketRefused(404) if there is none."""
    ticket = session.scalar(select(Ticket).where(Ticket.token_hash == token_hash(token)))
    if ticket is None:
        raise TicketRefused(404, "unknown")
    return ticket


def check(session: Session, token: str, now: datetime | None = None) -> Ticket:
    """The ticket if it can still be used; TicketRefused (404, 409 or 410) otherwise."""
    ticket = find(session, token)
    now = now or utcnow()
    if ticket.used_at is not None:
        raise TicketRefused(409, "used")
    if ticket.expires_at <= now:
        raise TicketRefused(410, "expired")
    return ticket


def consume(session: Session, token: str, now: datetime | None = None) -> int:
    """Mark the ticket used, atomically; returns its desk id. Must run inside the write
    transaction that stores the response, so that a failed insert un-uses the ticket."""
    now = now or utcnow()
    desk_id = session.execute(
        update(Ticket)
        .where(Ticket.token_hash == token_hash(token), Ticket.used_at.is_(None),
               Ticket.expires_at > now)
        .values(used_at=now)
        .returning(Ticket.desk_id)
    ).scalar()
    if desk_id is None:
        check(session, token, now)  # raises with the reason
        raise TicketRefused(409, "used")
    return desk_id
