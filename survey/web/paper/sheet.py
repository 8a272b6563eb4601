"""Reading the operator's sheet: one paper questionnaire per row, typed by keyboard.

Field names are ``r<row>-<field>``: ``date``, ``service``, the element codes (U1..U9, or
U1..U14 on the 2004 questionnaire), ``sex``, ``age``, ``education``, ``occupation``,
``comment``. A row with nothing typed (date and service are pre-filled, so they do not
count) is ignored; any other row must be valid, and a sheet with one invalid row is
stored not at all, so the operator corrects it and sends the same sheet again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _

from survey.core.models import COMMENT_MAX, Service
from survey.core.paper import Entry
from survey.core.profile import PROFILE
from survey.web.labels import FIELD_LABELS

DEFAULT_ROWS = 10
SCORES = {"1": 1, "2": 2, "3": 3, "4": 4}
SHEET_KEY = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


@dataclass
class SheetRow:
    number: int
    values: dict[str, str]  # as typed, to show again
    errors: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    entry: Entry | None = None


def name(number: int, field_name: str) -> str:
    return f"r{number}-{field_name}"


def blank_rows(count: int, day: date, service_id: int | None) -> list[SheetRow]:
    values = {"date": day.isoformat(), "service": str(service_id) if service_id else ""}
    return [SheetRow(n, dict(values)) for n in range(1, count + 1)]


def parse_day(text: str) -> date | None:
    """2024-05-31 (what a date input sends) or 31/05/2024, 31-05-2024, 31.05.2024 (what an
    operator types where the browser shows a plain text box)."""
    text = text.strip()
    try:
        if match := _DMY.fullmatch(text):
            day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        else:
            day = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None
    return day if day is not None and day.year >= 2000 else None


def parse_sheet(form: Mapping[str, str], count: int, codes: Sequence[str],
                services: Sequence[Service], today: date) -> list[SheetRow]:
    """Read `count` rows; each row carries its values, its errors and, when valid and not
    empty, the entry to store."""
    offered = {str(s.id): s.id for s in services}
    rows = []
    for number in range(1, count + 1):
        fields = ("date", "service", *codes, *PROFILE, "comment")
        values = {f: (form.get(name(number, f)) or "").strip() for f in fields}
        row = SheetRow(number, values)
        rows.append(row)
        if not any(values[f] for f in (*codes, *PROFILE, "comment")):
            continue  # an empty row
        _check(row, codes, offered, today)
    return rows


def _check(row: SheetRow, codes: Sequence[str], offered: Mapping[str, int],
           today: date) -> None:
    n, values = row.number, row.values
    answers: dict[str, int] = {}
    bad = []
    for code in codes:
        raw = values[code]
        if raw in SCORES:
            answers[code] = SCORES[raw]
        elif raw:
            bad.append(code)
    if bad:
        row.invalid.update(bad)
        row.errors.append(_("Row %(n)d, %(codes)s: type 1, 2, 3 or 4, or leave the cell empty.",
                            n=n, codes=", ".join(bad)))
    elif not answers:
        row.invalid.update(codes)
        row.errors.append(_("Row %(n)d: type at least one score, or clear the row.", n=n))
    day = parse_day(values["date"])
    if day is None:
        row.invalid.add("date")
        row.errors.append(_("Row %(n)d: the date must be a day such as %(example)s.", n=n,
                            example=today.isoformat()))
    elif day > today:
        row.invalid.add("date")
        row.errors.append(_("Row %(n)d: the date lies in the future.", n=n))
    service_id = None
    if values["service"]:
        service_id = offered.get(values["service"])
        if service_id is None:
            row.invalid.add("service")
            row.errors.append(_("Row %(n)d: choose a service of this desk.", n=n))
    profile: dict[str, str | None] = {}
    for field_name, allowed in PROFILE.items():
        raw = values[field_name]
        if raw and raw not in allowed:
            row.invalid.add(field_name)
            row.errors.append(_("Row %(n)d: choose %(field)s from the list.", n=n,
                                field=str(FIELD_LABELS[field_name]).lower()))
        profile[field_name] = raw if raw in allowed else None
    comment = values["comment"]
    if len(comment) > COMMENT_MAX:
        row.invalid.add("comment")
        row.errors.append(_("Row %(n)d: the comment is longer than %(max)d characters.", n=n,
                            max=COMMENT_MAX))
    if not row.errors and day is not None:
        row.entry = Entry(n, day, service_id, answers, profile, comment or None)
