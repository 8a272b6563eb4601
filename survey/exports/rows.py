"""Reading responses for export, in the canonical column order, streamed in id order with
keyset pagination (constant memory for any number of responses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import Agency, Answer, Desk, Element, Response, Service
from ..results.queries import flagged_now

CHUNK = 5000


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
    as int, blanks as None, booleans as 'true'/'false', times in ISO 8601 UTC."""
    width = scope.element_count
    scores = [func.max(case((Element.position == p, Answer.score), else_=None)).label(f"u{p}")
              for p in range(1, width + 1)]
    flagged = flagged_now().label("flagged")
    last_id = 0
    while True:
        query = (
            select(Response.id, Response.submitted_at, Agency.code, Desk.code, Service.code,
                   Response.channel, Response.verified, flagged, *scores, Response.sex,
                   Response.age, Response.education, Response.occupation, Response.comment)
            .join(Desk, Desk.id == Response.desk_id)
            .join(Agency, Agency.id == Desk.agency_id)
            .join(Service, Service.id == Response.service_id, isouter=True)
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .join(Element, Element.id == Answer.element_id, isouter=True)
            .where(Response.desk_id.in_(list(scope.desk_ids)),
                   Response.day.between(scope.start, scope.end), Response.id > last_id)
            .group_by(Response.id, Response.submitted_at, Agency.code, Desk.code,
                      Service.code)
            .order_by(Response.id)
            .limit(CHUNK)
        )
        if not scope.include_flagged:
            query = query.where(~flagged_now())
        rows = session.execute(query).all()
        if not rows:
            return
        last_id = rows[-1][0]
        for r in rows:
            yield (int(r[0]), r[1].isoformat().replace("+00:00", "Z"), r[2], r[3], r[4] or "",
                   r[5], "true" if r[6] else "false", "true" if r[7] else "false",
                   *(int(v) if v is not None else None for v in r[8:8 + width]),
                   *r[8 + width:])
