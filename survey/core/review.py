"""Review of flagged responses and moderation of comments.

A decision never touches the response: it is its own row (append-only, on the hash chain)
with a reason and the reviewer, plus an audit event. Releasing a flagged response moves
its statistics from the flagged to the clean rollups; keeping it again moves them back.

A reviewer works a queue page by page (`queue_page`: filters, a count and one page in a
stable order) and may decide many pending items at once (`decide_many`): all of them or,
when one cannot be decided, none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, literal, literal_column, select
from sqlalchemy.orm import Session, selectinload

from survey.core import ledger, rollups
from survey.core.audit import Actor, record_event
from survey.core.db import any_of, utcnow
from survey.core.errors import NotFound, ValidationError
from survey.core.models import (
    Answer,
    Desk,
    Element,
    Questionnaire,
    Response,
    ReviewDecision,
    Service,
    User,
)
from survey.core.org import periods
from survey.core.rollups import Contribution

KINDS = ("flag", "comment")
FLAG_DECISIONS = ("release", "keep")
COMMENT_DECISIONS = ("publish", "hide")
DECISIONS = {"flag": FLAG_DECISIONS, "comment": COMMENT_DECISIONS}
STATUSES = ("pending", "decided", "all")
REASON_MAX = 500
PAGE_SIZE = 50
BULK_MAX = 200  # a bulk decision covers at most this many responses


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
        raise ValidationError("a reason is required", code="reason_missing")
    if len(reason) > REASON_MAX:
        raise ValidationError(f"the reason is longer than {REASON_MAX} characters",
                              code="reason_too_long", limit=REASON_MAX)
    return reason


def _check_decision(kind: str, decision: str) -> None:
    if decision not in DECISIONS[kind]:
        raise ValidationError(f"decision must be {' or '.join(DECISIONS[kind])}",
                              code="bad_decision")


def _load(session: Session, response_ids: Sequence[int], desk_ids: set[int] | None
          ) -> list[Response]:
    """The responses, in the order asked; NotFound when any is missing or outside the
    caller's desks (another agency's response is never written, nor named)."""
    found = {r.id: r for r in session.scalars(
        select(Response).where(Response.id.in_(list(response_ids))).options(
            selectinload(Response.answers),
            selectinload(Response.questionnaire).selectinload(Questionnaire.elements)))}
    for response_id in response_ids:
        response = found.get(response_id)
        if response is None or (desk_ids is not None and response.desk_id not in desk_ids):
            raise NotFound("no such response")
    return [found[i] for i in response_ids]


def _check_decidable(session: Session, kind: str, response: Response, latest: str | None,
                     check_period: bool = True) -> None:
    """Why this response cannot take a decision of this kind, as a ValidationError."""
    if kind == "flag":
        if not response.flags:
            raise ValidationError("this response was not flagged", code="not_flagged")
        if check_period:  # a published index must not change
            periods.check_open(session, [response.day])
    else:
        if latest == "redact":
            raise ValidationError("this comment was redacted", code="redacted")
        if not response.comment:
            raise ValidationError("this response has no comment", code="no_comment")


def _apply(session: Session, kind: str, response: Response, decision: str, reason: str,
           user: User, latest: str | None, now: datetime | None,
           details: dict | None = None) -> ReviewDecision:
    """Write one checked decision: its row on the chain, the rollups a release or keep
    moves, and its audit event."""
    row = ReviewDecision(response_id=response.id, kind=kind, decision=decision,
                         reason=reason, user_id=user.id, created_at=now or utcnow())
    _append(session, row)
    if kind == "flag":
        was_released, now_released = latest == "release", decision == "release"
        if was_released != now_released:
            rollups.apply(session, [_contribution(response, flagged=not was_released)], -1)
            rollups.apply(session, [_contribution(response, flagged=not now_released)], +1)
        record_event(session, f"review_{decision}", user, target=f"response:{response.id}",
                     details={"reason": reason, "flags": response.flags, **(details or {})})
    else:
        record_event(session, f"comment_{decision}", user, target=f"response:{response.id}",
                     details={"reason": reason, **(details or {})})
    return row


def _decide_one(kind: str) -> Callable[..., ReviewDecision]:
    def decide(session: Session, response_id: int, decision: str, reason: str, user: User,
               desk_ids: set[int] | None = None, now: datetime | None = None
               ) -> ReviewDecision:
        _check_decision(kind, decision)
        reason = _check_reason(reason)
        ledger.lock_head(session)  # decisions on one response are serialised
        [response] = _load(session, [response_id], desk_ids)
        latest = _latest(session, response_id, kind)
        _check_decidable(session, kind, response, latest)
        return _apply(session, kind, response, decision, reason, user, latest, now)
    return decide


def review_flag(session: Session, response_id: int, decision: str, reason: str, user: User,
                desk_ids: set[int] | None = None, now: datetime | None = None
                ) -> ReviewDecision:
    """Release a flagged response into the clean index, or keep it out (again). The caller
    runs this inside a write transaction."""
    return _decide_one("flag")(session, response_id, decision, reason, user, desk_ids, now)


def moderate_comment(session: Session, response_id: int, decision: str, reason: str,
                     user: User, desk_ids: set[int] | None = None,
                     now: datetime | None = None) -> ReviewDecision:
    """Publish a comment on the public page, or hide it. Inside a write transaction."""
    return _decide_one("comment")(session, response_id, decision, reason, user, desk_ids,
                                  now)


def _sealed_days(session: Session, days: Sequence[date]) -> set[date]:
    """Those of these days that lie in a closed period (one read of the closed periods)."""
    sealed = periods.closed_periods(session)
    return {d for d in set(days) if any(p.contains(d) for p in sealed)}


def decide_many(session: Session, kind: str, response_ids: Sequence[int], decision: str,
                reason: str, user: User, desk_ids: set[int] | None = None,
                now: datetime | None = None) -> list[ReviewDecision]:
    """One decision with one reason for several pending responses of a queue, each with
    its own decision row and audit event, as if decided one by one.

    All or nothing: every response is checked before anything is written, and the first
    that cannot take the decision refuses the whole batch with a ValidationError naming it
    (param `response`): one decided by someone else since the reviewer loaded the page
    (`already_decided`: a bulk decision never overrides an earlier one; change a decision
    one by one), a flagged response dated in a closed period, a redacted comment. Another
    agency's response is NotFound. Inside a write transaction."""
    if kind not in KINDS:
        raise ValidationError("unknown queue", code="bad_decision")
    _check_decision(kind, decision)
    reason = _check_reason(reason)
    ids = list(dict.fromkeys(response_ids))  # a repeated id counts once
    if not ids:
        raise ValidationError("select at least one response", code="none_selected")
    if len(ids) > BULK_MAX:
        raise ValidationError(f"select at most {BULK_MAX} responses at once",
                              code="too_many_selected", limit=BULK_MAX)
    ledger.lock_head(session)  # nobody decides any of them while this batch runs
    responses = _load(session, sorted(ids), desk_ids)
    latest = dict(session.execute(
        select(ReviewDecision.response_id, ReviewDecision.decision)
        .where(ReviewDecision.kind == kind, ReviewDecision.response_id.in_(ids))
        .order_by(ReviewDecision.id)).all())  # later rows overwrite earlier ones
    sealed_days = _sealed_days(session, [r.day for r in responses]) if kind == "flag" \
        else set()
    for response in responses:
        try:
            if response.id in latest:
                raise ValidationError(
                    f"response {response.id} was already decided ({latest[response.id]})",
                    code="already_decided", decision=latest[response.id])
            _check_decidable(session, kind, response, None, check_period=False)
            if response.day in sealed_days:
                periods.check_open(session, [response.day])  # raises, naming the period
        except ValidationError as exc:
            raise ValidationError(f"response {response.id}: {exc}", code=exc.code,
                                  response=response.id, **exc.params) from exc
    return [_apply(session, kind, response, decision, reason, user, None, now,
                   {"batch": len(responses)}) for response in responses]


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
    [response] = _load(session, [response_id], desk_ids)
    if _latest(session, response_id, "comment") == "redact":
        raise ValidationError("this comment was already redacted", code="redacted")
    if response.comment is None:
        raise ValidationError("this response has no comment", code="no_comment")
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
class ScoredElement:
    """One answer of a response, with the element's names for either language."""

    code: str
    name_id: str
    name_en: str
    score: int

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id


@dataclass(frozen=True)
class QueueItem:
    response_id: int
    desk: str
    day: date
    hour: int
    channel: str
    flags: str
    comment: str | None
    status: str  # pending | release | keep | publish | hide | redact
    reason: str | None
    service: Service | None = None
    profile: dict[str, str | None] | None = None  # sex, age, education, occupation
    answers: tuple[ScoredElement, ...] = ()  # filled for flagged responses

    @property
    def pending(self) -> bool:
        return self.status == "pending"


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows a queue to. `desk_ids` are the desks in scope (the agency's,
    or the one desk chosen); `signal` one of the flag names, `channel` one channel."""

    kind: str
    desk_ids: tuple[int, ...]
    start: date
    end: date
    status: str = "pending"  # pending | decided | all
    signal: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int  # items matching the filter, on every page
    page: int  # 1-based, clamped to the pages there are
    pages: int
    per_page: int


def _latest_subquery(kind: str):
    latest_id = (select(ReviewDecision.response_id, func.max(ReviewDecision.id).label("id"))
                 .where(ReviewDecision.kind == kind).group_by(ReviewDecision.response_id)
                 .subquery())
    return (select(ReviewDecision.response_id, ReviewDecision.decision, ReviewDecision.reason)
            .join(latest_id, latest_id.c.id == ReviewDecision.id).subquery())


def _where(query, f: QueueFilter, latest):
    query = query.where(any_of(Response.desk_id, f.desk_ids), Response.day.between(f.start, f.end))
    # A literal '', not a bound parameter, so that the partial index ix_response_flagged
    # provably applies even to a generic plan of a prepared statement (PostgreSQL).
    query = query.where(Response.flags != literal_column("''")) if f.kind == "flag" else (
        query.where(Response.comment.is_not(None)))
    if f.signal:  # flags are comma-separated names: match a whole name
        query = query.where((literal(",") + Response.flags + literal(",")).like(
            f"%,{f.signal},%"))
    if f.channel:
        query = query.where(Response.channel == f.channel)
    if f.status == "pending":
        query = query.where(latest.c.decision.is_(None))
    elif f.status == "decided":
        query = query.where(latest.c.decision.is_not(None))
    return query


def _queue_filter(query, kind: str, latest, desk_ids: list[int], start, end,
                  pending_only: bool):
    return _where(query, QueueFilter(kind, tuple(desk_ids), start, end,
                                     "pending" if pending_only else "all"), latest)


def queue_page(session: Session, f: QueueFilter, page: int = 1, per_page: int = PAGE_SIZE
               ) -> QueuePage:
    """One page of a queue, newest first (by id, so the order is stable while responses
    arrive), with the count of everything the filter matches. A page past the end shows
    the last one. Flagged responses come with their answers, service and profile."""
    latest = _latest_subquery(f.kind)
    total = int(session.scalar(_where(
        select(func.count()).select_from(Response)
        .join(latest, latest.c.response_id == Response.id, isouter=True), f, latest)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = session.execute(_where(
        select(Response, Desk.code, Service, latest.c.decision, latest.c.reason)
        .join(Desk, Desk.id == Response.desk_id)
        .join(Service, Service.id == Response.service_id, isouter=True)
        .join(latest, latest.c.response_id == Response.id, isouter=True), f, latest)
        .order_by(Response.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    answers: dict[int, list[ScoredElement]] = {}
    if f.kind == "flag" and rows:
        for response_id, code, name_id, name_en, score in session.execute(
                select(Answer.response_id, Element.code, Element.name_id, Element.name_en,
                       Answer.score)
                .join(Element, Element.id == Answer.element_id)
                .where(Answer.response_id.in_([r.id for r, *_ in rows]))
                .order_by(Answer.response_id, Element.position)):
            answers.setdefault(response_id, []).append(
                ScoredElement(code, name_id, name_en, score))
    items = [
        QueueItem(r.id, desk_code, r.day, r.hour, r.channel, r.flags,
                  None if decision == "redact" else r.comment, decision or "pending", reason,
                  service, {"sex": r.sex, "age": r.age, "education": r.education,
                            "occupation": r.occupation},
                  tuple(answers.get(r.id, ())))
        for r, desk_code, service, decision, reason in rows
    ]
    return QueuePage(items, total, page, pages, per_page)


def queue(session: Session, kind: str, desk_ids: list[int], start, end, *,
          pending_only: bool = False, limit: int = 200) -> list[QueueItem]:
    """The first `limit` items of a queue (the command line and older callers)."""
    return queue_page(session, QueueFilter(kind, tuple(desk_ids), start, end,
                                           "pending" if pending_only else "all"),
                      1, limit).items


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
        .where(any_of(Response.desk_id, desk_ids), Response.day.between(start, end),
               latest.c.decision == "publish")
        .order_by(Response.id.desc()).limit(limit))
    return [(name, comment) for name, comment in rows]
