"""Staff accounts (citizens never have one: the survey is anonymous) and their bearer
tokens for the read API. Passwords and tokens are stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload
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
TOKEN_DAYS = 365  # default validity of an API token
# Compared against when the e-mail is unknown, so that a failed sign-in takes the same
# time whether or not the account exists.
_DUMMY_HASH = generate_password_hash("not a real password")


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD} characters",
                              code="password_short", limit=MIN_PASSWORD)
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
        raise ValidationError(f"{email!r} is not an e-mail address", code="bad_email",
                              value=email[:100])
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", code="bad_role",
                              value=role)
    check_password(password)
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise ValidationError(f"a user {email} already exists", code="user_exists",
                              email=email)
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in SCOPED_ROLES and not agencies:
        raise ValidationError(f"a {role} needs at least one --agency", code="role_needs_agency",
                              role=role)
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
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", code="bad_role",
                              value=role)
    agencies = [get_agency(session, c) for c in agency_codes]
    if role in SCOPED_ROLES and not agencies:
        raise ValidationError(f"a {role} needs at least one agency", code="role_needs_agency",
                              role=role)
    if actor is not None and actor.id == user.id and (role != "admin" or not active):
        raise ValidationError("you cannot remove your own administrator role or deactivate "
                              "yourself", code="own_admin")
    old = {"role": user.role, "agencies": [a.code for a in user.agencies],
           "active": user.active, "name": user.name}
    new = {"role": role, "agencies": sorted(a.code for a in agencies), "active": bool(active),
           "name": optional_text(name, 200)}
    user.role, user.agencies, user.active, user.name = (role, agencies, new["active"],
                                                        new["name"])
    changes = {k: (old[k], new[k]) for k in new if old[k] != new[k]}
    if changes.keys() & {"role", "agencies", "active"}:
        end_sessions(user)  # what the user may see changed: sign in again
    session.flush()
    if changes:
        record_event(session, "user_updated", actor, target=user.email,
                     details={k: list(v) for k, v in changes.items()})
    return changes


def end_sessions(user: User) -> None:
    """End every session of the user (they sign in again); the caller flushes."""
    user.session_version += 1


def set_password(session: Session, user: User, password: str, *, actor: Actor) -> None:
    """An administrator resets a user's password (it is then given to them in person);
    the user's sessions end."""
    user.password_hash = generate_password_hash(check_password(password))
    end_sessions(user)
    session.flush()
    record_event(session, "user_password_reset", actor, target=user.email)


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """A user changes their own password, proving the current one; every other session of
    theirs ends (the caller signs the current one in again)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise ValidationError("the current password is wrong", code="wrong_password")
    if new == current:
        raise ValidationError("the new password must differ from the current one",
                              code="same_password")
    user.password_hash = generate_password_hash(check_password(new))
    end_sessions(user)
    session.flush()
    record_event(session, "password_changed", user, target=user.email)


def sign_out(session: Session, user: User) -> None:
    """Signing out ends the user's sessions everywhere, not only in this browser."""
    end_sessions(user)
    session.flush()
    record_event(session, "logout", user)


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


def create_api_token(session: Session, user: User, name: str = "", *,
                     days: int | None = TOKEN_DAYS, actor: Actor) -> str:
    """A new bearer token (256 random bits) for the user, valid for `days` (None: until
    revoked); returned once, never stored in clear. Desk staff cannot read the API."""
    if user.role == "desk_staff":
        raise ValidationError("desk staff accounts cannot read the API", code="staff_no_api")
    if days is not None and not 1 <= days <= 3660:
        raise ValidationError("a token is valid for 1 to 3660 days", code="token_days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(days=days) if days is not None else None
    session.add(ApiToken(user=user, token_hash=token_hash(token), name=name[:100],
                         created_at=now, expires_at=expires))
    session.flush()
    record_event(session, "api_token_created", actor, target=user.email,
                 details={"name": name, "expires_at": expires.isoformat() if expires
                          else None})
    return token


def api_tokens(session: Session, user: User | None = None) -> list[ApiToken]:
    """Tokens (of one user, or all), newest first, with their users."""
    query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(
        ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke_api_token(session: Session, token_id: int, *, actor: Actor,
                     user: User | None = None) -> ApiToken:
    """Revoke a token (of `user`, when given); it stops working at once."""
    token = session.get(ApiToken, token_id)
    if token is None or (user is not None and token.user_id != user.id):
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is not None:
        raise ValidationError(f"API token {token_id} is already revoked", code="token_revoked")
    token.revoked_at = utcnow()
    session.flush()
    record_event(session, "api_token_revoked", actor, target=token.user.email,
                 details={"id": token.id, "name": token.name})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a valid, unrevoked token belongs to. Its last use is noted (at most
    once a minute, in its own write transaction: concurrent API requests on SQLite must
    not collide on it)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                ApiToken.revoked_at.is_(None)))
    now = utcnow()
    if row is None or not row.user.active or (row.expires_at is not None
                                               and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
        token_id = row.id
        with write_transaction(session):
            session.execute(update(ApiToken).where(ApiToken.id == token_id)
                            .values(last_used_at=now))
        row = session.get(ApiToken, token_id)
    return row.user
