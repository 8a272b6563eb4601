"""The single write path for responses: validation, anonymity, and the hash chain."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from support.factories import SetupMark

from survey.core import ledger, receipts
from survey.core.chain import link_hash
from survey.core.db import db
from survey.core.errors import ValidationError
from survey.core.models import Answer, ChainEntry, ChainHead, Desk, Response, Service
from survey.core.responses import NewResponse, record_responses

MORNING = datetime(2024, 5, 6, 2, 37, 12, tzinfo=UTC)  # 09:37 in Jakarta


def desk(code="L1") -> Desk:
    return db.session.scalar(select(Desk).where(Desk.code == code))


def item(**overrides) -> NewResponse:
    values = {"desk_id": desk().id, "answers": {f"U{i}": 3 for i in range(1, 10)},
              "submitted_at": MORNING, "channel": "qr"}
    values.update(overrides)
    return NewResponse(**values)


def stored_count(model=Response) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_stores_response_answers_and_a_receipt(org):
    recorded = record_responses(db.session, [item(answers={"U1": 4, "U2": 1, "U9": 2})])
    db.session.commit()
    response = db.session.get(Response, recorded[0].response_id)
    codes = {a.element.code: a.score for a in response.answers}
    assert codes == {"U1": 4, "U2": 1, "U9": 2}
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", recorded[0].receipt)


def test_time_is_coarsened_to_the_hour_and_dated_in_the_agency_zone(org):
    late = datetime(2024, 5, 6, 18, 59, tzinfo=UTC)  # 01:59 on 7 May in Jakarta
    rid = record_responses(db.session, [item(submitted_at=late)])[0].response_id
    db.session.commit()
    response = db.session.get(Response, rid)
    assert response.submitted_at == datetime(2024, 5, 6, 18, 0, tzinfo=UTC)
    assert (response.day, response.hour) == (date(2024, 5, 7), 1)


def test_any_zone_is_normalised_to_utc(org):
    wita = timezone(timedelta(hours=8))
    rid = record_responses(db.session, [item(submitted_at=datetime(2024, 5, 6, 10, 5,
                                                                    tzinfo=wita))])[0]
    db.session.commit()
    assert db.session.get(Response, rid.response_id).submitted_at == datetime(
        2024, 5, 6, 2, 0, tzinfo=UTC)


def test_personal_numbers_in_comments_never_reach_the_database(org):
    recorded = record_responses(db.session, [item(
        comment="NIK saya 3201234567890123, telp +62 812-3456-7890. Antre 2 jam.")])[0]
    db.session.commit()
    comment = db.session.get(Response, recorded.response_id).comment
    assert "3201" not in comment and "812" not in comment
    assert comment.endswith("Antre 2 jam.")  # short numbers are kept
    assert recorded.masked_numbers == 2


@pytest.mark.parametrize("overrides, message", [
    ({"answers": {"U1": 5}}, "must be 1, 2, 3 or 4"),
    ({"answers": {"U1": 0}}, "must be 1, 2, 3 or 4"),
    ({"answers": {"U1": True}}, "must be 1, 2, 3 or 4"),
    ({"answers": {"U1": "4"}}, "must be 1, 2, 3 or 4"),
    ({"answers": {"U10": 4}}, "not on this desk's questionnaire"),
    ({"channel": "fax"}, "unknown channel"),
    ({"channel": "ticket"}, "ticket responses are verified"),
    ({"sex": "X"}, "sex 'X' is not one of"),
    ({"age": "99"}, "age band"),
    ({"comment": "x" * 1001}, "longer than 1000"),
    ({"flags": ("weird",)}, "unknown flag"),
    ({"submitted_at": datetime(2024, 5, 6, 9)}, "time zone"),
])
def test_invalid_input_is_refused_and_nothing_is_stored(org, overrides, message):
    good = item()
    with pytest.raises(ValidationError, match=message):
        record_responses(db.session, [good, item(**overrides)])
    db.session.rollback()
    assert stored_count() == 0 and stored_count(ChainEntry) == SetupMark.links


def test_batch_errors_name_the_item(org):
    with pytest.raises(ValidationError, match="response 3: "):
        record_responses(db.session, [item(), item(), item(answers={"U1": 9})])


def test_unknown_desk_and_foreign_service_are_refused(org):
    with pytest.raises(ValidationError, match="unknown desk"):
        record_responses(db.session, [item(desk_id=424242)])
    org.create_agency(db.session, "KEC-B", "B")
    other = org.create_service(db.session, "KEC-B", "X", "X")
    with pytest.raises(ValidationError, match="not offered by this desk's agency"):
        record_responses(db.session, [item(service_id=other.id)])
    own = db.session.scalar(select(Service).where(Service.code == "KTP"))
    assert record_responses(db.session, [item(service_id=own.id)])


def test_chain_links_every_response_in_order(org):
    first = record_responses(db.session, [item(), item(answers={"U1": 1})])
    db.session.commit()
    second = record_responses(db.session, [item(channel="paper", answers={"U3": 2})])
    db.session.commit()
    entries = db.session.scalars(select(ChainEntry).where(ChainEntry.seq > SetupMark.links)
                                 .order_by(ChainEntry.seq)).all()
    assert [e.seq - SetupMark.links for e in entries] == [1, 2, 3]
    assert [e.ref_id for e in entries] == [r.response_id for r in first + second]
    prev = SetupMark.head
    for entry in entries:
        response = db.session.get(Response, entry.ref_id)
        row = {c.name: getattr(response, c.name) for c in Response.__table__.columns}
        answers = {a.element_id: a.score for a in response.answers}
        expected = link_hash(entry.seq, prev, "response", ledger.response_payload(row, answers))
        assert entry.hash == expected
        prev = entry.hash
    assert ledger.head(db.session) == (SetupMark.links + 3, prev)
    # The receipt is an HMAC of the link's hash under the installation's key, stored for
    # the check page; never a prefix of the hash (a code in a log must not find it).
    key = db.session.get(ChainHead, 1).receipt_key
    assert (first + second)[2].receipt == receipts.derive(key, prev) == receipts.code_at(
        db.session, SetupMark.links + 3)
    assert (first + second)[2].receipt.replace("-", "").lower() not in prev


def test_no_application_path_updates_or_deletes_responses(app, runner):
    """Run every write path that exists (demo seeding, CLI commands, direct recording)
    while recording SQL: no UPDATE or DELETE may ever touch a response or an answer."""
    touched = []

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def spy(conn, cursor, statement, params, context, executemany):
            sql = statement.lstrip().upper()
            if sql.startswith(("UPDATE", "DELETE")) and re.search(
                    r"\b(RESPONSE|ANSWER|CHAIN_ENTRY)\b", sql.split("WHERE")[0]):
                touched.append(statement)

        try:
            for args in (["demo", "--end-month", "2024-06"],
                         ["agency", "create", "--code", "X", "--name", "X"],
                         ["desk", "create", "--agency", "X", "--code", "L1", "--name", "L"],
                         ["volume", "set", "--agency", "X", "--desk", "L1", "--month",
                          "2024-06", "--count", "5"],
                         ["demo"]):
                assert runner.invoke(args=args).exit_code == 0
            assert stored_count() > 4000 and stored_count(Answer) > 40000
        finally:
            event.remove(engine, "before_cursor_execute", spy)
    assert touched == []
