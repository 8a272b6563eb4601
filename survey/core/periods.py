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
            raise PeriodError(f"no period before {self.key}") from exc

    def before(self) -> Period | None:
        """The previous period, or None when there is none (templates)."""
        try:
            return self.previous()
        except PeriodError:
            return None

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
        raise PeriodError(f"invalid date in period {text!r}: {exc}") from None


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
            raise PeriodError(f"invalid date in period {key!r}: {exc}") from None
        if end < start:
            raise PeriodError(f"period {key!r} ends before it starts")
        return Period(start, end, key, "range")
    if m := re.fullmatch(r"(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})", key):
        first, last = (int(m.group(1)), int(m.group(2))), (int(m.group(3)), int(m.group(4)))
        if not (1 <= first[1] <= 12 and 1 <= last[1] <= 12):
            raise PeriodError(f"invalid month in period {key!r}")
        start, end = date(*first, 1), month_end(date(*last, 1))
        if end < start:
            raise PeriodError(f"period {key!r} ends before it starts")
        return Period(start, end, key, "range")
    raise PeriodError(
        f"period {text!r} not understood; use 2024, 2024-S1, 2024-Q3, 2024-05, "
        "2024-01-15..2024-03-14 or 2024-01..2024-04"
    )


def current_period(kind: str, today: date) -> Period:
    """The period of the given kind that contains `today`."""
    y, m = today.year, today.month
    keys = {"year": f"{y}", "semester": f"{y}-S{1 if m <= 6 else 2}",
            "quarter": f"{y}-Q{(m - 1) // 3 + 1}", "month": f"{y:04d}-{m:02d}"}
    if kind not in keys:
        raise PeriodError(f"unknown period kind {kind!r}")
    return parse_period(keys[kind])


def last_closed(kind: str, today: date) -> Period:
    """The most recent period of the given kind that has fully ended before `today`."""
    return current_period(kind, today).previous()
