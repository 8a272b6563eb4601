"""Audit events (logins, exports, configuration changes, moderation): each is a row and a
link of the hash chain, written in the caller's transaction.

Core operations write their own events with the actor their caller passes, so a change
made on a web page, by a `flask` command or through an import leaves the same trace.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from survey.core import ledger
from survey.core.db import utcnow
from survey.core.models import AuditEvent, User

# Who did it: a signed-in user, or None for an operator at the command line ("cli").
Actor = User | None
CLI = "cli"


def record_event(
    session: Session,
    action: str,
    actor: Actor,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEvent:
    """Store one event. `actor_name` replaces the name shown for the actor (a failed login
    names the e-mail that was typed, with no user behind it)."""
    event = AuditEvent(
        created_at=utcnow(),
        user_id=actor.id if actor is not None else None,
        actor=actor_name or (actor.email if actor is not None else CLI),
        action=action,
        target=target,
        details=details or {},
    )
    session.add(event)
    session.flush()
    row = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.columns}
    ledger.append(session, [("audit", event.id, ledger.audit_payload(row))])
    return event
