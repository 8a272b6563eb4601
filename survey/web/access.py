"""Who may call which endpoint: one table, enforced for every request.

Every endpoint of the application must be listed in POLICY; an endpoint that is not is
refused (fail closed) and a test walks `app.url_map` so that none is ever forgotten.
Agency scoping (a manager sees only their agencies) is applied by the views through
`visible_agency_ids` / `require_agency`, which turn another agency's object into a 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from survey.core.errors import NotFound
from survey.core.models import Agency, Desk, User
from survey.core.org.agencies import descendant_ids, get_agency

PUBLIC = "public"  # anyone, no login
AUTHENTICATED = ("admin", "agency_manager", "auditor", "desk_staff")
READERS = ("admin", "agency_manager", "auditor")
MANAGERS = ("admin", "agency_manager")
TICKETS = ("admin", "agency_manager", "desk_staff")
ADMIN = ("admin",)

# endpoint -> PUBLIC or the roles allowed. Each feature module declares its endpoints in
# its own `POLICY`; the app factory merges them in when it registers the blueprints.
POLICY: dict[str, str | tuple[str, ...]] = {
    "static": PUBLIC,
}


def enforce() -> object | None:
    """before_request hook: refuse what the policy does not allow."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404/405 follow
    rule = POLICY.get(endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s has no access policy", endpoint)
        abort(403)
    if rule == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if request.accept_mimetypes.best == "application/json" or request.path.startswith(
                "/api/"):
            abort(401, description="sign in, or send a bearer token (Authorization: "
                                   "Bearer ...) from `flask user token`")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if current_user.role not in rule:
        abort(403)
    return None


def visible_agency_ids(session: Session, user: User) -> set[int] | None:
    """Agencies a user may see: None means all (admin, auditor); a manager or desk staff
    sees their agencies and every agency below them."""
    if user.role in ("admin", "auditor"):
        return None
    return descendant_ids(session, [a.id for a in user.agencies])


def require_agency(session: Session, user: User, code: str) -> Agency:
    """The agency with this code if the user may see it; otherwise 404 (never a hint that
    it exists)."""
    try:
        agency = get_agency(session, code)
    except NotFound:
        abort(404)
    allowed = visible_agency_ids(session, user)
    if allowed is not None and agency.id not in allowed:
        abort(404)
    return agency


def visible_desk(session: Session, user: User, desk_id: int, options: Sequence = ()) -> Desk:
    """The desk if the user may see its agency; otherwise 404."""
    desk = session.get(Desk, desk_id, options=list(options))
    allowed = visible_agency_ids(session, user)
    if desk is None or (allowed is not None and desk.agency_id not in allowed):
        abort(404)
    return desk


def filter_visible(session: Session, user: User, agencies: Iterable[Agency]) -> list[Agency]:
    allowed = visible_agency_ids(session, user)
    return [a for a in agencies if allowed is None or a.id in allowed]
