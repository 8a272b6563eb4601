"""Staff accounts (citizens never have one: the survey is anonymous) and their bearer
tokens for the read API. Passwords and tokens are stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from survey.core.audit import Actor, record_event
from survey.core.db import utcnow, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import ROLES, ApiToken, User
from survey.core.org.agencies import get_agency
from survey.core.org.checks import optional_text

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
SCOPED_ROLES = ("agency_manager", "desk_staff")  # roles that see only their agencies
TOKEN_PREFIX = "skmapi_"
ANONYMOUS = "anonymous"  # the actor of a failed sign-in: whoever typed it is unknown
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # how often a token's last use is written
# Compared against when the e-mail is unknown, so that a failed sign-in takes the same
# time whether or not the account exists.
_DUMMY_HASH = generate_password_hash("not a real password")


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    agency_codes: Sequence[str] = (),
    name: str | None = None,
    *,
    actor: Actor,
) -> User:
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValidationError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise ValidationError(f"a user {email} already exists")
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in SCOPED_ROLES and not agencies:
        raise ValidationError(f"a {role} needs at least one --agency")
    user = User(email=email, name=optional_text(name), role=role, agencies=agencies,
                password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    # Never the password, not even hashed.
    record_event(session, "user_created", actor, target=user.email,
                 details={"role": user.role, "agencies": list(agency_codes)})
    return user


def update_user(
    session: Session,
    user: User,
    role: str,
    agency_codes: Sequence[str],
    active: bool,
    name: str | None,
    *,
    actor: Actor,
) -> dict[str, tuple[object, object]]:
    """Change a user's role, agencies, activity and name. An administrator cannot demote or
    deactivate themselves (nobody would be left to undo it). Returns the changes, which
    the audit event lists."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in SCOPED_ROLES and not agencies:
        raise ValidationError(f"a {role} needs at least one agency")
    if actor is not None and actor.id == user.id and (role != "admin" or not active):
        raise ValidationError("you cannot remove your own administrator role or deactivate "
                              "yourself")
    old = {"role": user.role, "agencies": [a.code for a in user.agencies],
           "active": user.active, "name": user.name}
    new = {"role": role, "agencies": sorted(a.code for a in agencies), "active": bool(active),
           "name": optional_text(name, 200)}
    user.role, user.agencies, user.active, user.name = (role, agencies, new["active"],
                                                        new["name"])
    session.flush()
    changes = {k: (old[k], new[k]) for k in new if old[k] != new[k]}
    if changes:
        record_event(session, "user_updated", actor, target=user.email,
                     details={k: list(v) for k, v in changes.items()})
    return changes


def set_password(session: Session, user: User, password: str, *, actor: Actor) -> None:
    """An administrator resets a user's password (it is then given to them in person)."""
    user.password_hash = generate_password_hash(check_password(password))
    session.flush()
    record_event(session, "user_password_reset", actor, target=user.email)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; audited either way. A
    failed attempt names the account only when it exists (by id), never what was typed
    (people type passwords into the e-mail field)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and valid and user.active:
        record_event(session, "login", user)
        return user
    record_event(session, "login_failed", None, actor_name=ANONYMOUS,
                 target=f"user:{user.id}" if user is not None else None)
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, name: str = "", *, actor: Actor) -> str:
    """A new bearer token (256 random bits) for the user; returned once, never stored in
    clear. Desk staff cannot read the API."""
    if user.role == "desk_staff":
        raise ValidationError("desk staff accounts cannot read the API")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=token_hash(token), name=name[:100]))
    session.flush()
    record_event(session, "api_token_created", actor, target=user.email,
                 details={"name": name})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a valid, unrevoked token belongs to. Its last use is noted (at most
    once a minute, in its own write transaction: concurrent API requests on SQLite must
    not collide on it)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
        token_id = row.id
        with write_transaction(session):
            session.execute(update(ApiToken).where(ApiToken.id == token_id)
                            .values(last_used_at=now))
        row = session.get(ApiToken, token_id)
    return row.user
