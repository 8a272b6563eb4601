"""The agency dashboard, the review and moderation queues, and the follow-up plan (RTL).
Every view resolves the agency through `require_agency`, so another agency's data is a 404."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from survey.core import figures, review
from survey.core.db import db, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Agency, FollowUp
from survey.core.periods import Period, PeriodError, local_today, parse_period
from survey.core.results import dashboard, followups, queries
from survey.web.access import ADMIN, MANAGERS, READERS, filter_visible, require_agency
from survey.web.i18n import current_locale, number
from survey.web.messages import message_for

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


POLICY = {
    "dashboard.index": READERS,
    "dashboard.agency": READERS,
    "dashboard.desk": READERS,
    "dashboard.queue": READERS,
    "dashboard.review_flag": MANAGERS,
    "dashboard.moderate_comment": MANAGERS,
    "dashboard.redact_comment": ADMIN,
    "dashboard.follow_ups": READERS,
    "dashboard.follow_up_save": MANAGERS,
}


def _period(agency: Agency) -> Period:
    """The period asked for, else the agency's current semester."""
    key = request.args.get("period") or dashboard.default_period(
        local_today(agency.timezone)).key
    try:
        return parse_period(key)
    except PeriodError as exc:
        abort(400, description=str(exc))


def _desk_ids(agency: Agency) -> list[int]:
    return [d.id for d in queries.agency_scope(db.session, agency).desks]


@bp.get("/")
def index():
    agencies = filter_visible(db.session, current_user,
                              db.session.scalars(select(Agency).order_by(Agency.code)))
    if len(agencies) == 1:
        return redirect(url_for("dashboard.agency", code=agencies[0].code))
    return render_template("dashboard/index.html", agencies=agencies)


@bp.get("/<code>")
def agency(code: str):
    agency = require_agency(db.session, current_user, code)
    period = _period(agency)
    board = dashboard.build(db.session, agency, period)
    locale = current_locale()
    names = {e.code: e.name(locale) for e in board.scope.questionnaire.elements}
    weekdays = dashboard.WEEKDAYS_EN if locale == "en" else dashboard.WEEKDAYS_ID
    svg = {}
    if board.estimate is not None:
        svg["elements"] = figures.elements_chart(
            board.estimate, names, number, _("Satisfaction per element (NRR x 25) with "
                                             "95% intervals"),
            [e.code for e in board.weakest])
        ranked = [(r.name, r.estimate) for r in board.desks if r.estimate is not None]
        svg["desks"] = figures.ranking_chart(ranked, number, _("Index per desk with 95% "
                                                               "intervals"))
    svg["trend"] = figures.trend_chart(
        [(t.period.label(locale), t.estimate) for t in board.trend], number,
        _("Index over the last periods"))
    svg["arrivals"], svg["means"] = figures.arrival_charts(
        board.arrivals, weekdays, lambda v: number(v, 0), number,
        (_("Responses by weekday and hour"), _("Mean score (1-4) by weekday and hour")))
    return render_template("dashboard/agency.html", board=board, svg=svg, names=names,
                           weekdays=weekdays, locale=locale,
                           can_manage=current_user.role in MANAGERS)


@bp.get("/<code>/loket/<int:desk_id>")
def desk(code: str, desk_id: int):
    agency = require_agency(db.session, current_user, code)
    period = _period(agency)
    board = dashboard.build_desk(db.session, agency, desk_id, period)
    if board is None:
        abort(404)
    locale = current_locale()
    names = {e.code: e.name(locale) for e in board.scope.questionnaire.elements}
    svg = {"trend": figures.trend_chart([(p.label(locale), e) for p, e in board.points],
                                        number, _("Index over the last periods"))}
    if board.estimate is not None:
        svg["elements"] = figures.elements_chart(
            board.estimate, names, number, _("Satisfaction per element (NRR x 25) with 95% "
                                             "intervals"),
            [e.code for e in board.estimate.lowest_elements(3)])
    return render_template("dashboard/desk.html", agency=agency, desk=board.desk,
                           ref=board.ref, period=period, estimate=board.estimate,
                           points=board.points, svg=svg, names=names,
                           comments=board.comments, locale=locale)


@bp.get("/<code>/antrean/<kind>")
def queue(code: str, kind: str):
    agency = require_agency(db.session, current_user, code)
    if kind not in ("flag", "comment"):
        abort(404)
    period = _period(agency)
    items = review.queue(db.session, kind, _desk_ids(agency), period.start, period.end,
                         pending_only=request.args.get("all") != "1")
    return render_template("dashboard/queue.html", agency=agency, kind=kind, items=items,
                           period=period, can_manage=current_user.role in MANAGERS,
                           can_redact=current_user.role in ADMIN)


def _decide(code: str, response_id: int, action):
    agency = require_agency(db.session, current_user, code)
    try:
        with write_transaction(db.session):
            action(db.session, response_id, request.form.get("decision", ""),
                   request.form.get("reason", ""), current_user,
                   desk_ids=set(_desk_ids(agency)))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(_("Not saved: %(reason)s", reason=message_for(exc)))
    else:
        flash(_("Decision saved."))
    return redirect(request.referrer or url_for("dashboard.agency", code=code), code=303)


@bp.post("/<code>/tinjau/<int(max=9223372036854775807):response_id>")
def review_flag(code: str, response_id: int):
    return _decide(code, response_id, review.review_flag)


@bp.post("/<code>/komentar/<int(max=9223372036854775807):response_id>")
def moderate_comment(code: str, response_id: int):
    return _decide(code, response_id, review.moderate_comment)


@bp.post("/<code>/komentar/<int(max=9223372036854775807):response_id>/hapus")
def redact_comment(code: str, response_id: int):
    """An administrator removes a comment for good (e.g. a personal number the mask
    missed); the reason is recorded and the hash chain still verifies."""
    agency = require_agency(db.session, current_user, code)
    try:
        with write_transaction(db.session):
            deleted = review.redact_comment(db.session, response_id,
                                            request.form.get("reason", ""), current_user,
                                            desk_ids=set(_desk_ids(agency)))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(_("Not saved: %(reason)s", reason=message_for(exc)))
    else:
        flash(_("The comment was removed.") if deleted else _(
            "The comment was removed from every page and export. It was recorded before "
            "comments could be deleted, so its text stays in the database, where the "
            "tamper-evidence covers it."))
    return redirect(request.referrer or url_for("dashboard.agency", code=code), code=303)


@bp.get("/<code>/rtl")
def follow_ups(code: str):
    agency = require_agency(db.session, current_user, code)
    period = _period(agency)
    board_weakest = followups.weakest_elements(db.session, agency, period)
    items = followups.for_period(db.session, agency, period)
    edit_id = request.args.get("edit", type=int)
    editing = next((i for i in items if i.id == edit_id), None)
    elements = queries.agency_scope(db.session, agency).questionnaire.elements
    return render_template("dashboard/follow_ups.html", agency=agency, period=period,
                           items=items, weakest=board_weakest, elements=elements,
                           editing=editing, statuses=followups.STATUSES,
                           can_manage=current_user.role in MANAGERS,
                           locale=current_locale())


@bp.post("/<code>/rtl")
def follow_up_save(code: str):
    agency = require_agency(db.session, current_user, code)
    period = _period(agency)
    item_id = request.form.get("id", type=int)
    try:
        with write_transaction(db.session):
            item = None
            if item_id:
                item = db.session.get(FollowUp, item_id)
                if item is None or item.agency_id != agency.id:
                    raise NotFound("no such follow-up")
            followups.save(db.session, agency, period, request.form, current_user, item)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(_("Not saved: %(reason)s", reason=message_for(exc)))
    else:
        flash(_("Follow-up plan saved."))
    return redirect(url_for("dashboard.follow_ups", code=code, period=period.key), code=303)
