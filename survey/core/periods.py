"""Reporting periods: a year, semester, quarter, month, or an explicit date range.

Pure code (only `local_today` reads the clock). Keys are what users type and what URLs
carry: 2024, 2024-S1, 2024-Q3, 2024-05, 2024-01-15..2024-03-14, 2024-01..2024-04. Dates are
agency-local calendar days, both ends inclusive.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
              "September", "Oktober", "November", "Desember")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


class PeriodError(ValueError):
    """A period that cannot be read. The English message is what the command line prints;
    `code` and `params` let the web say the same in the visitor's language."""

    def __init__(self, message: str, code: str = "period_not_understood", **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive
    key: str
    kind: str  # year | semester | quarter | month | range

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def label(self, locale: str = "id") -> str:
        months = _MONTHS_EN if locale == "en" else _MONTHS_ID
        y = self.start.year
        if self.kind == "year":
            return f"{y}" if locale == "en" else f"Tahun {y}"
        if self.kind == "semester":
            n = 1 if self.start.month == 1 else 2
            return f"Semester {n} {y}" if locale == "en" else f"Semester {'I' * n} {y}"
        if self.kind == "quarter":
            n = (self.start.month - 1) // 3 + 1
            roman = ("I", "II", "III", "IV")[n - 1]
            return f"Q{n} {y}" if locale == "en" else f"Triwulan {roman} {y}"
        if self.kind == "month":
            return f"{months[self.start.month - 1]} {y}"
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def previous(self) -> Period:
        """The period of the same kind just before this one (same length for ranges);
        PeriodError before the year 1."""
        try:
            return self._previous()
        except (ValueError, OverflowError) as exc:
            raise PeriodError(f"no period before {self.key}", "period_none_before",
                              period=self.key) from exc

    def before(self) -> Period | None:
        """The previous period, or None when there is none (templates)."""
        try:
            return self.previous()
        except PeriodError:
            return None

    def year_earlier(self) -> Period:
        """The same period one year before (2024-S1 -> 2023-S1, 2024-05 -> 2023-05, a
        range on the same days; a range ending on a month's last day ends on that month's
        last day, so 2024-02-01..2024-02-29 -> 2023-02-01..2023-02-28): what a
        year-over-year comparison is made against, free of seasons. PeriodError before
        the year 1."""
        steps = {"year": 1, "semester": 2, "quarter": 4, "month": 12}
        try:
            if self.kind in steps:
                return parse_period(_shift_key(self, -steps[self.kind]))
            start, end = _year_before(self.start), _year_before(self.end)
            return Period(start, end, f"{start.isoformat()}..{end.isoformat()}", "range")
        except (ValueError, OverflowError) as exc:
            raise PeriodError(f"no period a year before {self.key}", "period_none_before",
                              period=self.key) from exc

    def _previous(self) -> Period:
        if self.kind == "range":
            end = self.start - timedelta(days=1)
            return Period(end - timedelta(days=self.days - 1), end,
                          f"{(end - timedelta(days=self.days - 1)).isoformat()}..{end}", "range")
        return parse_period(_shift_key(self, -1))

    def months(self) -> list[date]:
        """First days of the calendar months this period touches."""
        out, current = [], self.start.replace(day=1)
        while current <= self.end:
            out.append(current)
            current = add_months(current, 1)
        return out


def local_today(timezone: str) -> date:
    """Today where the agency (or the site) is, not where the server is: a form typed at
    00:30 WIT belongs to the new day even on a server running on UTC."""
    return datetime.now(ZoneInfo(timezone)).date()


def add_months(day: date, count: int) -> date:
    """The first day of the month `count` months after `day`'s month."""
    index = day.year * 12 + day.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_end(first: date) -> date:
    """The last day of `first`'s month."""
    return first.replace(day=monthrange(first.year, first.month)[1])


def _year_before(day: date) -> date:
    """The same day a year before; a month's last day stays its month's last day."""
    first = date(day.year - 1, day.month, 1)
    return month_end(first) if day == month_end(day.replace(day=1)) else first.replace(
        day=day.day)


def _shift_key(period: Period, steps: int) -> str:
    y, m = period.start.year, period.start.month
    if period.kind == "year":
        return str(y + steps)
    if period.kind == "semester":
        index = y * 2 + (0 if m == 1 else 1) + steps
        return f"{index // 2}-S{index % 2 + 1}"
    if period.kind == "quarter":
        index = y * 4 + (m - 1) // 3 + steps
        return f"{index // 4}-Q{index % 4 + 1}"
    first = add_months(period.start, steps)
    return f"{first.year:04d}-{first.month:02d}"


LAST_YEAR = 9998  # month arithmetic needs the month after a period's end


def parse_period(text: str) -> Period:
    """Parse a period key; raises PeriodError with a message naming the accepted forms."""
    try:
        period = _parse(text)
        if period.end.year > LAST_YEAR:
            raise PeriodError(f"period {period.key!r} ends after the year {LAST_YEAR}",
                              "period_too_late", period=period.key, year=LAST_YEAR)
        return period
    except PeriodError:
        raise
    except (ValueError, OverflowError) as exc:  # e.g. year 0
        raise PeriodError(f"invalid date in period {text!r}: {exc}", "period_bad_date",
                          period=text) from None


def _parse(text: str) -> Period:
    key = (text or "").strip()
    if m := re.fullmatch(r"(\d{4})", key):
        y = int(m.group(1))
        return Period(date(y, 1, 1), date(y, 12, 31), key, "year")
    if m := re.fullmatch(r"(\d{4})-S([12])", key, flags=re.IGNORECASE):
        y, s = int(m.group(1)), int(m.group(2))
        start = date(y, 1 if s == 1 else 7, 1)
        return Period(start, month_end(add_months(start, 5)), f"{y}-S{s}", "semester")
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", key, flags=re.IGNORECASE):
        y, q = int(m.group(1)), int(m.group(2))
        start = date(y, 3 * q - 2, 1)
        return Period(start, month_end(add_months(start, 2)), f"{y}-Q{q}", "quarter")
    if (m := re.fullmatch(r"(\d{4})-(\d{2})", key)) and 1 <= int(m.group(2)) <= 12:
        start = date(int(m.group(1)), int(m.group(2)), 1)
        return Period(start, month_end(start), key, "month")
    if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", key):
        try:
            start, end = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise PeriodError(f"invalid date in period {key!r}: {exc}", "period_bad_date",
                              period=key) from None
        if end < start:
            raise PeriodError(f"period {key!r} ends before it starts", "period_reversed",
                              period=key)
        return Period(start, end, key, "range")
    if m := re.fullmatch(r"(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})", key):
        first, last = (int(m.group(1)), int(m.group(2))), (int(m.group(3)), int(m.group(4)))
        if not (1 <= first[1] <= 12 and 1 <= last[1] <= 12):
            raise PeriodError(f"invalid month in period {key!r}", "period_bad_date", period=key)
        start, end = date(*first, 1), month_end(date(*last, 1))
        if end < start:
            raise PeriodError(f"period {key!r} ends before it starts", "period_reversed",
                              period=key)
        return Period(start, end, key, "range")
    raise PeriodError(
        f"period {text!r} not understood; use 2024, 2024-S1, 2024-Q3, 2024-05, "
        "2024-01-15..2024-03-14 or 2024-01..2024-04", period=text
    )


def current_period(kind: str, today: date) -> Period:
    """The period of the given kind that contains `today`."""
    y, m = today.year, today.month
    keys = {"year": f"{y}", "semester": f"{y}-S{1 if m <= 6 else 2}",
            "quarter": f"{y}-Q{(m - 1) // 3 + 1}", "month": f"{y:04d}-{m:02d}"}
    if kind not in keys:
        raise PeriodError(f"unknown period kind {kind!r}", period=kind)
    return parse_period(keys[kind])


def last_closed(kind: str, today: date) -> Period:
    """The most recent period of the given kind that has fully ended before `today`."""
    return current_period(kind, today).previous()


def period_choices(first: date | None, today: date) -> list[tuple[str, list[Period]]]:
    """The periods a reader can pick, newest first, grouped by kind: every year,
    semester, quarter and month from the year of the first data (`first`, else this
    year) to this year, up to the one running today."""
    years = range(today.year, min(first or today, today).year - 1, -1)
    groups: list[tuple[str, list[Period]]] = [
        ("year", [parse_period(f"{y}") for y in years]),
        ("semester", [parse_period(f"{y}-S{s}") for y in years for s in (2, 1)]),
        ("quarter", [parse_period(f"{y}-Q{q}") for y in years for q in (4, 3, 2, 1)]),
        ("month", [parse_period(f"{y:04d}-{m:02d}") for y in years
                   for m in range(12, 0, -1)]),
    ]
    return [(kind, [p for p in periods if p.start <= today]) for kind, periods in groups]
