"""Reading responses for export, in the canonical column order, streamed in id order with
keyset pagination (constant memory for any number of responses).

Per chunk there are two or three simple queries (responses, their answers by id range,
and review decisions in that range when some response is flagged) instead of one grouped
join: the pivot into U1..U9 and the codes of desks and services are done in Python from
small lookup tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.models import Agency, Desk, ReviewDecision, Service
from survey.core.questionnaires import elements as questionnaire_elements

CHUNK = 10_000


@dataclass(frozen=True)
class ExportScope:
    """Which responses: these desks, these days; `include_flagged` adds the responses
    currently flagged (the `flagged` column says which they are)."""

    desk_ids: Sequence[int]
    start: date
    end: date
    element_count: int
    include_flagged: bool = True


def export_rows(session: Session, scope: ExportScope) -> Iterator[tuple]:
    """Tuples in the canonical column order (see exports.csvfile.columns): ids and scores
    as int, blanks as None, booleans as 'true'/'false', times in ISO 8601 UTC.

    The two big reads go straight through the driver's cursor: building SQLAlchemy rows
    for ten million answer cells would cost more than everything else together."""
    desks = {d.id: (a_code, d.code, d.questionnaire_id) for d, a_code in session.execute(
        select(Desk, Agency.code).join(Agency).where(Desk.id.in_(list(scope.desk_ids))))}
    if not desks:
        return
    services = dict(session.execute(select(Service.id, Service.code)).all())
    width = scope.element_count
    by_position: dict[int, list[int]] = {}
    for q in {d[2] for d in desks.values()}:
        for e in questionnaire_elements(session, q):
            by_position.setdefault(e.position, []).append(e.id)
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    desk_list = ", ".join(str(int(d)) for d in desks)
    where = f"desk_id IN ({desk_list}) AND day >= {mark} AND day <= {mark}"
    bounds_sql = f"SELECT min(id), max(id) FROM response WHERE {where}"
    # Windows of consecutive ids walk the primary key in order; filtering within a window
    # is cheap, whereas ORDER BY id over the desk/day index would sort every time.
    # The answers are pivoted into U1..Un by the database, in the same query: each answer
    # becomes score << 3 * (position - 1), one sum per response packs all of them (3 bits
    # each, 0 = blank; 42 bits for 14 elements), and the outer select unpacks them. That
    # is one CASE per answer instead of one per answer and element.
    # SQLite would otherwise pick the (desk_id, day) index and scan every row of the
    # period for each window (quadratic); the unary plus keeps it on the rowid range.
    desk_column = "+r.desk_id" if connection.dialect.name == "sqlite" else "r.desk_id"
    shifts = " ".join(f"WHEN {int(e)} THEN {1 << 3 * (p - 1)}"
                      for p in range(1, width + 1) for e in by_position.get(p, [])
                      ) or "WHEN NULL THEN 0"
    pivot = f"CAST(sum(score * CASE element_id {shifts} END) AS BIGINT) AS packed"
    scores = ", ".join(f"NULLIF((a.packed >> {3 * (p - 1)}) & 7, 0)"
                       for p in range(1, width + 1))
    # PostgreSQL formats the UTC time itself (in Python it costs more than the query).
    submitted = ("r.submitted_at" if connection.dialect.name == "sqlite" else
                 "to_char(r.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')")
    response_sql = (
        f"SELECT r.id, {submitted}, r.desk_id, r.service_id, r.channel, r.verified, "
        f"r.flags, {scores}, r.sex, r.age, r.education, r.occupation, r.comment "
        f"FROM response r LEFT JOIN (SELECT response_id, {pivot} FROM answer "
        f"WHERE response_id > {mark} AND response_id <= {mark} GROUP BY response_id) a "
        f"ON a.response_id = r.id WHERE r.id > {mark} AND r.id <= {mark} AND "
        f"{where.replace('desk_id', desk_column).replace('day ', 'r.day ')} ORDER BY r.id")
    cursor = connection.connection.cursor()
    start, end = _day(scope.start, mark), _day(scope.end, mark)
    try:
        cursor.execute(bounds_sql, (start, end))
        first, last = cursor.fetchone()
        if first is None:
            return
        window_start = first - 1
        while window_start < last:
            window_end = window_start + CHUNK
            cursor.execute(response_sql, (window_start, window_end, window_start, window_end,
                                          start, end))
            rows = cursor.fetchall()
            window_start = window_end
            if not rows:
                continue
            low, high = rows[0][0], rows[-1][0]
            released = _released(session, low, high) if any(r[6] for r in rows) else set()
            redacted = _redacted(session, low, high)
            for row in rows:
                rid, submitted, desk_id, service_id, channel, verified, flags = row[:7]
                flagged = bool(flags) and rid not in released
                if flagged and not scope.include_flagged:
                    continue
                agency_code, desk_code, _q = desks[desk_id]
                yield (rid, _utc_text(submitted), agency_code, desk_code,
                       services.get(service_id, ""), channel,
                       "true" if verified else "false", "true" if flagged else "false",
                       *row[7:-1], REDACTED if rid in redacted else row[-1])
    finally:
        cursor.close()


def _day(value: date, mark: str):
    return value.isoformat() if mark == "?" else value


def _utc_text(value) -> str:
    """ISO 8601 in UTC from the UTC text both databases return (SQLite its stored text,
    PostgreSQL its to_char); an aware value is converted."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"unexpected timestamp {value!r}")


REDACTED = "[dihapus]"  # a redacted comment, as every export shows it


def _redacted(session: Session, low: int, high: int) -> set[int]:
    """Responses in [low, high] whose comment an administrator redacted."""
    return set(session.scalars(
        select(ReviewDecision.response_id).where(
            ReviewDecision.kind == "comment", ReviewDecision.decision == "redact",
            ReviewDecision.response_id.between(low, high))))


def _released(session: Session, low: int, high: int) -> set[int]:
    """Responses in [low, high] whose latest flag review released them."""
    latest: dict[int, str] = {}
    for rid, decision in session.execute(
            select(ReviewDecision.response_id, ReviewDecision.decision)
            .where(ReviewDecision.kind == "flag",
                   ReviewDecision.response_id.between(low, high))
            .order_by(ReviewDecision.id)):
        latest[rid] = decision
    return {rid for rid, decision in latest.items() if decision == "release"}
