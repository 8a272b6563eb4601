"""Appending to the hash chain inside the caller's transaction.

The chain head is one locked row, so concurrent submissions queue for the few microseconds
the append takes and the chain stays linear. The payload functions here are the only
definition of what a link covers; verification uses the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .chain import GENESIS, link_hash
from .models import ChainEntry, ChainHead


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def response_payload(row: Mapping[str, Any], answers: Mapping[int, int]) -> dict[str, Any]:
    """What a response link covers: every stored field and every answer (element id ->
    score). The idempotency key is transport detail, not content, and is left out."""
    return {
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


def append(session: Session, links: Iterable[tuple[str, int, dict[str, Any]]]) -> list[str]:
    """Append (kind, ref_id, payload) links in order; returns their hashes."""
    links = list(links)
    if not links:
        return []
    head = lock_head(session)
    seq, prev = head.seq, head.hash
    rows, hashes = [], []
    for kind, ref_id, payload in links:
        seq += 1
        prev = link_hash(seq, prev, kind, payload)
        rows.append({"seq": seq, "kind": kind, "ref_id": ref_id, "hash": prev})
        hashes.append(prev)
    session.execute(insert(ChainEntry), rows)
    head.seq, head.hash = seq, prev
    session.flush()
    return hashes


def lock_head(session: Session) -> ChainHead:
    """Lock the chain head for the rest of the transaction. Every write of evidence (a
    response, a review decision, an audit event) and every rollup update takes this lock
    first, which keeps the chain linear and rollup read-modify-writes serial. Taking it
    again in the same transaction is free."""
    return session.execute(
        select(ChainHead)
        .where(ChainHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def head(session: Session) -> tuple[int, str]:
    row = session.get(ChainHead, 1)
    return (row.seq, row.hash) if row else (0, GENESIS)
