"""Staff pages for desks: QR codes, printable posters, one-time visit tickets."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from survey.core import posters, qr, tickets
from survey.core.db import db, utcnow, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Desk
from survey.core.org import kiosks
from survey.core.org.desks import desks_of
from survey.web.access import (
    MANAGERS,
    TICKETS,
    require_agency,
    visible_agency_ids,
    visible_desk,
)
from survey.web.devices import remember_device
from survey.web.messages import message_for, refuse
from survey.web.urls import base_url, kiosk_url, survey_url, ticket_url

bp = Blueprint("desks", __name__, url_prefix="/loket")
POLICY = {
    "desks.index": (*TICKETS, "auditor"),
    "desks.issue_ticket": TICKETS,
    "desks.qr_code": (*MANAGERS, "desk_staff"),
    "desks.poster": (*MANAGERS, "desk_staff"),
    "desks.posters": (*MANAGERS, "desk_staff"),
    "desks.kiosks": TICKETS,
    "desks.enrol_kiosk": TICKETS,
    "desks.revoke_kiosk": TICKETS,
}


def _visible_desk(desk_id: int) -> Desk:
    return visible_desk(db.session, current_user, desk_id)


@bp.get("/")
def index():
    desks = desks_of(db.session, visible_agency_ids(db.session, current_user))
    devices = kiosks.devices_of(db.session, {d.id for d in desks})
    return render_template("desks/index.html", desks=desks, survey_url=survey_url,
                           kiosk_url=kiosk_url, can_issue=current_user.role != "auditor",
                           can_print=current_user.role in POLICY["desks.poster"],
                           devices=devices)


@bp.post("/<int:desk_id>/tiket")
def issue_ticket(desk_id: int):
    desk = _visible_desk(desk_id)
    ttl = current_app.config["TICKET_TTL_HOURS"]
    try:
        with write_transaction(db.session):
            token = tickets.issue(db.session, desk, 1, ttl)[0]
    except ValidationError as exc:
        refuse(409, message_for(exc), exc.code)
    url = ticket_url(token)
    return render_template("desks/ticket.html", desk=desk, url=url, svg=qr.svg(url),
                           expires=utcnow() + timedelta(hours=ttl))


@bp.get("/<int:desk_id>/qr.<fmt>")
def qr_code(desk_id: int, fmt: str):
    desk = _visible_desk(desk_id)
    if fmt not in ("png", "svg"):
        abort(404)
    body, mimetype = qr.image(survey_url(desk), fmt)
    return current_app.response_class(body, mimetype=mimetype, headers={
        "Content-Disposition": f'inline; filename="qr-{desk.agency.code}-{desk.code}.{fmt}"'})


@bp.get("/<int:desk_id>/poster.pdf")
def poster(desk_id: int):
    desk = _visible_desk(desk_id)
    return _pdf(posters.posters_pdf(base_url(), [desk]),
                f"poster-{desk.agency.code}-{desk.code}.pdf")


@bp.get("/instansi/<code>/poster.pdf", endpoint="posters")
def all_posters(code: str):
    agency = require_agency(db.session, current_user, code)
    desks = [d for d in desks_of(db.session, {agency.id}) if d.active]
    if not desks:
        abort(404, description=_("This agency has no open desks."))
    return _pdf(posters.posters_pdf(base_url(), desks), f"posters-{agency.code}.pdf")


def _pdf(body: bytes, filename: str):
    return current_app.response_class(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"'})


# --- kiosk devices -------------------------------------------------------------------------


@bp.get("/<int:desk_id>/kios", endpoint="kiosks")
def kiosks_page(desk_id: int, errors: list[str] | None = None, status: int = 200):
    desk = _visible_desk(desk_id)
    devices = kiosks.devices_of(db.session, {desk.id})[desk.id]
    revoked = kiosks.revoked_of(db.session, desk.id)
    stored = kiosks.responses_stored(db.session, {d.id for d in devices})
    return render_template("desks/kiosks.html", desk=desk, devices=devices, revoked=revoked,
                           stored=stored, errors=errors or []), status


@bp.post("/<int:desk_id>/kios")
def enrol_kiosk(desk_id: int):
    """Run on the tablet itself: it becomes the desk's kiosk, and the staff member is
    signed out on it, so that citizens never use a staff session."""
    desk = _visible_desk(desk_id)
    try:
        with write_transaction(db.session):
            device, secret = kiosks.enrol(db.session, desk,
                                          request.form.get("name", ""), actor=current_user)
    except ValidationError as exc:
        return kiosks_page(desk_id, [message_for(exc)], 422)
    slug = desk.slug
    logout_user()
    browser_session.clear()
    response = redirect(url_for("respond.kiosk", slug=slug), code=303)
    remember_device(response, device.id, secret)
    return response


@bp.post("/<int:desk_id>/kios/<int:device_id>/cabut")
def revoke_kiosk(desk_id: int, device_id: int):
    desk = _visible_desk(desk_id)
    try:
        with write_transaction(db.session):
            device = kiosks.revoke(db.session, device_id, actor=current_user,
                                   desk_ids={desk.id})
    except NotFound:
        abort(404)
    except ValidationError as exc:
        return kiosks_page(desk_id, [message_for(exc)], 409)
    flash(_("The device %(name)s is no longer this desk's kiosk.", name=device.name))
    return redirect(url_for("desks.kiosks", desk_id=desk.id), code=303)
