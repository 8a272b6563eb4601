"""The MPP's coordination meeting report as a PDF (`/dashboard/<MPP>/rapat.pdf`), the same
file as `flask export mpp-report`, for the dashboard's chosen period and language.

Registered on the dashboard blueprint like the league; who may download it is who may open
the MPP's dashboard (`require_agency`: a manager of one of its agencies only gets a 404)."""

from __future__ import annotations

from flask import Response, abort

from survey.core.db import utcnow
from survey.core.errors import NotFound
from survey.core.exports import mpp_report
from survey.web.access import READERS
from survey.web.dashboard.views import POLICY as DASHBOARD_POLICY
from survey.web.dashboard.views import _period, bp, figures_of
from survey.web.i18n import current_locale
from survey.web.messages import message_for

POLICY = {"dashboard.mpp_report": READERS}
DASHBOARD_POLICY.update(POLICY)  # the app factory registers the dashboard's rules


@bp.get("/<code>/rapat.pdf", endpoint="mpp_report")
def mpp_report_pdf(code: str):
    """The PDF in the language asked for (``?lang``) or else the visitor's; a 404 that
    says why for an agency without agencies below it."""
    session, agency = figures_of(code)
    period = _period(session, agency)
    now = utcnow()
    try:
        report = mpp_report.build(session, agency, period, now)
    except NotFound as exc:
        abort(404, description=message_for(exc))
    pdf = mpp_report.render_pdf(report, "en" if current_locale() == "en" else "id", now)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{mpp_report.filename(report)}"',
        "Cache-Control": "no-store"})
