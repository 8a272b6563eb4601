"""Auditor pages: exports (CSV, XLSX, PDF, signed bundle), the public signing key, and the
audit log. Exports are scoped like the dashboard and every one is an audit event."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from survey.core import signing
from survey.core.db import db, write_transaction
from survey.core.exports import service
from survey.core.models import Agency, AuditEvent
from survey.core.periods import PeriodError, current_period, local_today, parse_period
from survey.web.access import PUBLIC, READERS, filter_visible, require_agency
from survey.web.i18n import site_timezone
from survey.web.messages import bad_period, refuse

bp = Blueprint("audit", __name__, url_prefix="/audit")

POLICY = {
    "audit.index": READERS,
    "audit.export": READERS,
    "audit.public_key": PUBLIC,
    "audit.log": ("admin", "auditor"),
}
LOG_PAGE = 100
# Flask adds "; charset=utf-8" to a text/* mimetype itself: naming it here sent it twice.
MIMETYPES = {"csv": "text/csv", "xlsx":
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf", "bundle": "application/zip"}


@bp.get("/")
def index():
    agencies = filter_visible(db.session, current_user,
                              db.session.scalars(select(Agency).order_by(Agency.code)))
    period = (request.args.get("period", "").strip()
              or current_period("semester", local_today(site_timezone())).key)
    error = None
    try:
        period = parse_period(period).key
    except PeriodError:
        # The page stays, with the form to correct the key; no link would work, so none.
        error = _("%(period)s is not a period. Use a period key such as 2024, 2024-S1, "
                  "2024-Q3 or 2024-05.", period=period)
    return render_template("audit/index.html", agencies=agencies, period=period,
                           formats=service.FORMATS, error=error), 422 if error else 200


@bp.get("/ekspor/<code>.<fmt>")
def export(code: str, fmt: str):
    agency = require_agency(db.session, current_user, code)
    if fmt not in service.FORMATS:
        abort(404)
    try:
        period = parse_period(request.args.get("period", ""))
    except PeriodError as exc:
        refuse(400, bad_period(request.args.get("period", ""), exc.params.get("year")),
               "bad_period")
    job = service.ExportJob(agency, period, include_flagged=request.args.get("flagged") == "1",
                            bom=request.args.get("bom") == "1")
    with write_transaction(db.session):
        service.record_export(db.session, job, fmt, actor=current_user)
    headers = {"Content-Disposition": f'attachment; filename="{job.filename(fmt)}"',
               "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(stream_with_context(service.csv_chunks(db.session, job)),
                        mimetype=MIMETYPES[fmt], headers=headers)
    body = service.render(db.session, job, fmt, current_app.instance_path)
    return Response(body, mimetype=MIMETYPES[fmt], headers=headers)


@bp.get("/public-key")
def public_key():
    path = current_app.instance_path
    try:
        pem = signing.public_pem(signing.load_private(path).public_key())
    except FileNotFoundError:
        abort(404, description=_("The system has no signing key yet; an administrator "
                                 "creates it with the command flask init."))
    return Response(pem, mimetype="application/x-pem-file", headers={
        "Content-Disposition": 'inline; filename="skm-public-key.pem"'})


@bp.get("/log")
def log():
    action = request.args.get("action") or None
    page = max(request.args.get("page", 1, type=int), 1)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    events = db.session.scalars(query.offset((page - 1) * LOG_PAGE).limit(LOG_PAGE)).all()
    actions = db.session.scalars(select(AuditEvent.action).group_by(AuditEvent.action)
                                 .order_by(AuditEvent.action)).all()
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return render_template("audit/log.html", events=events, actions=actions, action=action,
                           page=page, pages=max(1, -(-total // LOG_PAGE)))
