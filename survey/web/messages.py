"""The core's refusals in the visitor's language. The core raises ValidationError (or
NotFound) with an English message (what the command line prints) and a `code` with the
values the message names; this module turns those into the translated text. Every page
that shows a refusal goes through `message_for`, never `str(error)`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from flask import abort, current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from survey.core.errors import NotFound, ValidationError
from survey.core.periods import PeriodError, parse_period
from survey.web import labels
from survey.web.i18n import current_locale, local_time

# The objects a message names ("the desk name ...").
THINGS = {"agency": _l("agency"), "desk": _l("desk"), "service": _l("service"),
          "user": _l("user")}
# The follow-up form's fields.
FIELDS = {"action": _l("the action"), "owner": _l("the person in charge"),
          "evidence": _l("the evidence note")}
# The columns of the import files, by their header names.
COLUMNS = {"agency": _l("agency"), "desk": _l("desk"), "service": _l("service"),
           "submitted_at": _l("submitted_at"), "comment": _l("comment"),
           "month": _l("month"), "count": _l("count"), "sex": _l("sex"), "age": _l("age"),
           "education": _l("education"), "occupation": _l("occupation")}


def _thing(what: object) -> str:
    return str(THINGS.get(str(what), what))


def _count(value: object) -> str:
    return format_decimal(value) if isinstance(value, int) else str(value)


def _moment(value: object, zone: object) -> str:
    """An ISO time the core names, in the zone's local time in the visitor's language."""
    try:
        return local_time(datetime.fromisoformat(str(value)), str(zone))
    except (ValueError, KeyError, OverflowError):  # not a time or a zone; past 9999
        return str(value)


def _period_label(key: object) -> str:
    """A period key the core names, as people read it (Mei 2024); as typed when it is
    not a period."""
    try:
        return parse_period(str(key)).label(current_locale())
    except PeriodError:
        return str(key)


MESSAGES: dict[str, Callable[..., str]] = {
    # periods and publication
    "period_closed": lambda period, day, **_rest: _(
        "The period %(period)s is closed and its results are published: nothing dated "
        "%(day)s can be added or changed. An administrator can reopen the period, with a "
        "reason.", period=period, day=day),
    "reason_required": lambda **_rest: _("Give the reason for reopening the period."),
    "reason_too_long": lambda limit, **_rest: _(
        "The reason is longer than %(limit)s characters.", limit=_count(limit)),
    "period_not_over": lambda period, end, **_rest: _(
        "Period %(period)s runs until %(end)s; close it after it has ended.", period=period,
        end=end),
    "period_already_closed": lambda period, **_rest: _(
        "Period %(period)s is already closed.", period=period),
    "period_not_closed": lambda period, **_rest: _(
        "Period %(period)s is not closed.", period=period),
    "period_exists": lambda period, **_rest: _(
        "Period %(period)s already exists.", period=period),
    "bad_period": lambda period="", last_year=None, **_rest: bad_period(period, last_year),
    "nothing_published": lambda **_rest: _(
        "No results have been published yet: no reporting period has been closed."),
    "period_not_published": lambda period, **_rest: _(
        "The results of %(period)s are not published: the period is still open, or there "
        "is no such period.", period=_period_label(period)),
    "no_published_results": lambda agency, period, **_rest: _(
        "%(agency)s has no published results for %(period)s.", agency=agency,
        period=_period_label(period)),
    # files
    "too_many_rows": lambda limit, **_rest: _(
        "The file has more than %(limit)s responses. Split it into files of at most "
        "%(limit)s rows and import them one after the other.", limit=format_decimal(limit)),
    "already_imported": lambda **_rest: _(
        "This file was already imported; nothing was stored again."),
    "csv_not_utf8": lambda **_rest: _(
        "The file is not UTF-8 text. In the spreadsheet, save it as “CSV UTF-8”."),
    "csv_binary": lambda **_rest: _(
        "The file is not a CSV text file (it contains NUL bytes)."),
    "csv_malformed": lambda **_rest: _(
        "The line cannot be read as CSV (a quotation mark is not closed, or a field is "
        "broken)."),
    "csv_empty": lambda columns, **_rest: _(
        "The file is empty; line 1 must be the header (%(columns)s).", columns=columns),
    "csv_no_header": lambda columns, **_rest: _(
        "Line 1 must be the header (%(columns)s).", columns=columns),
    "csv_column_twice": lambda name, **_rest: _(
        "The column “%(name)s” appears twice.", name=name),
    "csv_missing_columns": lambda missing, columns, **_rest: _(
        "The header lacks the column(s) %(missing)s (expected %(columns)s).",
        missing=missing, columns=columns),
    "csv_width": lambda expected, found, **_rest: _(
        "Expected %(expected)s fields like the header, found %(found)s.",
        expected=expected, found=found),
    "csv_no_rows": lambda **_rest: _("The file has no data rows after the header."),
    # rows of the import files
    "agency_empty": lambda **_rest: _("The agency is empty."),
    "unknown_agency": lambda agency, scoped=False, **_rest: (
        _("There is no agency “%(agency)s” among your agencies.", agency=agency) if scoped
        else _("There is no agency “%(agency)s”.", agency=agency)),
    "no_agency": lambda agency, **_rest: _(
        "There is no agency “%(agency)s”.", agency=agency),
    "no_children": lambda agency, **_rest: _(
        "%(agency)s has no agencies below it, so there is no league of agencies to show. "
        "A league compares the agencies of a Mal Pelayanan Publik; open the dashboard of "
        "the MPP they belong to.", agency=agency),
    "unknown_desk": lambda agency, desk, **_rest: _(
        "Agency %(agency)s has no desk “%(desk)s”.", agency=agency, desk=desk),
    "unknown_service": lambda agency, service, **_rest: _(
        "Agency %(agency)s has no service “%(service)s”.", agency=agency, service=service),
    "element_column": lambda desk, first, last, element, **_rest: _(
        "Desk %(desk)s uses a questionnaire with %(first)s to %(last)s, but the header has "
        "no column %(element)s.", desk=desk, first=first, last=last, element=element),
    "no_element": lambda desk, element, **_rest: _(
        "Desk %(desk)s has no element %(element)s on its questionnaire; leave the cell "
        "empty.", desk=desk, element=element),
    "not_on_questionnaire": lambda element, **_rest: _(
        "Element %(element)s is not on the desk's questionnaire.", element=element),
    "bad_score": lambda value, **_rest: _(
        "The score “%(value)s” is not 1, 2, 3, 4 or empty.", value=value),
    "bad_choice": lambda value, allowed, **_rest: _(
        "“%(value)s” is not one of %(allowed)s (or empty).", value=value, allowed=allowed),
    "bad_moment": lambda value, **_rest: _(
        "“%(value)s” is not a date or time like 2024-05-31 or 2024-05-31T10:00:00+07:00.",
        value=value),
    "in_future": lambda value, zone=None, **_rest: (
        _("The response was recorded at %(time)s, later than the present time: the "
          "tablet's clock is wrong. Set its date and time.", time=_moment(value, zone))
        if zone else _("%(value)s lies in the future.", value=value)),
    "comment_too_long": lambda limit, **_rest: _(
        "The suggestion is longer than %(limit)s characters.", limit=_count(limit)),
    "unknown_channel": lambda channel, **_rest: _(
        "“%(channel)s” is not a channel.", channel=channel),
    "ticket_verified": lambda **_rest: _("A response with a visit ticket is verified."),
    "service_elsewhere": lambda **_rest: _(
        "The service is not offered by the agency of this desk."),
    "unknown_flag": lambda flag, **_rest: _("“%(flag)s” is not a known signal.", flag=flag),
    "unknown_desk_id": lambda desk, **_rest: _("There is no desk number %(desk)s.",
                                               desk=desk),
    "naive_time": lambda **_rest: _("The time of the response has no time zone."),
    "redacted": lambda **_rest: _("This comment was removed for good."),
    "sheet_other_desk": lambda **_rest: _(
        "This sheet was already saved for another desk."),
    # service volumes
    "count_negative": lambda value, **_rest: _(
        "The count “%(value)s” must not be negative.", value=value),
    "count_not_whole": lambda value, **_rest: _(
        "The count “%(value)s” is not a whole number.", value=value),
    "count_too_large": lambda value, **_rest: _(
        "The count “%(value)s” is too large.", value=value),
    "volume_twice": lambda desk, month, earlier, **_rest: _(
        "%(desk)s %(month)s was already given on line %(earlier)s.", desk=desk, month=month,
        earlier=earlier),
    "granularity": lambda value, **_rest: _(
        "A service volume is %(day)s or %(month)s, not “%(value)s”.",
        day=labels.granularity_label("day"), month=labels.granularity_label("month"),
        value=value),
    "month_start": lambda day, **_rest: _(
        "A monthly volume starts on the first day of the month, not on %(day)s.", day=day),
    "bad_month": lambda value, **_rest: _(
        "The month “%(value)s” must look like 2024-05.", value=value),
    "bad_day": lambda value, **_rest: _(
        "The day “%(value)s” must look like 2024-05-31.", value=value),
    # organisation
    "bad_code": lambda what, value, **_rest: _(
        "The %(what)s code “%(value)s” is invalid: use 1 to 40 letters, digits, '.', '_' or "
        "'-', starting with a letter or digit.", what=_thing(what), value=value),
    "name_empty": lambda what, **_rest: _("The %(what)s name must not be empty.",
                                          what=_thing(what)),
    "name_too_long": lambda what, limit, **_rest: _(
        "The %(what)s name is longer than %(limit)s characters.", what=_thing(what),
        limit=_count(limit)),
    "bad_timezone": lambda value, **_rest: _(
        "“%(value)s” is not a time zone (e.g. Asia/Jakarta).", value=value),
    "bad_nip": lambda **_rest: _("The NIP has 18 digits."),
    "other_agency": lambda what, **_rest: _(
        "Every %(what)s must belong to the same agency.", what=_thing(what)),
    "desk_exists": lambda agency, desk, **_rest: _(
        "Agency %(agency)s already has a desk %(desk)s.", agency=agency, desk=desk),
    "service_exists": lambda agency, service, **_rest: _(
        "Agency %(agency)s already has a service %(service)s.", agency=agency,
        service=service),
    "agency_exists": lambda agency, **_rest: _("Agency %(agency)s already exists.",
                                               agency=agency),
    "own_parent": lambda **_rest: _("An agency cannot be its own parent."),
    "parent_below": lambda parent, agency, **_rest: _(
        "Agency %(parent)s cannot be the parent of %(agency)s: it lies below %(agency)s.",
        parent=parent, agency=agency),
    "no_questionnaire": lambda questionnaire, **_rest: _(
        "The questionnaire %(questionnaire)s is not installed; an administrator runs "
        "flask init.", questionnaire=questionnaire),
    # accounts
    "password_short": lambda limit, **_rest: _(
        "The password must have at least %(limit)s characters.", limit=limit),
    "bad_email": lambda value, **_rest: _("“%(value)s” is not an e-mail address.",
                                          value=value),
    "bad_role": lambda value, **_rest: _("“%(value)s” is not a role.", value=value),
    "user_exists": lambda email, **_rest: _("An account %(email)s already exists.",
                                            email=email),
    "role_needs_agency": lambda role, **_rest: _(
        "An account with the role %(role)s needs at least one agency.",
        role=labels.role_label(role)),
    "own_admin": lambda **_rest: _(
        "You cannot remove your own administrator role or deactivate yourself."),
    "staff_no_api": lambda **_rest: _("Desk staff accounts cannot read the API."),
    "token_days": lambda **_rest: _("A token is valid for 1 to 3660 days."),
    "token_revoked": lambda **_rest: _("This token was already revoked."),
    "wrong_password": lambda **_rest: _("The current password is wrong."),
    "same_password": lambda **_rest: _("The new password must differ from the current one."),
    # desks, kiosks, tickets
    "kiosk_name": lambda **_rest: _("Give the device a name of at most 80 characters."),
    "kiosk_revoked": lambda **_rest: _("This device was already revoked."),
    # responses an offline kiosk sends later (survey.core.kiosk_sync)
    "too_old": lambda value, zone, days, **_rest: _(
        "The response was recorded at %(time)s, more than %(days)s days ago; it can no "
        "longer be added.", time=_moment(value, zone), days=_count(days)),
    "key_conflict": lambda **_rest: _(
        "The key of this response was already used at another desk; it was not stored."),
    "answer_missing": lambda element, **_rest: _(
        "Question %(element)s was not answered.", element=element),
    "service_required": lambda **_rest: _("The service received was not chosen."),
    "service_not_at_desk": lambda **_rest: _("The service is not offered at this desk."),
    "bad_text": lambda **_rest: _(
        "The suggestion contains a character no keyboard types (NUL)."),
    "bad_profile": lambda name, **_rest: _(
        "“%(name)s” is not a question about the respondent.", name=name),
    "bad_key": lambda **_rest: _(
        "A response key has 16 to 64 letters, digits, '-' or '_'."),
    "device_not_kiosk": lambda **_rest: _("Only a kiosk response names a kiosk device."),
    "desk_closed": lambda **_rest: _("This desk is closed."),
    "ticket_count": lambda limit, **_rest: _(
        "The number of tickets must be between 1 and %(limit)s.", limit=limit),
    "ticket_ttl": lambda **_rest: _("A ticket is valid for 1 hour to 31 days."),
    # results and follow-up
    "bad_scope": lambda value, **_rest: _("“%(value)s” is not a choice of responses.",
                                          value=value),
    "bad_weights": lambda value, **_rest: _("“%(value)s” is not a weighting.", value=value),
    "bad_confidence": lambda **_rest: _(
        "The confidence level must be between 0.5 and 1 (e.g. 0.95)."),
    "field_required": lambda field, **_rest: _(
        "Fill in %(field)s.", field=str(FIELDS.get(field, field))),
    "field_too_long": lambda field, limit, **_rest: _(
        "%(field)s is longer than %(limit)s characters.",
        field=str(FIELDS.get(field, field)).capitalize(), limit=_count(limit)),
    "choose_element": lambda **_rest: _("Choose an element of the questionnaire."),
    "bad_status": lambda value, **_rest: _("“%(value)s” is not a status.", value=value),
    "bad_due_date": lambda **_rest: _("The due date must look like 2024-12-31."),
    # decisions in the review and moderation queues (survey.core.review)
    "reason_missing": lambda **_rest: _("Give a reason for the decision."),
    "bad_decision": lambda **_rest: _("Choose one of the decisions offered."),
    "not_flagged": lambda **_rest: _("This response was not flagged."),
    "no_comment": lambda **_rest: _("This response has no comment."),
    "already_decided": lambda decision, **_rest: _(
        "It was decided meanwhile (%(status)s). A decision for several responses never "
        "overrides an earlier one; change it on its own row.",
        status=labels.review_status_label(decision)),
    "none_selected": lambda **_rest: _("Select at least one response."),
    "too_many_selected": lambda limit, **_rest: _(
        "Select at most %(limit)s responses at once.", limit=limit),
    # the partitioned layout (survey.core.partitions, `flask partitions`)
    "partitions_need_postgresql": lambda dialect="", **_rest: _(
        "Partitioning needs PostgreSQL; this database is %(dialect)s. Nothing was changed.",
        dialect=dialect),
    "partitions_ahead": lambda **_rest: _("Give 0 or more months to create ahead."),
    "partitions_not_applied": lambda **_rest: _(
        "The response table is not partitioned yet: run “flask partitions apply” first."),
    "partitions_broken": lambda **_rest: _(
        "The partitioned tables are not as this version made them; nothing was changed. "
        "Restore the database from its backup or ask the maintainers."),
    "partitions_default_rows": lambda count=0, **_rest: _(
        "%(count)s responses are in the default partition for the periods to be created; "
        "those periods cannot get partitions of their own while they are there.",
        count=count),
    "partitions_grain": lambda grain="", **_rest: _(
        "“%(grain)s”: partitions are by month or by year, and the grain of partitioned "
        "tables cannot change in place.", grain=grain),
    "partitions_no_schema": lambda **_rest: _(
        "There are no response and answer tables yet: run “flask db upgrade” (or “flask "
        "init”) first."),
    "partitions_old_schema": lambda **_rest: _(
        "The database is older than this version: run “flask db upgrade” first."),
    # a period that cannot be read (survey.core.periods.PeriodError)
    "period_not_understood": lambda period="", **_rest: bad_period(period),
    "period_too_late": lambda period, year, **_rest: bad_period(period, year),
    "period_bad_date": lambda period, **_rest: _(
        "The period “%(period)s” contains a date that does not exist.", period=period),
    "period_reversed": lambda period, **_rest: _(
        "The period “%(period)s” ends before it starts.", period=period),
    "period_none_before": lambda period, **_rest: _(
        "There is no period before %(period)s.", period=period),
    "range_incomplete": lambda **_rest: _("Give both the start and the end date of the range."),
}


def message_for(error: ValidationError | NotFound | PeriodError) -> str:
    """The error in the visitor's language; a line (and column) travels with it ("Line
    12: ..."). An error without a known code (a bug: every refusal a page can show has
    one) falls back to a general sentence rather than English."""
    render = MESSAGES.get(getattr(error, "code", None) or "")
    params = getattr(error, "params", {})
    if render is None:
        current_app.logger.warning("refusal without a translation: %r", error)
        if current_locale() == "en":
            return str(error)
        return _("The input could not be accepted; nothing was stored.")
    text = render(**params)
    line, column = params.get("line"), params.get("column")
    if line and column:
        return _("Line %(line)s, column %(column)s: %(message)s", line=line,
                 column=str(COLUMNS.get(str(column), column)), message=text)
    return _("Line %(line)s: %(message)s", line=line, message=text) if line else text


def bad_period(text: str, last_year: int | None = None) -> str:
    """A period the visitor typed that is not one (or one that ends after `last_year`)."""
    if last_year is not None:
        return _("The period “%(period)s” ends after the year %(year)s, the last one this "
                 "system counts.", period=(text or "")[:40], year=last_year)
    return _("“%(period)s” is not a period. Write a year (2024), a semester (2024-S1), a "
             "quarter (2024-Q2), a month (2024-05) or a range of days "
             "(2024-01-01..2024-03-31).", period=(text or "")[:40])


def refuse(status: int, message: str, code: str | None = None) -> NoReturn:
    """abort() with a message for people and, for the API's JSON answer, a machine code
    (the ValidationError's code where there is one)."""
    try:
        abort(status, description=message)
    except HTTPException as exc:
        exc.reason_code = code  # type: ignore[attr-defined]
        raise
