"""The core's refusals in the visitor's language. The core raises ValidationError with an
English message (what the command line prints) and, where a page needs it, a `code` and
the values the message names; this module turns those into the translated text."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import format_decimal
from flask_babel import gettext as _

from survey.core.errors import ValidationError

MESSAGES: dict[str, Callable[..., str]] = {
    "period_closed": lambda period, day, **_rest: _(
        "The period %(period)s is closed and its results are published: nothing dated "
        "%(day)s can be added or changed. An administrator can reopen the period, with a "
        "reason.", period=period, day=day),
    "reason_required": lambda **_rest: _("Give the reason for reopening the period."),
    "period_not_over": lambda period, end, **_rest: _(
        "Period %(period)s runs until %(end)s; close it after it has ended.", period=period,
        end=end),
    "too_many_rows": lambda limit, **_rest: _(
        "The file has more than %(limit)s responses. Split it into files of at most "
        "%(limit)s rows and import them one after the other.", limit=format_decimal(limit)),
    "already_imported": lambda **_rest: _(
        "This file was already imported; nothing was stored again."),
    "kiosk_name": lambda **_rest: _("Give the device a name of at most 80 characters."),
    "kiosk_revoked": lambda **_rest: _("This device was already revoked."),
    "desk_closed": lambda **_rest: _("This desk is closed."),
    "wrong_password": lambda **_rest: _("The current password is wrong."),
    "same_password": lambda **_rest: _("The new password must differ from the current one."),
}


def message_for(error: ValidationError) -> str:
    """The error in the visitor's language where a translation exists, else as raised;
    a line number travels with it ("line 12: ...")."""
    render = MESSAGES.get(error.code or "")
    if render is None:
        return str(error)
    text = render(**error.params)
    line = error.params.get("line")
    return _("Line %(line)s: %(message)s", line=line, message=text) if line else text
