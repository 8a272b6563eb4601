"""Service volumes in bulk: the per-agency year grid and the CSV import.

The volume is the population N of the survey (sample size, finite-population correction,
response rate), so a wrong number silently changes every interval: both paths are
all-or-nothing, and each saved change is one audit event in the same transaction.

CSV format (`flask volume import` and the admin page): a header row naming the columns
``agency,desk,month,count`` (any order; other columns are ignored), then one row per desk
and month, e.g. ``KEC-A,L1,2024-05,1200``. ``count`` is a whole number >= 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..audit_log import record_event
from ..errors import ValidationError
from ..models import Agency, Desk, User
from . import services
from .csvfile import check_width, read_table

COLUMNS = ("agency", "desk", "month", "count")
_WHOLE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class VolumeRow:
    line: int
    desk: Desk
    month: date
    count: int


def parse_count(raw: str) -> int:
    """A typed count: digits only (no sign, decimals or thousands separators)."""
    text = raw.strip()
    if re.fullmatch(r"-[0-9]+", text):
        raise ValidationError(f"count {raw!r} must not be negative")
    if not _WHOLE.fullmatch(text):
        raise ValidationError(f"count {raw!r} is not a whole number")
    value = int(text)
    if value > services.MAX_COUNT:
        raise ValidationError(f"count {raw!r} is too large")
    return value


def parse_csv(session: Session, data: bytes, allowed: set[int] | None) -> list[VolumeRow]:
    """Read a volume CSV; raises ValidationError naming the first bad line. `allowed` are
    the agency ids the user may change (None: all); another agency reads as unknown, so
    that a manager learns nothing about agencies outside their scope."""
    table = read_table(data, COLUMNS)
    agencies = {
        a.code: {d.code: d for d in a.desks}
        for a in session.scalars(select(Agency).options(selectinload(Agency.desks)))
        if allowed is None or a.id in allowed
    }
    unknown = "unknown agency {!r}" + ("" if allowed is None else
                                       " (or not one of your agencies)")
    rows: list[VolumeRow] = []
    seen: dict[tuple[int, date], int] = {}
    for line, cells in table.records:
        check_width(table, line, cells)
        code, desk_code = (table.cell(cells, "agency").strip(),
                           table.cell(cells, "desk").strip())
        try:
            if not code:
                raise ValidationError("agency is empty")
            agency_desks = agencies.get(code)
            if agency_desks is None:
                raise ValidationError(unknown.format(code))
            desk = agency_desks.get(desk_code)
            if desk is None:
                raise ValidationError(f"agency {code} has no desk {desk_code!r}")
            month = services.parse_month(table.cell(cells, "month"))
            count = parse_count(table.cell(cells, "count"))
        except ValidationError as exc:
            raise ValidationError(f"line {line}: {exc}") from None
        earlier = seen.get((desk.id, month))
        if earlier is not None:
            raise ValidationError(f"line {line}: {code}/{desk.code} {month:%Y-%m} was already "
                                  f"given on line {earlier}")
        seen[(desk.id, month)] = line
        rows.append(VolumeRow(line, desk, month, count))
    if not rows:
        raise ValidationError("the file has no data rows after the header")
    return rows


def import_csv(
    session: Session,
    data: bytes,
    *,
    allowed: set[int] | None,
    user: User | None = None,
    filename: str | None = None,
) -> int:
    """Parse and store a volume CSV in the caller's transaction, with one audit event;
    returns the number of rows. Nothing is written when any line is wrong."""
    rows = parse_csv(session, data, allowed)
    for row in rows:
        services.set_volume(session, row.desk, "month", row.month, row.count)
    record_event(session, "volumes_imported", user=user,
                 target=",".join(sorted({r.desk.agency.code for r in rows})),
                 details={"rows": len(rows), "file": (filename or "")[:200]})
    return len(rows)


@dataclass(frozen=True)
class Change:
    desk: str
    month: str
    old: int | None
    new: int | None


def save_grid(
    session: Session,
    agency: Agency,
    desks: Iterable[Desk],
    year: int,
    values: Mapping[tuple[int, int], int | None],
    user: User | None = None,
) -> list[Change]:
    """Store the typed grid (desk id, month) -> count, None meaning unknown (an existing
    value is then removed). Writes one audit event listing the changed cells."""
    desks = list(desks)
    current = services.month_volumes(session, desks, year)
    changes: list[Change] = []
    for desk in desks:
        for month in range(1, 13):
            old, new = current.get((desk.id, month)), values.get((desk.id, month))
            if old == new:
                continue
            start = date(year, month, 1)
            if new is None:
                services.clear_volume(session, desk, "month", start)
            else:
                services.set_volume(session, desk, "month", start, new)
            changes.append(Change(desk.code, f"{start:%Y-%m}", old, new))
    if changes:
        record_event(session, "volume_set", user=user, target=f"{agency.code} {year}",
                     details={"changes": [c.__dict__ for c in changes]})
    return changes
