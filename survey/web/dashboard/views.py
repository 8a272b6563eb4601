"""The agency dashboard, the review and moderation queues, and the follow-up plan (RTL).
Every view resolves the agency through `require_agency`, so another agency's data is a 404."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core import figures
from survey.core.db import db, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Agency, FollowUp
from survey.core.periods import Period, local_today
from survey.core.results import dashboard, followups, queries
from survey.web.access import MANAGERS, READERS, filter_visible, require_agency
from survey.web.i18n import current_locale, number
from survey.web.messages import message_for
from survey.web.period_picker import PeriodPick, pick_period
from survey.web.replica import read_agency

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


POLICY = {
    "dashboard.index": READERS,
    "dashboard.agency": READERS,
    "dashboard.desk": READERS,
    "dashboard.follow_ups": READERS,
    "dashboard.follow_up_save": MANAGERS,
}


def _pick(session: Session, agency: Agency, scope: queries.AgencyScope | None = None,
          first: date | None = None) -> PeriodPick:
    """The period asked for (else the agency's current semester), with the message for a
    bad one: the page still shows, for the current semester, with the message on top.
    ``first``: the agency's first month with responses, when the caller has read it."""
    today = local_today(agency.timezone)
    if scope is None:
        scope = queries.agency_scope(session, agency)
        first = queries.first_month(session, [d.id for d in scope.desks])
    return pick_period(request.args, dashboard.default_period(today), first, today)


def _period(session: Session, agency: Agency) -> Period:
    """The period asked for, for actions and lists: a bad one is a 400 that says why."""
    pick = _pick(session, agency)
    if pick.error:
        abort(400, description=pick.error)
    return pick.period


def _provisional(period: Period, today: date) -> date | None:
    """The period's last day while it runs (its figures are provisional), else None."""
    return period.end if period.end >= today else None


def _desk_ids(session: Session, agency: Agency) -> list[int]:
    return [d.id for d in queries.agency_scope(session, agency).desks]


def figures_of(code: str) -> tuple[Session, Agency]:
    """The agency the signed-in user may see (checked on the primary, so a revoked right
    is gone at once) and the session its figures are read from: the read replica when it
    serves this request (survey/web/replica.py), else the primary."""
    return read_agency(require_agency(db.session, current_user, code))


_PLACEHOLDER = 987654321


def _desk_href(code: str, period_key: str):
    """The link of each desk row, ``url_for("dashboard.desk", ...)`` for ``desk_id``: built
    once and joined per desk (url_for costs about 25 us, times 3,000 desks of a national
    parent)."""
    head, tail = url_for("dashboard.desk", code=code, desk_id=_PLACEHOLDER,
                         period=period_key).split(str(_PLACEHOLDER))
    return lambda desk_id: f"{head}{int(desk_id)}{tail}"


def chart_captions() -> dict[str, str]:
    """Each chart's caption, shown above it and as its accessible title."""
    return {
        "elements": _("Satisfaction per element (NRR x 25) with 95% intervals"),
        "desks": _("Index per desk with 95% intervals"),
        "trend": _("Index over the last periods"),
        "arrivals": _("Responses by weekday and hour"),
        "means": _("Mean score (1-4) by weekday and hour"),
    }


@bp.get("/")
def index():
    agencies = filter_visible(db.session, current_user,
                              db.session.scalars(select(Agency).order_by(Agency.code)))
    if len(agencies) == 1:
        return redirect(url_for("dashboard.agency", code=agencies[0].code))
    return render_template("dashboard/index.html", agencies=agencies)


@bp.get("/<code>")
def agency(code: str):
    session, agency = figures_of(code)
    scope = queries.agency_scope(session, agency)
    first = queries.first_month(session, [d.id for d in scope.desks])
    pick = _pick(session, agency, scope, first)
    board = dashboard.build(session, agency, pick.period, scope, first)
    locale = current_locale()
    names = {e.code: e.name(locale) for e in board.scope.questionnaire.elements}
    weekdays = dashboard.WEEKDAYS_EN if locale == "en" else dashboard.WEEKDAYS_ID
    captions = chart_captions()
    svg = {}
    if board.estimate is not None:
        svg["elements"] = figures.elements_chart(
            board.estimate, names, number, captions["elements"],
            [e.code for e in board.weakest])
        ranked = [(r.name, r.estimate) for r in board.desks if r.estimate is not None]
        svg["desks"] = figures.ranking_chart(ranked, number, captions["desks"])
    svg["trend"] = figures.trend_chart(
        [(t.period.label(locale), t.estimate) for t in board.trend], number,
        captions["trend"])
    svg["arrivals"], svg["means"] = figures.arrival_charts(
        board.arrivals, weekdays, lambda v: number(v, 0), number,
        (captions["arrivals"], captions["means"]))
    today = local_today(agency.timezone)
    return render_template("dashboard/agency.html", board=board, svg=svg, names=names,
                           desk_href=_desk_href(agency.code, pick.period.key),
                           weekdays=weekdays, locale=locale, pick=pick, captions=captions,
                           can_manage=current_user.role in MANAGERS,
                           provisional=_provisional(pick.period, today),
                           overdue=followups.overdue_ids(board.follow_ups, today)), pick.status


@bp.get("/<code>/loket/<int:desk_id>")
def desk(code: str, desk_id: int):
    session, agency = figures_of(code)
    pick = _pick(session, agency)
    period = pick.period
    board = dashboard.build_desk(session, agency, desk_id, period)
    if board is None:
        abort(404)
    locale = current_locale()
    names = {e.code: e.name(locale) for e in board.scope.questionnaire.elements}
    captions = chart_captions()
    svg = {"trend": figures.trend_chart([(p.label(locale), e) for p, e in board.points],
                                        number, captions["trend"])}
    if board.estimate is not None:
        svg["elements"] = figures.elements_chart(
            board.estimate, names, number, captions["elements"],
            [e.code for e in board.estimate.lowest_elements(3)])
    return render_template("dashboard/desk.html", agency=agency, desk=board.desk,
                           ref=board.ref, period=period, estimate=board.estimate,
                           points=board.points, svg=svg, names=names,
                           comments=board.comments, locale=locale, pick=pick,
                           change=board.change, captions=captions,
                           provisional=_provisional(period, local_today(agency.timezone))
                           ), pick.status


@bp.get("/<code>/rtl")
def follow_ups(code: str):
    # The primary: the page a saved plan redirects to, and where plans are edited.
    agency = require_agency(db.session, current_user, code)
    pick = _pick(db.session, agency)
    period = pick.period
    board_weakest = followups.weakest_elements(db.session, agency, period)
    items = followups.for_period(db.session, agency, period)
    edit_id = request.args.get("edit", type=int)
    editing = next((i for i in items if i.id == edit_id), None)
    elements = queries.agency_scope(db.session, agency).questionnaire.elements
    return render_template("dashboard/follow_ups.html", agency=agency, period=period,
                           items=items, weakest=board_weakest, elements=elements,
                           editing=editing, statuses=followups.STATUSES,
                           can_manage=current_user.role in MANAGERS,
                           locale=current_locale(), pick=pick,
                           overdue=followups.overdue_ids(items, local_today(agency.timezone))
                           ), pick.status


@bp.post("/<code>/rtl")
def follow_up_save(code: str):
    agency = require_agency(db.session, current_user, code)
    period = _period(db.session, agency)
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
        flash(_("Not saved: %(reason)s", reason=message_for(exc)), "error")
    else:
        flash(_("Follow-up plan saved."))
    return redirect(url_for("dashboard.follow_ups", code=code, period=period.key), code=303)
