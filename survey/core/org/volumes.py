"""Service volumes: citizens served per desk and day or month, the population N of the
survey (sample size, finite-population correction, response rate).

A wrong number silently changes every interval, so every path (one value from `flask
volume set`, the per-agency year grid, the CSV import) is all-or-nothing and writes one
audit event in the same transaction.

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

from survey.core.audit import Actor, record_event
from survey.core.csvread import check_width, read_table
from survey.core.errors import ValidationError, on_line
from survey.core.models import Agency, Desk, ServiceVolume
from survey.core.org.checks import parse_month

COLUMNS = ("agency", "desk", "month", "count")
_WHOLE = re.compile(r"[0-9]+")
MAX_COUNT = 2**31 - 1  # the volume column is a 32-bit integer
GRANULARITIES = ("day", "month")


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
        raise ValidationError(f"count {raw!r} must not be negative", code="count_negative",
                              value=raw)
    if not _WHOLE.fullmatch(text):
        raise ValidationError(f"count {raw!r} is not a whole number", code="count_not_whole",
                              value=raw)
    value = int(text)
    if value > MAX_COUNT:
        raise ValidationError(f"count {raw!r} is too large", code="count_too_large",
                              value=raw)
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
                raise ValidationError("agency is empty", code="agency_empty")
            agency_desks = agencies.get(code)
            if agency_desks is None:
                raise ValidationError(unknown.format(code), code="unknown_agency",
                                      agency=code, scoped=allowed is not None)
            desk = agency_desks.get(desk_code)
            if desk is None:
                raise ValidationError(f"agency {code} has no desk {desk_code!r}",
                                      code="unknown_desk", agency=code, desk=desk_code)
            month = parse_month(table.cell(cells, "month"))
            count = parse_count(table.cell(cells, "count"))
        except ValidationError as exc:
            raise on_line(exc, line) from None
        earlier = seen.get((desk.id, month))
        if earlier is not None:
            raise ValidationError(f"line {line}: {code}/{desk.code} {month:%Y-%m} was already "
                                  f"given on line {earlier}", code="volume_twice", line=line,
                                  desk=f"{code}/{desk.code}", month=f"{month:%Y-%m}",
                                  earlier=earlier)
        seen[(desk.id, month)] = line
        rows.append(VolumeRow(line, desk, month, count))
    if not rows:
        raise ValidationError("the file has no data rows after the header", code="csv_no_rows")
    return rows


def import_csv(
    session: Session,
    data: bytes,
    *,
    allowed: set[int] | None,
    actor: Actor,
    filename: str | None = None,
) -> int:
    """Parse and store a volume CSV in the caller's transaction, with one audit event;
    returns the number of rows. Nothing is written when any line is wrong."""
    rows = parse_csv(session, data, allowed)
    for row in rows:
        _write(session, row.desk, "month", row.month, row.count)
    record_event(session, "volumes_imported", actor,
                 target=",".join(sorted({r.desk.agency.code for r in rows})),
                 details={"rows": len(rows), "file": (filename or "")[:200]})
    return len(rows)


@dataclass(frozen=True)
class Change:
    """One changed value, as the audit event lists it (`month` is 2024-05 for a monthly
    value, 2024-05-31 for a daily one)."""

    desk: str
    month: str
    old: int | None
    new: int | None


def check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValidationError(f"count must be a whole number >= 0, not {count!r}",
                              code="count_not_whole", value=count)
    if count > MAX_COUNT:
        raise ValidationError(f"count {count} is too large", code="count_too_large",
                              value=count)
    return count


def _row(session: Session, desk: Desk, granularity: str, start: date) -> ServiceVolume | None:
    return session.scalar(select(ServiceVolume).where(
        ServiceVolume.desk_id == desk.id, ServiceVolume.granularity == granularity,
        ServiceVolume.period_start == start))


def _write(session: Session, desk: Desk, granularity: str, start: date,
           count: int | None) -> int | None:
    """Store (or, with None, forget) one value without an audit event; returns the old
    value. Every public path records the change itself."""
    if granularity not in GRANULARITIES:
        raise ValidationError("granularity must be day or month", code="granularity",
                              value=granularity)
    if granularity == "month" and start.day != 1:
        raise ValidationError("a monthly volume starts on the first day of the month",
                              code="month_start", day=start.isoformat())
    if count is not None:
        check_count(count)
    volume = _row(session, desk, granularity, start)
    old = volume.count if volume is not None else None
    if count is None:
        if volume is not None:
            session.delete(volume)
    else:
        if volume is None:
            volume = ServiceVolume(desk=desk, granularity=granularity, period_start=start)
            session.add(volume)
        volume.count = count
    session.flush()
    return old


def set_volume(session: Session, desk: Desk, granularity: str, start: date, count: int, *,
               actor: Actor) -> int | None:
    """Record how many citizens a desk served on a day or in a month (replacing the value);
    returns the previous value. A changed value is one `volume_set` event, as the grid
    writes it."""
    old = _write(session, desk, granularity, start, count)
    if old != count:
        label = f"{start:%Y-%m}" if granularity == "month" else start.isoformat()
        record_event(session, "volume_set", actor, target=f"{desk.agency.code} {start.year}",
                     details={"changes": [Change(desk.code, label, old, count).__dict__]})
    return old


def month_volumes(session: Session, desks: Iterable[Desk], year: int
                  ) -> dict[tuple[int, int], int]:
    """Monthly volumes of these desks in a year: (desk id, month 1..12) -> count."""
    ids = [d.id for d in desks]
    if not ids:
        return {}
    rows = session.execute(
        select(ServiceVolume.desk_id, ServiceVolume.period_start, ServiceVolume.count).where(
            ServiceVolume.desk_id.in_(ids),
            ServiceVolume.granularity == "month",
            ServiceVolume.period_start >= date(year, 1, 1),
            ServiceVolume.period_start <= date(year, 12, 1),
        )
    )
    return {(desk_id, start.month): count for desk_id, start, count in rows}


def save_grid(
    session: Session,
    agency: Agency,
    desks: Iterable[Desk],
    year: int,
    values: Mapping[tuple[int, int], int | None],
    *,
    actor: Actor,
) -> list[Change]:
    """Store a year of monthly values, (desk id, month 1..12) -> count, None meaning
    unknown (an existing value is then removed). Writes one audit event listing the
    changed cells."""
    desks = list(desks)
    current = month_volumes(session, desks, year)
    changes: list[Change] = []
    for desk in desks:
        for month in range(1, 13):
            old, new = current.get((desk.id, month)), values.get((desk.id, month))
            if old == new:
                continue
            start = date(year, month, 1)
            _write(session, desk, "month", start, new)
            changes.append(Change(desk.code, f"{start:%Y-%m}", old, new))
    if changes:
        record_event(session, "volume_set", actor, target=f"{agency.code} {year}",
                     details={"changes": [c.__dict__ for c in changes]})
    return changes
