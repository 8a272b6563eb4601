"""POST /api/v1/tickets: queue systems request one-time visit tickets to print, with the
desk's own API key (`flask desk api-key`) as bearer token."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, request

from survey.core import tickets
from survey.core.db import db, utcnow, write_transaction
from survey.core.errors import ValidationError
from survey.core.org.desks import desk_by_api_key
from survey.web.access import PUBLIC
from survey.web.extensions import limiter
from survey.web.messages import refuse
from survey.web.urls import ticket_url

bp = Blueprint("api_tickets", __name__, url_prefix="/api/v1")
CSRF_EXEMPT = True  # queue systems authenticate with the desk's API key, not a cookie
POLICY = {"api_tickets.issue": PUBLIC}  # authenticated by the desk's own API key


@bp.post("/tickets")
@limiter.limit("600 per minute")
def issue():
    """Queue systems: `Authorization: Bearer <desk API key>`, optional JSON {"count": n}.
    Returns the ticket URLs to print; the desk is the one the key belongs to."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    desk = desk_by_api_key(db.session, key)
    if desk is None:
        abort(401, description="a valid desk API key is required (Authorization: Bearer ...)")
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object such as {\"count\": 1}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int):
        abort(400, description="count must be a whole number")
    ttl = current_app.config["TICKET_TTL_HOURS"]
    try:
        with write_transaction(db.session):
            tokens = tickets.issue(db.session, desk, count, ttl)
    except ValidationError as exc:
        refuse(400 if exc.code == "ticket_count" else 409, str(exc), exc.code)
    expires = (utcnow() + timedelta(hours=ttl)).isoformat()
    return {"agency": desk.agency.code, "desk": desk.code,
            "tickets": [{"url": ticket_url(t), "expires_at": expires} for t in tokens]}, 201
