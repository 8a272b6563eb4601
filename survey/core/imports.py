"""Importing responses from the system's canonical CSV format (the export format).

Columns: ``response_id, submitted_at, agency, desk, service, channel, verified, flagged,
U1..U9 (U1..U14), sex, age, education, occupation, comment``. Required are ``agency``,
``desk`` and ``U1``..``U9`` (and ``U10``..``U14`` for a desk on the 2004 questionnaire);
other columns are optional and unknown ones are ignored. ``response_id``, ``verified`` and
``flagged`` are ignored: an imported response gets a new id and a new link of the chain,
is never verified (only a one-time ticket proves a visit) and is not flagged.

- ``submitted_at``: ISO 8601 date (stored at 12:00 agency time, like paper) or date-time
  (without a zone: agency time); empty means now; the future is refused.
- ``service``: the service CODE of that agency; empty means none.
- ``channel``: ``paper`` stays paper; anything else is stored as ``import``.
- scores: ``1``..``4``, or empty for a blank answer.
- profile: the values of the standard form (survey.core.profile: sex, age, education,
  occupation); empty means not stated.

All or nothing: the whole file is checked first (`check_file`, reads only, outside the
write transaction), then stored in one short write transaction (`store_file`); the first
error names its line and column. At most 100,000 rows per file. A file is imported once: every
row's idempotency key contains the file's SHA-256, so the same file a second time is
refused instead of doubling the responses.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey.core.audit import Actor, record_event
from survey.core.csvread import check_width, read_table
from survey.core.db import utcnow
from survey.core.errors import ValidationError, on_line
from survey.core.models import COMMENT_MAX, Agency, Desk, Questionnaire, Response
from survey.core.paper import noon
from survey.core.profile import PROFILE
from survey.core.responses import NewResponse, Prepared, prepare_responses, store_responses

ELEMENT_CODES = tuple(f"U{i}" for i in range(1, 15))
REQUIRED = ("agency", "desk", *ELEMENT_CODES[:9])
SCORES = {"": None, "1": 1, "2": 2, "3": 3, "4": 4}
MAX_ROWS = 100_000  # per file by default (SURVEY_IMPORT_MAX_ROWS): about 7 s
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ImportSummary:
    count: int
    by_channel: dict[str, int]
    agencies: list[str]
    sha256: str


@dataclass(frozen=True)
class _AgencyInfo:
    agency: Agency
    desks: dict[str, tuple[Desk, tuple[str, ...]]]  # code -> desk, its element codes
    services: dict[str, int]


class _RowError(ValidationError):
    def __init__(self, column: str | None, message: str, code: str,
                 **params: object) -> None:
        super().__init__(message, code, **params)
        self.column = column


def _load(session: Session, allowed: set[int] | None) -> dict[str, _AgencyInfo]:
    agencies = session.scalars(select(Agency).options(
        selectinload(Agency.desks).selectinload(Desk.questionnaire)
        .selectinload(Questionnaire.elements),
        selectinload(Agency.services)))
    return {
        a.code: _AgencyInfo(
            a, {d.code: (d, tuple(e.code for e in d.questionnaire.elements)) for d in a.desks},
            {s.code: s.id for s in a.services})
        for a in agencies if allowed is None or a.id in allowed
    }


def _moment(raw: str, timezone: str, now: datetime) -> datetime:
    text = raw.strip()
    if not text:
        return now
    try:
        if _DATE.fullmatch(text):
            moment = noon(date.fromisoformat(text), timezone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise _RowError("submitted_at", f"{raw!r} is not an ISO 8601 date or time "
                        "(e.g. 2024-05-31 or 2024-05-31T10:00:00+07:00)", "bad_moment",
                        value=raw[:40]) from None
    if moment > now:
        raise _RowError("submitted_at", f"{text} lies in the future", "in_future",
                        value=text[:40])
    return moment


COLUMNS = (*REQUIRED, *ELEMENT_CODES[9:], "service", "submitted_at", "channel", *PROFILE)


def _row(table, layout: list[tuple[str, int | None]], cells: list[str],
         known: dict[str, _AgencyInfo], unknown_agency: str, now: datetime, key: str
         ) -> NewResponse:
    # The row's cells by column name (index None: not in the file), stripped, at once.
    values = {name: cells[i].strip() if i is not None else "" for name, i in layout}
    cell = values.__getitem__

    agency_code = cell("agency")
    info = known.get(agency_code)
    if info is None:
        if not agency_code:
            raise _RowError("agency", "agency is empty", "agency_empty")
        raise _RowError("agency", unknown_agency.format(agency_code), "unknown_agency",
                        agency=agency_code, scoped="(or not" in unknown_agency)
    desk_code = cell("desk")
    if desk_code not in info.desks:
        raise _RowError("desk", f"agency {agency_code} has no desk {desk_code!r}",
                        "unknown_desk", agency=agency_code, desk=desk_code)
    desk, codes = info.desks[desk_code]
    answers: dict[str, int] = {}
    for code in ELEMENT_CODES:
        if code in codes and code.lower() not in table.columns:
            raise _RowError(None, f"desk {agency_code}/{desk_code} uses a questionnaire with "
                            f"{codes[0]}..{codes[-1]}, but the header has no column {code}",
                            "element_column", desk=f"{agency_code}/{desk_code}",
                            first=codes[0], last=codes[-1], element=code)
        raw = cell(code)
        if code not in codes:
            if raw:
                raise _RowError(code, f"desk {agency_code}/{desk_code} has no element {code} "
                                "on its questionnaire; leave the cell empty", "no_element",
                                desk=f"{agency_code}/{desk_code}", element=code)
            continue
        if raw not in SCORES:
            raise _RowError(code, f"score {raw[:20]!r} is not 1, 2, 3, 4 or empty", "bad_score",
                            value=raw[:20])
        if SCORES[raw] is not None:
            answers[code] = SCORES[raw]
    service_code, service_id = cell("service"), None
    if service_code:
        service_id = info.services.get(service_code)
        if service_id is None:
            raise _RowError("service", f"agency {agency_code} has no service {service_code!r}",
                            "unknown_service", agency=agency_code, service=service_code)
    profile: dict[str, str | None] = {}
    for column, allowed in PROFILE.items():
        raw = cell(column)
        if raw and raw not in allowed:
            raise _RowError(column, f"{raw[:20]!r} is not one of {', '.join(allowed)} "
                            "(or empty)", "bad_choice", value=raw[:20],
                            allowed=", ".join(allowed))
        profile[column] = raw or None
    comment = table.cell(cells, "comment")
    if len(comment.strip()) > COMMENT_MAX:
        raise _RowError("comment", f"longer than {COMMENT_MAX} characters", "comment_too_long",
                        limit=COMMENT_MAX)
    return NewResponse(
        desk_id=desk.id, answers=answers,
        submitted_at=_moment(cell("submitted_at"), info.agency.timezone, now),
        channel="paper" if cell("channel").lower() == "paper" else "import",
        service_id=service_id, comment=comment or None, idempotency_key=key, **profile)


def parse_csv(session: Session, data: bytes, allowed: set[int] | None,
              now: datetime | None = None, max_rows: int = MAX_ROWS
              ) -> tuple[list[int], list[NewResponse]]:
    """Check a whole file; returns the line of each response and the responses. Raises
    ValidationError naming the first bad line (and column)."""
    now = now or utcnow()
    table = read_table(data, REQUIRED)
    known = _load(session, allowed)
    unknown = "unknown agency {!r}" + ("" if allowed is None else
                                       " (or not one of your agencies)")
    digest = hashlib.sha256(data).hexdigest()[:40]
    layout = [(name, table.columns.get(name.lower())) for name in COLUMNS]
    lines: list[int] = []
    items: list[NewResponse] = []
    for line, cells in table.records:
        if len(items) == max_rows:
            raise ValidationError(
                f"the file has more than {max_rows:,} responses; split it into files of at "
                f"most {max_rows:,} rows and import them one after the other",
                code="too_many_rows", limit=max_rows)
        check_width(table, line, cells)
        try:
            items.append(_row(table, layout, cells, known, unknown, now,
                              f"csv-{digest}-{line}"))
        except _RowError as exc:
            raise on_line(exc, line, exc.column) from None
        lines.append(line)
    if not items:
        raise ValidationError("the file has no responses after the header", code="csv_no_rows")
    return lines, items


@dataclass(frozen=True)
class CheckedFile:
    """A file checked to the last line and prepared for storing (`check_file`)."""

    lines: list[int]
    items: list[NewResponse]
    prepared: Prepared
    sha256: str


def check_file(session: Session, data: bytes, *, allowed: set[int] | None,
               now: datetime | None = None, max_rows: int = MAX_ROWS) -> CheckedFile:
    """Everything an import can do before it writes: parse, validate and anonymise every
    row, compute the rollup deltas. Reads only, so the caller runs it outside the write
    transaction and citizens' submissions are not held up meanwhile."""
    lines, items = parse_csv(session, data, allowed, now, max_rows)
    try:
        prepared = prepare_responses(session, items)
    except ValidationError as exc:
        raise _on_line(exc, lines) from None
    return CheckedFile(lines, items, prepared, hashlib.sha256(data).hexdigest())


def store_file(session: Session, checked: CheckedFile, *, actor: Actor,
               filename: str | None = None) -> ImportSummary:
    """Store a checked file in the caller's write transaction, all or nothing, with one
    audit event (the chain lock is held for the hashing and rollups only: 30,000 rows in
    well under a second)."""
    items = checked.items
    first_key = items[0].idempotency_key
    if session.scalar(select(Response.id).where(Response.idempotency_key == first_key)):
        raise ValidationError("this file was already imported; nothing was stored again",
                              code="already_imported")
    try:
        store_responses(session, checked.prepared)
    except ValidationError as exc:  # e.g. a row dated in a period closed meanwhile
        raise _on_line(exc, checked.lines) from None
    agencies = sorted(session.scalars(
        select(Agency.code).join(Desk).where(Desk.id.in_({i.desk_id for i in items}))
        .distinct()))
    by_channel = dict(Counter(i.channel for i in items))
    record_event(session, "responses_imported", actor, target=",".join(agencies)[:200],
                 details={"responses": len(items), "channels": by_channel,
                          "file": (filename or "")[:200], "sha256": checked.sha256})
    return ImportSummary(len(items), by_channel, agencies, checked.sha256)


def import_csv(session: Session, data: bytes, *, allowed: set[int] | None,
               actor: Actor, filename: str | None = None,
               now: datetime | None = None) -> ImportSummary:
    """`check_file` then `store_file`, in the caller's transaction."""
    checked = check_file(session, data, allowed=allowed, now=now)
    return store_file(session, checked, actor=actor, filename=filename)


def _on_line(exc: ValidationError, lines: list[int]) -> ValidationError:
    """A record_responses error ("response N: ...") restated with the file's line."""
    match = re.match(r"response (\d+): (.*)", str(exc), re.S)
    index, reason = (int(match.group(1)) - 1, match.group(2)) if match else (0, str(exc))
    return on_line(ValidationError(reason, exc.code, **exc.params), lines[index])
