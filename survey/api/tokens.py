"""Bearer tokens for the read API: 256 random bits, stored only as a SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import utcnow
from ..models import ApiToken, User

PREFIX = "skmapi_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, user: User, name: str = "") -> str:
    """A new token for the user; returned once, never stored in clear."""
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=token_hash(token), name=name[:100]))
    session.flush()
    return token


def user_for(session: Session, token: str) -> User | None:
    """The active user a valid, unrevoked token belongs to (and note its use)."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    session.commit()
    return row.user
