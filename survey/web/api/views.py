"""The read API (/api/v1): agencies, desks and results, for bearer-token clients."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user
from sqlalchemy import select

from survey.core.db import db
from survey.core.models import Agency, Desk
from survey.core.org.users import user_for_token
from survey.core.periods import PeriodError, parse_period
from survey.core.results import queries
from survey.ikm.engine import to_json_dict
from survey.web.access import PUBLIC, READERS, filter_visible, require_agency
from survey.web.api import openapi
from survey.web.extensions import limiter, login_manager
from survey.web.messages import refuse
from survey.web.replica import read_agency
from survey.web.urls import survey_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CSRF_EXEMPT = True  # read-only, authenticated by bearer token, never by a cookie alone
POLICY = {
    "api.openapi_document": PUBLIC,
    "api.agencies": READERS,
    "api.desks": READERS,
    "api.results": READERS,
}


@login_manager.request_loader
def _user_from_bearer(req):
    """API requests authenticate with `Authorization: Bearer <token>`."""
    if not req.path.startswith("/api/v1/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return user_for_token(db.session, header[7:].strip())


@bp.get("/openapi.json")
def openapi_document():
    return openapi.document(current_app.config["PUBLIC_BASE_URL"].rstrip("/"))


@bp.get("/agencies")
@limiter.limit("600 per minute")
def agencies():
    rows = filter_visible(db.session, current_user,
                          db.session.scalars(select(Agency).order_by(Agency.code)))
    codes = {a.id: a.code for a in db.session.scalars(select(Agency))}
    return {"agencies": [{"code": a.code, "name": a.name, "parent": codes.get(a.parent_id)}
                         for a in rows]}


@bp.get("/agencies/<code>/desks")
@limiter.limit("600 per minute")
def desks(code: str):
    agency = require_agency(db.session, current_user, code)
    rows = db.session.scalars(select(Desk).where(Desk.agency_id == agency.id)
                              .order_by(Desk.code))
    return {"desks": [{"agency": agency.code, "code": d.code, "name": d.name,
                       "url": survey_url(d), "active": d.active} for d in rows]}


@bp.get("/agencies/<code>/results")
@limiter.limit("600 per minute")
def results(code: str):
    # Who may read it on the primary; the figures from the read replica when one serves.
    session, agency = read_agency(require_agency(db.session, current_user, code))
    try:
        period = parse_period(request.args.get("period", ""))
    except PeriodError as exc:
        refuse(400, str(exc), "bad_period")  # English: the API is read by developers
    report = queries.agency_report(session, agency.code, period)
    return to_json_dict(report.result)
