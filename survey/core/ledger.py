"""Appending to the hash chain inside the caller's transaction.

The chain head is one locked row, so concurrent submissions queue for the few microseconds
the append takes and the chain stays linear. The payload functions here are the only
definition of what a link covers; verification uses the same functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, event, func, select, update
from sqlalchemy.orm import Session

from survey.core import bulk
from survey.core.chain import GENESIS, body_hash, canonical, link_hash
from survey.core.models import (
    Answer,
    AuditEvent,
    ChainEntry,
    ChainHead,
    Response,
    ReviewDecision,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def comment_digest(salt: str, comment: str) -> str:
    """What the chain holds of a comment recorded since comments can be redacted."""
    return hashlib.sha256(f"{salt}\n{comment}".encode()).hexdigest()


REMOVED = "removed-without-redaction"  # makes a link fail: a comment gone without a decision


def response_payload(row: Mapping[str, Any], answers: Mapping[int, int],
                     redacted: bool = False) -> dict[str, Any]:
    """What a response link covers: every stored field and every answer (element id ->
    score). The idempotency key and the kiosk device are transport detail (how the
    response arrived, not what it says) and are left out: the device column came later,
    and links made before it must verify unchanged.

    A comment recorded with a digest is covered by its digest, recomputed from the text
    while the text is there (so a changed text breaks the link); once the text has been
    redacted (`redacted`: a redaction decision exists), by the stored digest. Older
    responses are covered by the text itself."""
    payload = {
        "id": int(row["id"]),
        "desk_id": int(row["desk_id"]),
        "service_id": row["service_id"],
        "questionnaire_id": int(row["questionnaire_id"]),
        "submitted_at": _iso(row["submitted_at"]),
        "day": row["day"].isoformat(),
        "hour": int(row["hour"]),
        "channel": row["channel"],
        "verified": bool(row["verified"]),
        "flags": row["flags"],
        "sex": row["sex"],
        "age": row["age"],
        "education": row["education"],
        "occupation": row["occupation"],
        "comment": row["comment"],
        "answers": {str(k): int(v) for k, v in sorted(answers.items())},
    }
    digest = row.get("comment_digest")
    if digest is not None:
        del payload["comment"]
        if row["comment"] is not None:
            payload["comment_digest"] = comment_digest(row["comment_salt"], row["comment"])
        else:
            payload["comment_digest"] = digest if redacted else REMOVED
    return payload


def review_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "response_id": int(row["response_id"]),
        "kind": row["kind"],
        "decision": row["decision"],
        "reason": row["reason"],
        "user_id": row["user_id"],
        "created_at": _iso(row["created_at"]),
    }


def audit_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "created_at": _iso(row["created_at"]),
        "user_id": row["user_id"],
        "actor": row["actor"],
        "action": row["action"],
        "target": row["target"],
        "details": row["details"] or {},
    }


def ensure_head(session: Session) -> None:
    if session.get(ChainHead, 1) is None:
        session.add(ChainHead(id=1, seq=0, hash=GENESIS))
        session.flush()


def append(session: Session, links: Iterable[tuple[str, int, dict[str, Any]]]
           ) -> list[tuple[int, str]]:
    """Append (kind, ref_id, payload) links in order; returns their (seq, hash)."""
    bodies = [(kind, ref_id, canonical(payload)) for kind, ref_id, payload in links]
    if not bodies:
        return []
    head = lock_head(session)  # from here on other writers wait: only hashing and a COPY
    seq, prev = head.seq, head.hash
    rows, hashes = [], []
    for kind, ref_id, body in bodies:
        seq += 1
        prev = body_hash(seq, prev, kind, body)
        rows.append((seq, kind, ref_id, prev))
        hashes.append((seq, prev))
    bulk.insert_rows(session, ChainEntry.__table__, ("seq", "kind", "ref_id", "hash"), rows)
    session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    head.seq, head.hash = seq, prev
    return hashes


LOCKED = "survey_chain_head"  # session.info key: the head locked in this transaction


@dataclass
class Head:
    """The chain head as locked by this transaction (a plain value: the ORM's loading and
    flushing of the row cost more than the hashing)."""

    seq: int
    hash: str
    receipt_key: str


_HEAD = ChainHead.__table__
_LOCK_HEAD = (select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.receipt_key)
              .where(_HEAD.c.id == 1).with_for_update())
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def lock_head(session: Session) -> Head:
    """Lock the chain head for the rest of the transaction. Every write of evidence (a
    response, a review decision, an audit event) and every rollup update takes this lock
    first, which keeps the chain linear and rollup read-modify-writes serial. Asking
    again in the same transaction costs no query."""
    head = session.info.get(LOCKED)
    if head is None:
        session.flush()  # a ChainHead added by ensure_head in this transaction
        head = Head(*session.execute(_LOCK_HEAD).one())
        session.info[LOCKED] = head
    return head


@event.listens_for(Session, "after_transaction_end")
def _release(session: Session, transaction) -> None:
    """The row lock ends with the outermost transaction; so does our note of it."""
    if transaction.parent is None:
        session.info.pop(LOCKED, None)


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)


# --- Verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the stored chain and the stored rows disagree."""

    position: int
    kind: str
    ref_id: int | None
    problem: str  # changed | deleted | missing | inserted

    def message(self) -> str:
        what = (f"{self.kind} {self.ref_id}" if self.ref_id is not None and
                self.problem != "missing" else "a link")
        explain = {
            "changed": "the row no longer matches its link: it was changed, or rows were "
                       "swapped or reordered",
            "deleted": "the row the link covers is missing: it was deleted",
            "inserted": "a row exists that no link covers: it was inserted afterwards",
            "missing": "the link at this position is missing: a row and its link were "
                       "deleted",
        }[self.problem]
        return f"chain broken at position {self.position} ({what}): {explain}"


@dataclass(frozen=True)
class ChainReport:
    length: int
    head: str
    broken: ChainBreak | None


# The rows each kind of link covers.
_MODELS: dict[str, Any] = {"response": Response, "review": ReviewDecision,
                           "audit": AuditEvent, "answer": Answer}


def verify(session: Session, chunk: int = 5000) -> ChainReport:
    """Recompute every link from the rows it covers, in order; name the first break."""
    models = _MODELS
    prev, expected_seq, last = GENESIS, 1, None
    after = 0
    while True:
        entries = session.execute(
            select(ChainEntry.seq, ChainEntry.kind, ChainEntry.ref_id, ChainEntry.hash)
            .where(ChainEntry.seq > after).order_by(ChainEntry.seq).limit(chunk)).all()
        if not entries:
            break
        rows = _load_rows(session, entries, models)
        for seq, kind, ref_id, stored in entries:
            if seq != expected_seq:  # a gap in the sequence: a link was removed
                return ChainReport(expected_seq - 1, prev,
                                   ChainBreak(expected_seq, kind, ref_id, "missing"))
            payload = rows.get((kind, ref_id))
            if payload is None:
                return ChainReport(seq - 1, prev, ChainBreak(seq, kind, ref_id, "deleted"))
            if link_hash(seq, prev, kind, payload) != stored:
                return ChainReport(seq - 1, prev, ChainBreak(seq, kind, ref_id, "changed"))
            prev, expected_seq, last = stored, seq + 1, seq
        after = entries[-1][0]
    length = last or 0
    recorded = session.execute(select(_HEAD.c.seq, _HEAD.c.hash)
                               .where(_HEAD.c.id == 1)).first()
    if recorded is not None and (recorded[0], recorded[1]) != (length, prev):
        return ChainReport(length, prev, ChainBreak(length + 1, "head", None, "deleted"))
    orphan = _unlinked(session, models)
    if orphan is not None:
        return ChainReport(length, prev, ChainBreak(length + 1, orphan[0], orphan[1],
                                                    "inserted"))
    return ChainReport(length, prev, None)


def _load_rows(session: Session, entries, models) -> dict[tuple[str, int], dict]:
    """The payloads of the rows these links cover: per kind one query over the id range
    (links of one kind are nearly consecutive), fetched in bulk."""
    wanted: dict[str, set[int]] = {}
    for _seq, kind, ref_id, _hash in entries:
        wanted.setdefault(kind, set()).add(ref_id)
    payloads: dict[tuple[str, int], dict] = {}
    for kind, ids in wanted.items():
        table = models[kind].__table__
        low, high = min(ids), max(ids)
        found = {row.id: row._mapping for row in session.execute(
            select(table).where(table.c.id.between(low, high))).all() if row.id in ids}
        if kind == "response":
            # One "element:score,..." string per response: fetching nine rows per
            # response through the ORM layer cost more than all the hashing.
            answer = models["answer"].__table__
            pair = (cast(answer.c.element_id, String) + ":" + cast(answer.c.score, String))
            answers = {
                rid: {int(e): int(v) for e, v in (p.split(":") for p in joined.split(","))}
                for rid, joined in session.execute(
                    select(answer.c.response_id, func.aggregate_strings(pair, ","))
                    .where(answer.c.response_id.between(low, high))
                    .group_by(answer.c.response_id)).all()}
            gone = [rid for rid, row in found.items()
                    if row["comment"] is None and row["comment_digest"] is not None]
            redacted = set(session.scalars(
                select(ReviewDecision.response_id).where(
                    ReviewDecision.kind == "comment", ReviewDecision.decision == "redact",
                    ReviewDecision.response_id.in_(gone)))) if gone else set()
            for rid, row in found.items():
                payloads[("response", rid)] = response_payload(
                    row, answers.get(rid, {}), redacted=rid in redacted)
        elif kind == "review":
            for rid, row in found.items():
                payloads[("review", rid)] = review_payload(row)
        else:
            for rid, row in found.items():
                payloads[("audit", rid)] = audit_payload(row)
    return payloads


def _unlinked(session: Session, models) -> tuple[str, int] | None:
    """The first row of a chained table that no link covers."""
    for kind in ("response", "review", "audit"):
        table = models[kind].__table__
        row = session.execute(
            select(table.c.id).where(~select(ChainEntry.seq).where(
                ChainEntry.kind == kind, ChainEntry.ref_id == table.c.id).exists())
            .order_by(table.c.id).limit(1)).first()
        if row is not None:
            return kind, row[0]
    return None


def verify_period(session: Session, start, end, chunk: int = 5000) -> ChainReport:
    """The links of the responses dated from `start` to `end`, each recomputed from its row
    and answers and the stored hash of the link before it, which must exist (no gap around
    them), and no response of those days without a link. It reads only the period (on a
    partitioned database, its partitions), so a large chain's period is checked in
    seconds; it trusts the stored hash before each link, which only the full `verify`
    walk proves, and is meant between full walks, not instead of them. `length`: the
    links checked."""
    day_ok = Response.day.between(start, end)
    checked, last_hash, after = 0, GENESIS, 0
    while True:
        entries = session.execute(
            select(ChainEntry.seq, ChainEntry.kind, ChainEntry.ref_id, ChainEntry.hash)
            .join(Response, (ChainEntry.kind == "response") & (ChainEntry.ref_id == Response.id))
            .where(day_ok, ChainEntry.seq > after).order_by(ChainEntry.seq).limit(chunk)).all()
        if not entries:
            break
        before = dict(session.execute(
            select(ChainEntry.seq, ChainEntry.hash)
            .where(ChainEntry.seq.in_([e[0] - 1 for e in entries if e[0] > 1]))).tuples().all())
        rows = _load_rows(session, entries, _MODELS)
        for seq, kind, ref_id, stored in entries:
            prev = GENESIS if seq == 1 else before.get(seq - 1)
            if prev is None:
                return ChainReport(checked, last_hash, ChainBreak(seq - 1, kind, ref_id,
                                                                  "missing"))
            payload = rows.get((kind, ref_id))
            if payload is None or link_hash(seq, prev, kind, payload) != stored:
                return ChainReport(checked, last_hash, ChainBreak(
                    seq, kind, ref_id, "deleted" if payload is None else "changed"))
            checked, last_hash = checked + 1, stored
        after = entries[-1][0]
    orphan = session.scalar(
        select(Response.id).where(day_ok, ~select(ChainEntry.seq).where(
            ChainEntry.kind == "response", ChainEntry.ref_id == Response.id).exists())
        .order_by(Response.id).limit(1))
    if orphan is not None:
        return ChainReport(checked, last_hash, ChainBreak(0, "response", orphan, "inserted"))
    return ChainReport(checked, last_hash, None)
