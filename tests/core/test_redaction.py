"""Comments redactable without breaking the chain: a comment recorded now is covered by a
salted digest, so an administrator can delete its text (reason required, audited, shown
as removed in exports) and `flask audit verify` still passes; a comment changed or
removed without a redaction breaks the chain; an older comment, whose link hashes its
text, is hidden everywhere but its text kept."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from support.factories import desk, make_user

from survey.core import ledger
from survey.core.db import db
from survey.core.exports import service
from survey.core.exports.rows import REDACTED
from survey.core.models import AuditEvent, Response
from survey.core.org.agencies import get_agency
from survey.core.periods import parse_period
from survey.core.responses import NewResponse, record_responses
from survey.core.review import moderate_comment, published_comments, queue, redact_comment

MAY = datetime(2024, 5, 14, 3, tzinfo=UTC)
LEAK = "Petugas baik. Hubungi saya lewat nomor 0812 tiga empat lima enam tujuh delapan."


def record(comment: str = LEAK) -> int:
    recorded = record_responses(db.session, [NewResponse(
        desk_id=desk().id, answers={f"U{i}": 3 for i in range(1, 10)}, submitted_at=MAY,
        channel="qr", comment=comment)])
    db.session.commit()
    return recorded[0].response_id


def csv_comments() -> dict[int, str]:
    job = service.ExportJob(get_agency(db.session, "KEC-A"), parse_period("2024-05"),
                            include_flagged=True)
    rows = csv.DictReader(io.StringIO("".join(service.csv_chunks(db.session, job))))
    return {int(r["response_id"]): r["comment"] for r in rows}


def test_a_new_comment_is_covered_by_its_digest_and_can_be_redacted(org, runner):
    rid = record()
    response = db.session.get(Response, rid)
    assert response.comment == LEAK
    assert response.comment_digest == ledger.comment_digest(response.comment_salt, LEAK)
    kept = record("Ruang tunggu nyaman.")
    assert ledger.verify(db.session).broken is None

    result = runner.invoke(args=["responses", "redact", "--id", str(rid), "--reason",
                                 "a phone number written out in words"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Response, rid).comment is None  # the text is gone
    assert ledger.verify(db.session).broken is None  # and the chain still holds
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and "chain intact" in verify.output
    assert csv_comments() == {rid: REDACTED, kept: "Ruang tunggu nyaman."}
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "comment_redact")).all()
    assert event.actor == "cli" and event.details == {
        "reason": "a phone number written out in words", "text_deleted": True}
    again = runner.invoke(args=["responses", "redact", "--id", str(rid), "--reason", "x"])
    assert again.exit_code == 1


def test_a_reason_is_required(org):
    rid = record()
    from survey.core.errors import ValidationError

    with pytest.raises(ValidationError, match="reason"):
        redact_comment(db.session, rid, "  ", None)
    db.session.rollback()
    assert db.session.get(Response, rid).comment == LEAK


def test_a_comment_changed_or_removed_without_a_redaction_breaks_the_chain(org):
    rid = record()
    record("Pelayanan cepat.")
    # The database refuses any other change to a response, and a comment can only go.
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(update(Response).where(Response.id == rid)
                           .values(comment="Pelayanan sangat buruk!"))
        db.session.flush()
    db.session.rollback()
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(update(Response).where(Response.id == rid).values(hour=3))
        db.session.flush()
    db.session.rollback()
    # Setting it to NULL by hand, with no redaction decision, is found.
    db.session.execute(update(Response).where(Response.id == rid).values(comment=None))
    db.session.commit()
    broken = ledger.verify(db.session).broken
    assert broken is not None and (broken.kind, broken.ref_id, broken.problem) == (
        "response", rid, "changed")


def test_an_older_comment_is_hidden_everywhere_but_its_text_kept(org, monkeypatch):
    """Recorded before digests (its link hashes the text itself): redaction hides it from
    the queue, the public page and the exports; the text stays so the chain holds."""
    monkeypatch.setattr(ledger, "comment_digest", lambda salt, comment: None)
    old = record()
    monkeypatch.undo()
    row = db.session.get(Response, old)
    assert row.comment_digest is None and row.comment == LEAK
    manager = make_user(org, "m@kec-a.go.id", "agency_manager", ["KEC-A"])
    moderate_comment(db.session, old, "publish", "kind words", manager)
    db.session.commit()
    assert published_comments(db.session, [desk().id], MAY.date(), MAY.date())

    deleted = redact_comment(db.session, old, "phone number", None)
    db.session.commit()
    assert deleted is False
    assert db.session.get(Response, old).comment == LEAK  # kept: the chain covers it
    assert ledger.verify(db.session).broken is None
    assert csv_comments()[old] == REDACTED
    assert not published_comments(db.session, [desk().id], MAY.date(), MAY.date())
    [item] = queue(db.session, "comment", [desk().id], MAY.date(), MAY.date())
    assert (item.status, item.comment) == ("redact", None)


def test_the_database_keeps_its_rule_after_the_migration(org):
    """create_all and the migrations install the same rule (see test_migrations for the
    migrated database): deleting a response is still refused."""
    rid = record()
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(text("DELETE FROM response WHERE id = :id"), {"id": rid})
        db.session.flush()
    db.session.rollback()
