"""The database itself rejects what the survey forbids, whatever code path writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from survey.core.db import db
from survey.core.models import (
    Agency,
    Answer,
    Desk,
    Element,
    Questionnaire,
    Response,
    ServiceVolume,
    Ticket,
)
from survey.core.responses import NewResponse, record_responses

NOW = datetime(2024, 5, 6, 9, 41, tzinfo=UTC)


def _response(desk_id: int, **overrides) -> int:
    item = NewResponse(desk_id=desk_id, answers={"U1": 3, "U2": 4}, submitted_at=NOW,
                       channel="qr", **overrides)
    return record_responses(db.session, [item])[0].response_id


def _desk(code: str = "L1") -> Desk:
    return db.session.scalar(select(Desk).where(Desk.code == code))


def _raw_response(desk: Desk, **overrides) -> dict:
    row = {"desk_id": desk.id, "questionnaire_id": desk.questionnaire_id,
           "submitted_at": NOW, "day": NOW.date(), "hour": 16, "channel": "qr",
           "verified": False, "flags": ""}
    row.update(overrides)
    return row


def _rejects(statement, params=None) -> None:
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(statement, params)
        db.session.flush()
    db.session.rollback()


def test_score_outside_1_to_4_is_rejected_by_the_database(org):
    desk = _desk()
    rid = _response(desk.id)
    db.session.commit()
    element = db.session.scalar(select(Element).where(
        Element.questionnaire_id == desk.questionnaire_id, Element.code == "U5"))
    for score in (5, 0, -1):
        _rejects(insert(Answer).values(response_id=rid, element_id=element.id,
                                       questionnaire_id=desk.questionnaire_id, score=score))
    assert db.session.scalar(select(Answer.score).where(Answer.element_id == element.id)) is None


def test_one_answer_per_element_per_response(org):
    desk = _desk()
    rid = _response(desk.id)
    db.session.commit()
    u1 = db.session.scalar(select(Element.id).where(
        Element.questionnaire_id == desk.questionnaire_id, Element.code == "U1"))
    _rejects(insert(Answer).values(response_id=rid, element_id=u1,
                                   questionnaire_id=desk.questionnaire_id, score=2))


def test_orphan_answer_is_rejected(org):
    desk = _desk()
    u1 = db.session.scalar(select(Element.id).where(
        Element.questionnaire_id == desk.questionnaire_id, Element.code == "U1"))
    _rejects(insert(Answer).values(response_id=999_999, element_id=u1,
                                   questionnaire_id=desk.questionnaire_id, score=3))


def test_answer_to_an_element_of_another_questionnaire_is_rejected(org):
    desk = _desk()
    rid = _response(desk.id)
    db.session.commit()
    other = db.session.scalar(select(Questionnaire).where(
        Questionnaire.code == "kepmenpan-25-2004"))
    foreign = other.elements[12]  # U13 exists only in the 2004 questionnaire
    _rejects(insert(Answer).values(response_id=rid, element_id=foreign.id,
                                   questionnaire_id=desk.questionnaire_id, score=3))
    _rejects(insert(Answer).values(response_id=rid, element_id=foreign.id,
                                   questionnaire_id=other.id, score=3))


def test_duplicate_desk_code_in_one_agency_is_rejected(org):
    agency = db.session.scalar(select(Agency).where(Agency.code == "KEC-A"))
    desk = _desk()
    _rejects(insert(Desk).values(agency_id=agency.id, questionnaire_id=desk.questionnaire_id,
                                 code="L1", name="Dup", slug="x" * 20, active=True,
                                 created_at=NOW))


def test_same_desk_code_in_another_agency_is_fine(org):
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    org.create_desk(db.session, "KEC-B", "L1", "Loket 1")
    db.session.commit()
    assert db.session.scalar(select(Desk).where(Desk.code == "L1").limit(1)) is not None


def test_short_or_duplicate_slugs_are_rejected(org):
    desk = _desk()
    agency_id = desk.agency_id
    _rejects(insert(Desk).values(agency_id=agency_id, questionnaire_id=desk.questionnaire_id,
                                 code="L9", name="x", slug="short", active=True,
                                 created_at=NOW))
    _rejects(insert(Desk).values(agency_id=agency_id, questionnaire_id=desk.questionnaire_id,
                                 code="L9", name="x", slug=desk.slug, active=True,
                                 created_at=NOW))


def test_desk_slugs_are_random_and_long(org):
    slugs = {d.slug for d in db.session.scalars(select(Desk))}
    assert len(slugs) == 2 and all(len(s) >= 16 for s in slugs)


def test_agency_cannot_be_its_own_parent(org):
    agency = db.session.scalar(select(Agency).where(Agency.code == "KEC-A"))
    _rejects(update(Agency).where(Agency.id == agency.id).values(parent_id=agency.id))


@pytest.mark.parametrize("overrides", [
    {"channel": "email"},
    {"channel": "ticket", "verified": False},
    {"hour": 24},
    {"sex": "X"},
    {"age": "100+"},
    {"education": "PhD"},
    {"occupation": "Pilot"},
    {"comment": "x" * 1001},
])
def test_response_row_constraints(org, overrides):
    _rejects(insert(Response).values(**_raw_response(_desk(), **overrides)))


def test_negative_service_volume_is_rejected(org):
    desk = _desk()
    _rejects(insert(ServiceVolume).values(desk_id=desk.id, granularity="month",
                                          period_start=date(2024, 6, 1), count=-1,
                                          updated_at=NOW))
    _rejects(insert(ServiceVolume).values(desk_id=desk.id, granularity="week",
                                          period_start=date(2024, 6, 1), count=1,
                                          updated_at=NOW))


def test_one_volume_per_desk_and_period(org):
    desk = _desk()
    _rejects(insert(ServiceVolume).values(desk_id=desk.id, granularity="month",
                                          period_start=date(2024, 5, 1), count=1,
                                          updated_at=NOW))


def test_ticket_must_expire_after_creation_and_hash_is_unique(org):
    desk = _desk()
    _rejects(insert(Ticket).values(desk_id=desk.id, token_hash="a" * 64, created_at=NOW,
                                   expires_at=NOW - timedelta(hours=1)))
    db.session.execute(insert(Ticket).values(desk_id=desk.id, token_hash="b" * 64,
                                             created_at=NOW, expires_at=NOW + timedelta(1)))
    _rejects(insert(Ticket).values(desk_id=desk.id, token_hash="b" * 64, created_at=NOW,
                                   expires_at=NOW + timedelta(1)))


def test_responses_and_answers_are_append_only_in_the_database(org):
    rid = _response(_desk().id)
    db.session.commit()
    _rejects(update(Response).where(Response.id == rid).values(hour=3))
    _rejects(text("DELETE FROM answer WHERE response_id = :r"), {"r": rid})
    _rejects(text("UPDATE answer SET score = 1 WHERE response_id = :r"), {"r": rid})
    _rejects(text("DELETE FROM response WHERE id = :r"), {"r": rid})
    _rejects(text("DELETE FROM chain_entry"))
    assert db.session.get(Response, rid).hour == NOW.hour + 7  # WIB, untouched


def test_timestamps_are_timezone_aware_utc(org):
    rid = _response(_desk().id)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Response, rid).submitted_at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == NOW.replace(minute=0)


def test_naive_datetimes_are_refused(org):
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.execute(insert(Ticket).values(
            desk_id=_desk().id, token_hash="c" * 64,
            created_at=datetime(2024, 1, 1), expires_at=datetime(2024, 1, 2)))
    db.session.rollback()
