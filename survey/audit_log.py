"""Audit events (logins, exports, configuration changes, moderation): each is a row and a
link of the hash chain, written in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import ledger
from .database import utcnow
from .models import AuditEvent, User


def record_event(
    session: Session,
    action: str,
    *,
    user: User | None = None,
    actor: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        created_at=utcnow(),
        user_id=user.id if user is not None else None,
        actor=actor or (user.email if user is not None else "cli"),
        action=action,
        target=target,
        details=details or {},
    )
    session.add(event)
    session.flush()
    row = {c.name: getattr(event, c.name) for c in AuditEvent.__table__.columns}
    ledger.append(session, [("audit", event.id, ledger.audit_payload(row))])
    return event
