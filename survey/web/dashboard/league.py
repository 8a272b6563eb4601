"""The league of a Mal Pelayanan Publik's agencies (`/dashboard/<MPP>/liga`) and its CSV
and XLSX downloads: what the regency's yearly coordination meeting compares and awards.

Registered on the dashboard blueprint like the queues; who may open it is who may open the
MPP's dashboard (`require_agency`: a manager of one of its agencies only gets a 404)."""

from __future__ import annotations

import io

from flask import Response, abort, render_template, request, url_for
from sqlalchemy.orm import Session

from survey.core.errors import NotFound
from survey.core.exports import league as league_export
from survey.core.models import Agency
from survey.core.periods import Period, local_today
from survey.core.results import league
from survey.web.access import READERS
from survey.web.dashboard.views import POLICY as DASHBOARD_POLICY
from survey.web.dashboard.views import _period, _pick, _provisional, bp, figures_of
from survey.web.i18n import current_locale
from survey.web.messages import message_for

POLICY = {
    "dashboard.league": READERS,
    "dashboard.league_download": READERS,
}
DASHBOARD_POLICY.update(POLICY)  # the app factory registers the dashboard's rules

MIMETYPES = {"csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _build(session: Session, agency: Agency, period: Period) -> league.League:
    """The league, or a 404 that says an agency without agencies below it has none."""
    try:
        return league.build(session, agency, period)
    except NotFound as exc:
        abort(404, description=message_for(exc))


def _sort() -> str:
    sort = request.args.get("sort", "ikm")
    return sort if sort in league.SORTS else "ikm"


@bp.get("/<code>/liga", endpoint="league")  # the function's name leaves the module free
def league_page(code: str):
    session, agency = figures_of(code)
    pick = _pick(session, agency)
    board = _build(session, agency, pick.period)
    sort = _sort()
    locale = current_locale()

    def sort_url(key: str) -> str:
        return url_for("dashboard.league", code=agency.code, period=pick.period.key, sort=key)

    def download_url(fmt: str) -> str:
        return url_for("dashboard.league_download", code=agency.code, fmt=fmt,
                       period=pick.period.key, sort=sort, lang=locale)

    return render_template(
        "dashboard/league.html", league=board, rows=board.sorted(sort), sort=sort,
        sort_url=sort_url, download_url=download_url, pick=pick, locale=locale,
        provisional=_provisional(pick.period, local_today(agency.timezone))), pick.status


@bp.get("/<code>/liga.<fmt>")
def league_download(code: str, fmt: str):
    """The page's table, in the page's order, as CSV or XLSX; headers in the language
    asked for (``?lang``) or else the visitor's."""
    session, agency = figures_of(code)
    if fmt not in MIMETYPES:
        abort(404)
    board = _build(session, agency, _period(session, agency))
    rows = board.sorted(_sort())
    locale = current_locale()
    headers = {"Content-Disposition":
               f'attachment; filename="{league_export.filename(board, fmt)}"',
               "Cache-Control": "no-store"}
    if fmt == "csv":
        body = "".join(league_export.csv_chunks(board, rows, locale,
                                                bom=request.args.get("bom") == "1"))
        return Response(body, mimetype=MIMETYPES[fmt], headers=headers)
    buffer = io.BytesIO()
    league_export.write_xlsx(buffer, board, rows, locale)
    return Response(buffer.getvalue(), mimetype=MIMETYPES[fmt], headers=headers)
