"""Review of flagged responses and moderation of comments.

A decision never touches the response: it is its own row (append-only, on the hash chain)
with a reason and the reviewer, plus an audit event. Releasing a flagged response moves
its statistics from the flagged to the clean rollups; keeping it again moves them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session, selectinload

from survey.core import ledger, rollups
from survey.core.audit import Actor, record_event
from survey.core.db import utcnow
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Desk, Questionnaire, Response, ReviewDecision, User
from survey.core.org import periods
from survey.core.rollups import Contribution

FLAG_DECISIONS = ("release", "keep")
COMMENT_DECISIONS = ("publish", "hide")
REASON_MAX = 500


def _latest(session: Session, response_id: int, kind: str) -> str | None:
    return session.scalar(
        select(ReviewDecision.decision)
        .where(ReviewDecision.response_id == response_id, ReviewDecision.kind == kind)
        .order_by(ReviewDecision.id.desc()).limit(1))


def _contribution(response: Response, flagged: bool) -> Contribution:
    scores = {a.element_id: a.score for a in response.answers}
    return Contribution(
        response.desk_id, response.questionnaire_id, response.day, response.service_id,
        response.verified, flagged,
        tuple(scores.get(e.id, 0) for e in response.questionnaire.elements),
        response.hour, response.channel,
        (response.sex, response.age, response.education, response.occupation))


def _append(session: Session, decision: ReviewDecision) -> None:
    session.add(decision)
    session.flush()
    row = {c.name: getattr(decision, c.name) for c in ReviewDecision.__table__.columns}
    ledger.append(session, [("review", decision.id, ledger.review_payload(row))])


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"the reason is longer than {REASON_MAX} characters")
    return reason


def _load(session: Session, response_id: int, desk_ids: set[int] | None) -> Response:
    response = session.scalar(
        select(Response).where(Response.id == response_id).options(
            selectinload(Response.answers),
            selectinload(Response.questionnaire).selectinload(Questionnaire.elements)))
    if response is None or (desk_ids is not None and response.desk_id not in desk_ids):
        raise NotFound("no such response")
    return response


def review_flag(session: Session, response_id: int, decision: str, reason: str, user: User,
                desk_ids: set[int] | None = None, now: datetime | None = None
                ) -> ReviewDecision:
    """Release a flagged response into the clean index, or keep it out. The caller runs
    this inside a write transaction."""
    if decision not in FLAG_DECISIONS:
        raise ValidationError("decision must be release or keep")
    reason = _check_reason(reason)
    ledger.lock_head(session)  # decisions on one response are serialised
    response = _load(session, response_id, desk_ids)
    if not response.flags:
        raise ValidationError("this response was not flagged")
    periods.check_open(session, [response.day])  # a published index must not change
    was_released = _latest(session, response_id, "flag") == "release"
    row = ReviewDecision(response_id=response_id, kind="flag", decision=decision,
                         reason=reason, user_id=user.id, created_at=now or utcnow())
    _append(session, row)
    now_released = decision == "release"
    if was_released != now_released:
        rollups.apply(session, [_contribution(response, flagged=not was_released)], -1)
        rollups.apply(session, [_contribution(response, flagged=not now_released)], +1)
    record_event(session, f"review_{decision}", user, target=f"response:{response_id}",
                 details={"reason": reason, "flags": response.flags})
    return row


def moderate_comment(session: Session, response_id: int, decision: str, reason: str,
                     user: User, desk_ids: set[int] | None = None,
                     now: datetime | None = None) -> ReviewDecision:
    """Publish a comment on the public page, or hide it. Inside a write transaction."""
    if decision not in COMMENT_DECISIONS:
        raise ValidationError("decision must be publish or hide")
    reason = _check_reason(reason)
    ledger.lock_head(session)
    response = _load(session, response_id, desk_ids)
    if not response.comment:
        raise ValidationError("this response has no comment")
    if _latest(session, response_id, "comment") == "redact":
        raise ValidationError("this comment was redacted", code="redacted")
    row = ReviewDecision(response_id=response_id, kind="comment", decision=decision,
                         reason=reason, user_id=user.id, created_at=now or utcnow())
    _append(session, row)
    record_event(session, f"comment_{decision}", user, target=f"response:{response_id}",
                 details={"reason": reason})
    return row


def redact_comment(session: Session, response_id: int, reason: str, actor: Actor,
                   desk_ids: set[int] | None = None, now: datetime | None = None) -> bool:
    """Take a comment out of every page and export for good, e.g. a personal number the
    mask missed (an administrator, with a reason). Returns whether the text itself was
    deleted: for a response recorded since the chain holds only a digest of its comment,
    the text becomes NULL and verification still holds; an older response's link hashes
    the text itself, so its text stays in the database (deleting it would break the
    chain) and is shown nowhere."""
    reason = _check_reason(reason)
    ledger.lock_head(session)
    response = _load(session, response_id, desk_ids)
    if response.comment is None:
        raise ValidationError("this response has no comment (or it was already redacted)")
    if _latest(session, response_id, "comment") == "redact":
        raise ValidationError("this comment was already redacted", code="redacted")
    row = ReviewDecision(response_id=response_id, kind="comment", decision="redact",
                         reason=reason, user_id=actor.id if actor is not None else None,
                         created_at=now or utcnow())
    _append(session, row)
    deleted = response.comment_digest is not None
    if deleted:
        response.comment = None  # the one change the database allows on a response
        session.flush()
    record_event(session, "comment_redact", actor, target=f"response:{response_id}",
                 details={"reason": reason, "text_deleted": deleted})
    return deleted


# --- queues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    response_id: int
    desk: str
    day: datetime
    hour: int
    channel: str
    flags: str
    comment: str | None
    status: str  # pending | release | keep | publish | hide | redact
    reason: str | None


def _latest_subquery(kind: str):
    latest_id = (select(ReviewDecision.response_id, func.max(ReviewDecision.id).label("id"))
                 .where(ReviewDecision.kind == kind).group_by(ReviewDecision.response_id)
                 .subquery())
    return (select(ReviewDecision.response_id, ReviewDecision.decision, ReviewDecision.reason)
            .join(latest_id, latest_id.c.id == ReviewDecision.id).subquery())


def _queue_filter(query, kind: str, latest, desk_ids: list[int], start, end,
                  pending_only: bool):
    query = query.where(Response.desk_id.in_(desk_ids), Response.day.between(start, end))
    # A literal '', not a bound parameter, so that the partial index ix_response_flagged
    # provably applies even to a generic plan of a prepared statement (PostgreSQL).
    query = query.where(Response.flags != literal_column("''")) if kind == "flag" else (
        query.where(Response.comment.is_not(None)))
    if pending_only:
        query = query.where(latest.c.decision.is_(None))
    return query


def queue(session: Session, kind: str, desk_ids: list[int], start, end, *,
          pending_only: bool = False, limit: int = 200) -> list[QueueItem]:
    """Flagged responses (kind 'flag') or comments (kind 'comment') of these desks in the
    period, newest first, with their current decision."""
    latest = _latest_subquery(kind)
    query = (
        select(Response, Desk.code, latest.c.decision, latest.c.reason)
        .join(Desk, Desk.id == Response.desk_id)
        .join(latest, latest.c.response_id == Response.id, isouter=True)
        .order_by(Response.id.desc()).limit(limit)
    )
    query = _queue_filter(query, kind, latest, desk_ids, start, end, pending_only)
    return [
        QueueItem(r.id, desk_code, r.day, r.hour, r.channel, r.flags,
                  None if decision == "redact" else r.comment, decision or "pending", reason)
        for r, desk_code, decision, reason in session.execute(query)
    ]


def pending_count_query(kind: str, desk_ids: list[int], start, end):
    """SELECT count(*) of the queue's items still waiting for a decision."""
    latest = _latest_subquery(kind)
    query = (select(func.count()).select_from(Response)
             .join(latest, latest.c.response_id == Response.id, isouter=True))
    return _queue_filter(query, kind, latest, desk_ids, start, end, pending_only=True)


def pending_count(session: Session, kind: str, desk_ids: list[int], start, end) -> int:
    """How many of the queue's items still wait for a decision (counted in the database,
    without a cap)."""
    return int(session.scalar(pending_count_query(kind, desk_ids, start, end)) or 0)


def published_comments(session: Session, desk_ids: list[int], start, end,
                       limit: int = 50) -> list[tuple[str, str]]:
    """(desk name, comment) of comments whose latest moderation decision is publish."""
    latest = _latest_subquery("comment")
    rows = session.execute(
        select(Desk.name, Response.comment)
        .join(Desk, Desk.id == Response.desk_id)
        .join(latest, latest.c.response_id == Response.id)
        .where(Response.desk_id.in_(desk_ids), Response.day.between(start, end),
               latest.c.decision == "publish")
        .order_by(Response.id.desc()).limit(limit))
    return [(name, comment) for name, comment in rows]
