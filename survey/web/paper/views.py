"""Operator pages for paper questionnaires: the typing sheet per desk and the CSV import.

Desk staff type the sheets of their agencies' desks; managers and administrators also
import files. Another agency's desk is a 404.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from survey.core import imports
from survey.core.db import db
from survey.core.errors import ValidationError
from survey.core.models import Desk, Questionnaire
from survey.core.org.desks import desks_of
from survey.core.paper import MAX_ROWS, store_sheet
from survey.core.periods import local_today
from survey.core.profile import PROFILE
from survey.web.access import MANAGERS, TICKETS, visible_agency_ids, visible_desk
from survey.web.extensions import csrf
from survey.web.i18n import current_locale
from survey.web.messages import message_for
from survey.web.paper import sheet
from survey.web.uploads import SHEET_LIMIT, large_post, upload_page

bp = Blueprint("paper", __name__, url_prefix="/kertas")

POLICY = {
    "paper.index": TICKETS,
    "paper.sheet": TICKETS,
    "paper.import_csv": MANAGERS,
}


def _visible_desk(desk_id: int) -> Desk:
    """The desk with what the sheet shows (agency, services, elements), if visible."""
    return visible_desk(db.session, current_user, desk_id, options=[
        selectinload(Desk.agency), selectinload(Desk.services),
        selectinload(Desk.questionnaire).selectinload(Questionnaire.elements)])


@bp.get("/")
def index():
    desks = desks_of(db.session, visible_agency_ids(db.session, current_user))
    return render_template("paper/index.html", desks=desks,
                           can_import=current_user.role in MANAGERS)


@bp.route("/loket/<int:desk_id>", methods=["GET", "POST"], endpoint="sheet")
@csrf.exempt
def sheet_page(desk_id: int):
    large_post(SHEET_LIMIT)
    desk = _visible_desk(desk_id)
    count = min(max(request.args.get("baris", sheet.DEFAULT_ROWS, type=int), 1), MAX_ROWS)
    today = local_today(desk.agency.timezone)
    offered = [s for s in desk.services if s.active]
    codes = [e.code for e in desk.questionnaire.elements]
    if request.method == "GET":
        day = sheet.parse_day(request.args.get("tanggal", "")) or today
        default_service = offered[0].id if len(offered) == 1 else None
        rows = sheet.blank_rows(count, min(day, today), default_service)
        return _render(desk, rows, offered, secrets.token_urlsafe(18), count)
    sheet_key = request.form.get("sheet", "")
    if not sheet.SHEET_KEY.fullmatch(sheet_key):
        abort(400, description=_("This sheet cannot be saved: it was not sent from the page of "
                                 "this site. Please open the sheet again."))
    rows = sheet.parse_sheet(request.form, count, codes, offered, today)
    entries = [r.entry for r in rows if r.entry is not None]
    problems = [m for r in rows for m in r.errors]
    if not problems and not entries:
        problems = [_("The sheet is empty: type at least one row.")]
    if problems:
        return _render(desk, rows, offered, sheet_key, count, problems), 422
    try:
        outcome = store_sheet(db.session, desk, entries, sheet_key, actor=current_user)
    except ValidationError as exc:
        return _render(desk, rows, offered, sheet_key, count, [message_for(exc)]), 422
    last_day = max(e.day for e in entries) if entries else today
    return render_template("paper/saved.html", desk=desk, outcome=outcome, count=count,
                           next_day=last_day.isoformat())


def _render(desk: Desk, rows, offered, sheet_key: str, count: int,
            problems: list[str] | None = None):
    return render_template(
        "paper/sheet.html", desk=desk, rows=rows, services=offered, sheet_key=sheet_key,
        count=count, problems=problems or [], elements=desk.questionnaire.elements,
        profile=PROFILE, name=sheet.name, locale=current_locale())


@bp.route("/impor", methods=["GET", "POST"])
@csrf.exempt
def import_csv():
    def check(data: bytes) -> imports.CheckedFile:
        return imports.check_file(db.session, data,
                                  allowed=visible_agency_ids(db.session, current_user),
                                  max_rows=current_app.config["SURVEY_IMPORT_MAX_ROWS"])

    def store(checked: imports.CheckedFile, filename: str | None) -> str:
        summary = imports.store_file(db.session, checked, actor=current_user,
                                     filename=filename)
        return _("Imported %(n)d responses (paper: %(paper)d, other: %(other)d).",
                 n=summary.count, paper=summary.by_channel.get("paper", 0),
                 other=summary.by_channel.get("import", 0))

    return upload_page("paper/import.html", store, url_for("paper.import_csv"), check=check,
                       codes=imports.ELEMENT_CODES, profile=PROFILE)
