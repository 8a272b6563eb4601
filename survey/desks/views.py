"""Staff pages for desks: QR codes, printable posters, one-time visit tickets; and the
JSON endpoint queue systems use to print tickets."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from .. import qr, tickets
from ..access import MANAGERS, PUBLIC, TICKETS, visible_agency_ids
from ..database import utcnow, write_transaction
from ..errors import ValidationError
from ..extensions import db, limiter
from ..models import Desk
from . import services

bp = Blueprint("desks", __name__, url_prefix="/loket")
api_bp = Blueprint("api_tickets", __name__, url_prefix="/api/v1")
blueprints = [bp, api_bp]
CSRF_EXEMPT = [api_bp]  # queue systems authenticate with the desk's API key
POLICY = {
    "desks.index": (*TICKETS, "auditor"),
    "desks.issue_ticket": TICKETS,
    "desks.qr_code": (*MANAGERS, "desk_staff"),
    "desks.poster": (*MANAGERS, "desk_staff"),
    "desks.posters": MANAGERS,
    "api_tickets.issue": PUBLIC,  # authenticated by the desk's own API key
}


def _visible_desk(desk_id: int) -> Desk:
    desk = db.session.get(Desk, desk_id)
    allowed = visible_agency_ids(db.session, current_user)
    if desk is None or (allowed is not None and desk.agency_id not in allowed):
        abort(404)
    return desk


@bp.get("/")
def index():
    desks = services.desks_of(db.session, visible_agency_ids(db.session, current_user))
    return render_template("desks/index.html", desks=desks, survey_url=services.survey_url,
                           kiosk_url=services.kiosk_url,
                           can_issue=current_user.role != "auditor")


@bp.post("/<int:desk_id>/tiket")
def issue_ticket(desk_id: int):
    desk = _visible_desk(desk_id)
    ttl = current_app.config["TICKET_TTL_HOURS"]
    try:
        with write_transaction(db.session):
            token = tickets.issue(db.session, desk, 1, ttl)[0]
    except ValidationError as exc:
        abort(409, description=str(exc))
    url = services.ticket_url(token)
    return render_template("desks/ticket.html", desk=desk, url=url, svg=qr.svg(url),
                           expires=utcnow() + timedelta(hours=ttl))


@bp.get("/<int:desk_id>/qr.<fmt>")
def qr_code(desk_id: int, fmt: str):
    desk = _visible_desk(desk_id)
    if fmt not in ("png", "svg"):
        abort(404)
    body, mimetype = services.qr_image(desk, fmt)
    return current_app.response_class(body, mimetype=mimetype, headers={
        "Content-Disposition": f'inline; filename="qr-{desk.agency.code}-{desk.code}.{fmt}"'})


@bp.get("/<int:desk_id>/poster.pdf")
def poster(desk_id: int):
    desk = _visible_desk(desk_id)
    return _pdf(services.posters_pdf([desk]), f"poster-{desk.agency.code}-{desk.code}.pdf")


@bp.get("/instansi/<code>/poster.pdf")
def posters(code: str):
    from ..access import require_agency

    agency = require_agency(db.session, current_user, code)
    desks = [d for d in services.desks_of(db.session, {agency.id}) if d.active]
    if not desks:
        abort(404, description="this agency has no active desks")
    return _pdf(services.posters_pdf(desks), f"posters-{agency.code}.pdf")


def _pdf(body: bytes, filename: str):
    return current_app.response_class(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"'})


@api_bp.post("/tickets")
@limiter.limit("600 per minute")
def issue():
    """Queue systems: `Authorization: Bearer <desk API key>`, optional JSON {"count": n}.
    Returns the ticket URLs to print; the desk is the one the key belongs to."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    desk = services.desk_by_api_key(db.session, key)
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
        abort(400 if "count" in str(exc) else 409, description=str(exc))
    expires = (utcnow() + timedelta(hours=ttl)).isoformat()
    return {"agency": desk.agency.code, "desk": desk.code,
            "tickets": [{"url": services.ticket_url(t), "expires_at": expires}
                        for t in tokens]}, 201
