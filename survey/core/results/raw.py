"""Results straight from the raw response rows, without the rollups: the contributions
that rebuild the rollups (`flask ikm rebuild-rollups`, `flask init` after an upgrade),
and the statistics the tests and benchmarks check the rollups against."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date

import numpy as np
from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import Session

from survey.core import ledger
from survey.core.models import (
    Answer,
    CountRollup,
    Element,
    Response,
    ReviewDecision,
    StatsRollup,
)
from survey.core.questionnaires import element_counts
from survey.core.rollups import Contribution, add_responses, check_scope
from survey.ikm.stats import StratumStats, reduce_rows


def flagged_now():
    """SQL: is the response currently flagged? Flagged at submission and not released
    by its latest review decision."""
    latest = (
        select(ReviewDecision.decision)
        .where(ReviewDecision.response_id == Response.id, ReviewDecision.kind == "flag")
        .order_by(ReviewDecision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return and_(Response.flags != "", func.coalesce(latest, "keep") != "release")


def _score_columns(width: int):
    return [
        func.max(case((Element.position == p, Answer.score), else_=0)).label(f"p{p}")
        for p in range(1, width + 1)
    ]


def iter_contributions(
    session: Session, desk_ids: Sequence[int] | None = None, chunk: int = 20_000,
    start: date | None = None, end: date | None = None,
) -> Iterator[list[Contribution]]:
    """Raw responses as rollup contributions, in chunks (pivoting answers in SQL)."""
    widths = element_counts(session)
    width = max(widths.values())
    last_id = 0
    while True:
        query = (
            select(Response.id, Response.desk_id, Response.questionnaire_id, Response.day,
                   Response.service_id, Response.verified, flagged_now().label("flagged"),
                   Response.hour, Response.channel, Response.sex, Response.age,
                   Response.education, Response.occupation, *_score_columns(width))
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .join(Element, Element.id == Answer.element_id, isouter=True)
            .where(Response.id > last_id)
            # (id, day): the partitioned layout's key (survey.core.partitions), from which
            # PostgreSQL infers the other response columns, as from id in the plain one.
            .group_by(Response.id, Response.day)
            .order_by(Response.id)
            .limit(chunk)
        )
        if desk_ids is not None:
            query = query.where(Response.desk_id.in_(list(desk_ids)))
        if start is not None and end is not None:
            query = query.where(Response.day.between(start, end))
        rows = session.execute(query).all()
        if not rows:
            return
        last_id = rows[-1][0]
        yield [
            Contribution(r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]),
                         tuple(int(x or 0) for x in r[13:13 + widths[r[2]]]), r[7], r[8],
                         (r[9], r[10], r[11], r[12]))
            for r in rows
        ]


def raw_desk_statistics(
    session: Session, desk_ids: Sequence[int], start: date, end: date, scope: str = "clean",
) -> dict[tuple[int, int], StratumStats]:
    """The same as `desk_statistics`, computed from raw response rows (no rollups): for
    checks and for the benchmark that shows what the rollups buy."""
    check_scope(scope)
    keys, rows = [], []
    for chunk in iter_contributions(session, desk_ids, start=start, end=end):
        for c in chunk:
            keep = {"clean": not c.flagged, "flagged": c.flagged, "all": True,
                    "verified": c.verified and not c.flagged}[scope]
            if keep:
                keys.append((c.desk_id, c.questionnaire_id))
                rows.append(c.scores)
    out: dict[tuple[int, int], StratumStats] = {}
    by_width: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_width[len(r)].append(i)
    for indices in by_width.values():
        labels = sorted({keys[i] for i in indices})
        lookup = {k: n for n, k in enumerate(labels)}
        ids = np.array([lookup[keys[i]] for i in indices])
        scores = np.array([rows[i] for i in indices], dtype=np.int8)
        for label, stats in reduce_rows(ids, scores).items():
            out[labels[label]] = stats
    return out


def rebuild_rollups(session: Session, desk_ids: Sequence[int] | None = None) -> int:
    """Recompute the rollups from the raw responses (all desks, or the given ones)."""
    ledger.lock_head(session)
    for table in (StatsRollup, CountRollup):
        statement = delete(table)
        if desk_ids is not None:
            statement = statement.where(table.desk_id.in_(list(desk_ids)))
        session.execute(statement)
    total = 0
    for chunk in iter_contributions(session, desk_ids):
        total += add_responses(session, chunk)
    return total


def missing_rollups(session: Session) -> bool:
    """True when responses exist that the rollups do not count (e.g. after upgrading a
    database that predates them): the monthly clean+flagged rows must add up to them."""
    responses = session.scalar(select(func.count()).select_from(Response)) or 0
    counted = session.scalar(
        select(func.coalesce(func.sum(StatsRollup.n), 0)).where(
            StatsRollup.grain == "M", StatsRollup.scope.in_(("clean", "flagged")))
    )
    by_channel = session.scalar(
        select(func.coalesce(func.sum(CountRollup.n), 0)).where(
            CountRollup.grain == "M", CountRollup.dimension == "channel")
    )
    return not int(counted or 0) == int(by_channel or 0) == responses
