"""The review queue of flagged responses and the moderation queue of comments: filters, a
page at a time, decisions one by one or for many selected at once, and an administrator's
redaction of a comment.

Registered on the dashboard blueprint (its own module, so that the queues and the agency
dashboard change independently); its access rules join the dashboard's POLICY, which the
app factory registers. Every view resolves the agency through `require_agency`, so another
agency's data is a 404."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.core import review
from survey.core.db import db, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import CHANNELS, Agency
from survey.core.periods import PeriodError, local_today, parse_period
from survey.core.responses import FLAG_NAMES
from survey.core.results import dashboard, queries
from survey.web import labels
from survey.web.access import ADMIN, MANAGERS, READERS, require_agency
from survey.web.dashboard.views import POLICY as DASHBOARD_POLICY
from survey.web.dashboard.views import bp
from survey.web.i18n import current_locale
from survey.web.messages import message_for

POLICY = {
    "dashboard.queue": READERS,
    "dashboard.review_flag": MANAGERS,
    "dashboard.moderate_comment": MANAGERS,
    "dashboard.decide_many": MANAGERS,
    "dashboard.redact_comment": ADMIN,
}
DASHBOARD_POLICY.update(POLICY)  # the app factory registers the dashboard's rules

# The query parameters a queue page is narrowed by; decisions carry them back (hidden
# fields) so that the reviewer returns to the same filtered page.
FILTER_KEYS = ("desk", "signal", "channel", "from", "to", "status", "page")
LARGEST_ID = 2**63 - 1



def refusal(exc: ValidationError) -> str:
    """Why a decision was not saved, naming the response of a batch that stopped it."""
    text = message_for(exc)
    if "response" in exc.params:
        return _("Nothing was saved. Response #%(id)s: %(reason)s", id=exc.params["response"],
                 reason=text)
    return _("Not saved: %(reason)s", reason=text)


@dataclass
class Filters:
    """The queue's filters as asked, checked against the agency: `core` for the query,
    `args` to rebuild the links, `problems` to tell the reviewer what was ignored."""

    core: review.QueueFilter
    args: dict[str, str]
    page: int
    problems: list[str] = field(default_factory=list)


def _filters(agency: Agency, desks: list[queries.DeskRef], kind: str,
             params: Mapping[str, str]) -> Filters:
    """Read the filters; a value that makes no sense is ignored with a message, never an
    error page."""
    problems: list[str] = []
    args: dict[str, str] = {}
    desk_ids = tuple(d.id for d in desks)
    if params.get("desk"):
        chosen = [d.id for d in desks if str(d.id) == params["desk"]]
        if chosen:
            desk_ids, args["desk"] = tuple(chosen), params["desk"]
        else:
            problems.append(_("There is no such desk here; showing every desk."))
    signal = params.get("signal") or None
    if signal and (kind != "flag" or signal not in FLAG_NAMES):
        problems.append(_("Unknown signal; showing every signal."))
        signal = None
    channel = params.get("channel") or None
    if channel and channel not in CHANNELS:
        problems.append(_("Unknown channel; showing every channel."))
        channel = None
    status = params.get("status") or ("all" if params.get("all") == "1" else "pending")
    if status not in review.STATUSES:
        problems.append(_("Unknown status; showing those waiting for a decision."))
        status = "pending"
    try:
        period = parse_period(params.get("period") or dashboard.default_period(
            local_today(agency.timezone)).key)
    except PeriodError:
        problems.append(_("Unknown period; showing the current semester."))
        period = dashboard.default_period(local_today(agency.timezone))
    start, end = period.start, period.end
    for key in ("from", "to"):
        if not params.get(key):
            continue
        try:
            day = date.fromisoformat(params[key])
        except ValueError:
            problems.append(_("Write dates as YYYY-MM-DD, e.g. 2024-05-14."))
            continue
        if key == "from":
            start = day
        else:
            end = day
    if start > end:
        problems.append(_("The start date is after the end date; showing the period "
                          "instead."))
        start, end = period.start, period.end
    args.update({"from": start.isoformat(), "to": end.isoformat(), "status": status})
    if signal:
        args["signal"] = signal
    if channel:
        args["channel"] = channel
    try:
        page = int(params.get("page") or 1)
    except ValueError:
        page = 1  # a page that is not a number shows the first
    return Filters(review.QueueFilter(kind, desk_ids, start, end, status, signal, channel),
                   args, max(1, min(page, 10**9)), problems)


def _desk_ids(agency: Agency) -> set[int]:
    return {d.id for d in queries.agency_scope(db.session, agency).desks}


@bp.get("/<code>/antrean/<kind>")
def queue(code: str, kind: str):
    agency = require_agency(db.session, current_user, code)
    if kind not in review.KINDS:
        abort(404)
    desks = queries.agency_scope(db.session, agency).desks
    filters = _filters(agency, desks, kind, request.args)
    page = review.queue_page(db.session, filters.core, filters.page)
    return render_template(
        "dashboard/queue.html", agency=agency, kind=kind, page=page, filters=filters,
        desks=desks, signals=FLAG_NAMES, channels=CHANNELS,
        decisions=review.DECISIONS[kind], statuses=review.STATUSES,
        can_manage=current_user.role in MANAGERS, can_redact=current_user.role in ADMIN,
        locale=current_locale(), channel_label=labels.channel_label,
        review_status_label=labels.review_status_label, period=request.args.get("period"),
        bulk_max=review.BULK_MAX)


def _back(code: str, kind: str) -> Any:
    """To the queue page the decision was made on, with its filters."""
    args = {k: request.form[k] for k in FILTER_KEYS if request.form.get(k)}
    return redirect(url_for("dashboard.queue", code=code, kind=kind, **args), code=303)


def _write(code: str, kind: str, work: Callable[[set[int]], str]) -> Any:
    """Run one decision (or one batch) in a write transaction on the agency's desks: a
    response of another agency is a 404; a refusal is a message and stores nothing."""
    agency = require_agency(db.session, current_user, code)
    try:
        with write_transaction(db.session):
            done = work(_desk_ids(agency))
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(refusal(exc), "error")
    else:
        flash(done)
    return _back(code, kind)


def _single(kind: str, response_id: int) -> Callable[[set[int]], str]:
    decide = review.review_flag if kind == "flag" else review.moderate_comment

    def work(desk_ids: set[int]) -> str:
        decide(db.session, response_id, request.form.get("decision", ""),
               request.form.get("reason", ""), current_user, desk_ids=desk_ids)
        return _("Decision saved.")
    return work


@bp.post("/<code>/tinjau/<int(max=9223372036854775807):response_id>")
def review_flag(code: str, response_id: int):
    return _write(code, "flag", _single("flag", response_id))


@bp.post("/<code>/komentar/<int(max=9223372036854775807):response_id>")
def moderate_comment(code: str, response_id: int):
    return _write(code, "comment", _single("comment", response_id))


def _selected_ids() -> list[int] | None:
    """The response ids of a bulk form: the ticked rows, or every row of the page when
    "select all on this page" is ticked; None when one is not a response number."""
    names = "page_ids" if request.form.get("all_on_page") == "1" else "ids"
    ids = []
    for value in request.form.getlist(names):
        if not (value.isascii() and value.isdigit() and len(value) <= 19) or not (
                0 < int(value) <= LARGEST_ID):
            return None
        ids.append(int(value))
    return ids


@bp.post("/<code>/antrean/<kind>/putuskan")
def decide_many(code: str, kind: str):
    """One decision with one reason for every selected row: all of them or none."""
    if kind not in review.KINDS:
        abort(404)
    ids = _selected_ids()

    def work(desk_ids: set[int]) -> str:
        if ids is None:
            raise ValidationError("a selected row is not a response", code="none_selected")
        rows = review.decide_many(db.session, kind, ids, request.form.get("decision", ""),
                                  request.form.get("reason", ""), current_user,
                                  desk_ids=desk_ids)
        return _("Decision saved for %(n)s responses.", n=len(rows))
    return _write(code, kind, work)


@bp.post("/<code>/komentar/<int(max=9223372036854775807):response_id>/hapus")
def redact_comment(code: str, response_id: int):
    """An administrator removes a comment for good (e.g. a personal number the mask
    missed); the reason is recorded and the hash chain still verifies."""
    def work(desk_ids: set[int]) -> str:
        deleted = review.redact_comment(db.session, response_id,
                                        request.form.get("reason", ""), current_user,
                                        desk_ids=desk_ids)
        return _("The comment was removed.") if deleted else _(
            "The comment was removed from every page and export. It was recorded before "
            "comments could be deleted, so its text stays in the database, where the "
            "tamper-evidence covers it.")
    return _write(code, "comment", work)
