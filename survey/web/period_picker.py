"""The period picker of the staff pages: the known periods to choose from, a custom date
range, and a bad period explained above the page instead of replacing it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.core.periods import Period, PeriodError, parse_period, period_choices
from survey.web.i18n import current_locale
from survey.web.messages import message_for

KIND_LABELS = {"shown": _l("Shown now"), "year": _l("Years"), "semester": _l("Semesters"),
               "quarter": _l("Quarters"), "month": _l("Months")}


@dataclass
class PeriodPick:
    """The period a page shows, what the reader asked for, and why it was not used."""

    period: Period
    error: str | None
    choices: list[tuple[str, list[Period]]]
    start: str  # the custom range's fields as typed (or the period's own dates)
    end: str
    range_error: bool = False  # the error is the custom range's (mark its fields)

    @property
    def status(self) -> int:
        """400 when the page falls back from a bad period (the page itself still shows)."""
        return 400 if self.error else 200


def pick_period(args: Mapping[str, str], default: Period, first: date | None,
                today: date) -> PeriodPick:
    """The period named by `args` (``period``, or a ``from``/``to`` date range), else
    `default` with a message saying why."""
    start, end = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    error = None
    try:
        if start or end:
            if not (start and end):
                raise PeriodError("a range needs both dates", "range_incomplete")
            period = parse_period(f"{start}..{end}")
        else:
            period = parse_period(args.get("period") or default.key)
    except PeriodError as exc:
        error = message_for(exc) + " " + _("Showing %(period)s instead.",
                                            period=default.label(current_locale()))
        period = default
    choices = period_choices(first, today)
    if not any(p == period for _kind, periods in choices for p in periods):
        choices.insert(0, ("shown", [period]))  # e.g. a range, or a year before the data
    range_error = bool(error and (start or end))
    if not range_error:  # the fields show the period shown, unless the range was wrong
        start, end = period.start.isoformat(), period.end.isoformat()
    return PeriodPick(period, error, choices, start[:10], end[:10], range_error)
