"""The fast write path for many rows (COPY on PostgreSQL, the driver's executemany on
SQLite) stores exactly what the ordinary INSERT of one response stores, and fails the
same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from support.factories import desk

from survey.core import bulk, ledger
from survey.core.db import db, write_transaction
from survey.core.models import Answer, ChainHead, Receipt, Response
from survey.core.responses import NewResponse, record_responses

STORED = ("desk_id", "service_id", "questionnaire_id", "submitted_at", "day", "hour",
          "channel", "verified", "flags", "sex", "age", "education", "occupation", "comment")


def items(count: int, key: str) -> list[NewResponse]:
    """Responses with every kind of value: blanks, None, a comment with a phone number,
    flags, time zones, profile."""
    start = datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    out = []
    for n in range(count):
        answers = {f"U{i}": 1 + (n + i) % 4 for i in range(1, 10) if (n + i) % 7}
        out.append(NewResponse(
            desk_id=desk().id, answers=answers, submitted_at=start + timedelta(hours=7 * n),
            channel=("paper", "qr", "import")[n % 3], verified=False,
            flags=("too_fast",) if n % 5 == 0 else (),
            sex=("L", "P", None)[n % 3], age="30-39" if n % 2 else None,
            comment=f"Antrean {n}, hubungi 0812-3456-{7000 + n}" if n % 4 == 0 else None,
            idempotency_key=f"{key}-{n}"))
    return out


def stored_rows(ids: list[int]) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.scalars(select(Response).where(Response.id.in_(ids))
                              .order_by(Response.id)).all()
    return [(tuple(getattr(r, c) for c in STORED),
             sorted((a.element_id, a.score) for a in r.answers)) for r in rows]


def test_many_responses_at_once_store_what_one_at_a_time_stores(org):
    many = items(bulk.COPY_FROM + 10, "many")
    with write_transaction(db.session):
        together = record_responses(db.session, many)
    alone = []
    for item in items(bulk.COPY_FROM + 10, "one"):
        with write_transaction(db.session):
            alone += record_responses(db.session, [item])
    bulk_rows = stored_rows([r.response_id for r in together])
    single_rows = stored_rows([r.response_id for r in alone])
    assert len(bulk_rows) == bulk.COPY_FROM + 10 and bulk_rows == single_rows
    assert bulk_rows[0][0][3] == datetime(2024, 5, 1, 2, tzinfo=UTC)  # the hour kept, aware
    assert "****-****-****" in bulk_rows[0][0][-1]  # masked in both paths
    assert [r.flags for r in together] == [r.flags for r in alone]
    ids = [r.response_id for r in together]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ledger.verify(db.session).broken is None


def test_a_duplicate_in_a_bulk_insert_is_an_integrity_error_and_stores_nothing(org):
    with write_transaction(db.session):
        [first] = record_responses(db.session, items(1, "dup"))
    codes = [(f"X{n:04d}-ZZZZZ", None) for n in range(bulk.COPY_FROM + 5)]
    codes[-1] = (first.receipt, None)  # already taken
    with pytest.raises(IntegrityError), write_transaction(db.session):
        bulk.insert_rows(db.session, Receipt.__table__, ("code", "seq"), codes)
    assert db.session.scalar(select(Receipt.code).where(Receipt.code == "X0000-ZZZZZ")) is None


def test_reserved_ids_are_new_and_increasing(org):
    with write_transaction(db.session):
        [first] = record_responses(db.session, items(1, "ids"))
        reserved = bulk.reserve_ids(db.session, Response.__table__, 3)
    assert reserved == sorted(reserved) and reserved[0] > first.response_id
    assert db.session.scalar(select(Answer.response_id).where(
        Answer.response_id.in_(reserved))) is None


def test_a_receipt_code_already_taken_is_derived_again(org, monkeypatch):
    """Codes are 50 bits, so two links may in principle get the same one: a code already
    stored, or one given twice in a batch, is derived again (attempt 1)."""
    from survey.core import receipts

    with write_transaction(db.session):
        [first] = record_responses(db.session, items(1, "taken"))
    derive = receipts.derive
    clashing: list[str] = []

    def clash(key: str, chain_hash: str, attempt: int = 0) -> str:
        if attempt == 0 and len(clashing) < 3:
            clashing.append(chain_hash)
        if attempt == 0 and chain_hash in clashing:
            return first.receipt if clashing.index(chain_hash) == 0 else "DUPLI-CATE0"
        return derive(key, chain_hash, attempt)

    monkeypatch.setattr(receipts, "derive", clash)
    with write_transaction(db.session):
        recorded = record_responses(db.session, items(bulk.COPY_FROM + 5, "batch"))
    codes = [r.receipt for r in recorded]
    assert first.receipt not in codes and len(set(codes)) == len(codes)
    assert codes[0] == derive(db.session.get(ChainHead, 1).receipt_key, clashing[0], 1)
    assert "DUPLI-CATE0" not in codes
    assert codes[1:3] == [derive(db.session.get(ChainHead, 1).receipt_key, h, 1)
                          for h in clashing[1:3]]
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == len(codes) + 1
