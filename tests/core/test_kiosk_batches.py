"""Responses an offline kiosk tablet kept and sends later in batches: every valid one is
stored exactly once (replays, a batch cut off half way and sent again, the same batch
twice at once), an invalid one is refused alone with its reason, and the stored ones
count like any other response."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.factories import desk

from survey.core import kiosk_sync, ledger
from survey.core.db import db, write_transaction
from survey.core.errors import ValidationError
from survey.core.kiosk_sync import Captured
from survey.core.models import KioskDevice, ReportingPeriod, Response
from survey.core.org import kiosks
from survey.core.results import raw

NOW = datetime(2024, 5, 20, 5, 30, tzinfo=UTC)  # 12:30 in Jakarta
FULL = {f"U{i}": 3 for i in range(1, 10)}


def enrol(code: str = "L1", name: str = "Tablet 1") -> KioskDevice:
    with write_transaction(db.session):
        device, _secret = kiosks.enrol(db.session, desk(code), name, actor=None)
    return device


def captured(n: int, at: datetime | None = None, **overrides) -> Captured:
    values = {"key": f"kiosk-key-{n:04d}-abcdefgh", "captured_at": at or NOW - timedelta(hours=n),
              "answers": dict(FULL), "service_id": desk().services[0].id,
              "profile": {"sex": "P", "age": "30-39", "education": None, "occupation": None},
              "comment": None}
    values.update(overrides)
    return Captured(**values)


def send(device: KioskDevice, items, *, now: datetime = NOW, waiting: int | None = 0,
         refused: int | None = 0, max_age_days: int = 30):
    results = kiosk_sync.sync(db.session, device, items, now=now, max_age_days=max_age_days,
                              waiting=waiting, refused=refused)
    return [(r.key, r.status, r.error.code if r.error else None) for r in results]


def stored_keys() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Response.idempotency_key).order_by(Response.id)))


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Response))


def test_a_batch_is_stored_as_kiosk_responses_of_the_device_at_their_capture_hour(org):
    device = enrol()
    items = [captured(1, NOW - timedelta(minutes=47)),
             captured(2, datetime(2024, 5, 19, 16, 59, tzinfo=UTC))]  # 23:59 WIB
    assert send(device, items, waiting=3, refused=1) == [
        (items[0].key, "stored", None), (items[1].key, "stored", None)]
    rows = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert [(r.channel, r.device_id, r.flags, r.verified) for r in rows] == [
        ("kiosk", device.id, "", False)] * 2
    assert rows[0].submitted_at == datetime(2024, 5, 20, 4, tzinfo=UTC)  # the hour only
    assert (rows[0].day.isoformat(), rows[0].hour) == ("2024-05-20", 11)
    assert (rows[1].day.isoformat(), rows[1].hour) == ("2024-05-19", 23)  # agency's day
    assert (rows[0].sex, rows[0].age) == ("P", "30-39")
    db.session.expire_all()
    device = db.session.get(KioskDevice, device.id)
    assert device.last_seen_at == NOW and device.last_sync_at == NOW
    assert (device.waiting_reported, device.refused_reported) == (3, 1)


def test_a_key_repeated_within_a_batch_or_in_a_later_one_is_stored_once(org):
    device = enrol()
    a, b, c = captured(1), captured(2), captured(3)
    assert [s for _k, s, _c in send(device, [a, b, a])] == ["stored", "stored", "duplicate"]
    assert [s for _k, s, _c in send(device, [b, c])] == ["duplicate", "stored"]
    assert stored_keys() == [a.key, b.key, c.key]


def test_a_batch_resent_after_a_partial_store_stores_each_response_exactly_once(org):
    device = enrol()
    batch = [captured(n) for n in range(1, 11)]
    send(device, batch[:5])  # the connection broke after the server stored these
    results = send(device, batch)  # the tablet never got the answer: it sends it all
    assert [s for _k, s, _c in results] == ["duplicate"] * 5 + ["stored"] * 5
    assert sorted(stored_keys()) == sorted(item.key for item in batch)
    assert [s for _k, s, _c in send(device, batch)] == ["duplicate"] * 10
    assert count() == 10
    assert ledger.verify(db.session).broken is None


def test_responses_are_stored_in_the_order_sent_whatever_their_capture_times(org):
    device = enrol()
    times = [NOW - timedelta(days=2), NOW - timedelta(days=9), NOW - timedelta(hours=1)]
    items = [captured(n, at) for n, at in enumerate(times)]
    assert [s for _k, s, _c in send(device, items)] == ["stored"] * 3
    rows = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert [r.idempotency_key for r in rows] == [item.key for item in items]
    assert [r.submitted_at for r in rows] == [
        t.replace(minute=0, second=0, microsecond=0) for t in times]


@pytest.mark.parametrize(("change", "code"), [
    ({"answers": {f"U{i}": 3 for i in range(1, 9)}}, "answer_missing"),
    ({"answers": {**FULL, "U9": 5}}, "bad_score"),
    ({"answers": {**FULL, "U9": 0}}, "bad_score"),
    ({"answers": {**FULL, "U10": 3}}, "not_on_questionnaire"),
    ({"service_id": None}, "service_required"),
    ({"service_id": 999999}, "service_not_at_desk"),
    ({"profile": {"sex": "X"}}, "bad_choice"),
    ({"profile": {"hobby": "golf"}}, "bad_profile"),
    ({"comment": "x" * 1001}, "comment_too_long"),
    ({"comment": "bagus\x00"}, "bad_text"),
])
def test_an_invalid_response_is_refused_alone(org, change, code):
    device = enrol()
    items = [captured(1), captured(2, **change), captured(3)]
    assert [(s, c) for _k, s, c in send(device, items)] == [
        ("stored", None), ("refused", code), ("stored", None)]
    assert stored_keys() == [items[0].key, items[2].key]


def test_the_service_must_be_one_this_desk_offers(org):
    org.create_service(db.session, "KEC-A", "AKTA", "Akta", "Birth certificate", ["L2"])
    db.session.commit()
    [only_at_l2] = [s for s in desk("L2").services if s.code == "AKTA"]
    device = enrol()
    assert send(device, [captured(1, service_id=only_at_l2.id)])[0][1:] == (
        "refused", "service_not_at_desk")


def test_a_long_suggestion_is_kept_with_its_personal_numbers_masked(org):
    device = enrol()
    comment = "Antrean lama, hubungi 081234567890. " + "a" * 900
    assert send(device, [captured(1, comment=comment)])[0][1] == "stored"
    stored = db.session.scalar(select(Response.comment))
    assert "081234567890" not in stored and len(stored) == len(comment.strip())


def test_half_an_emoji_in_a_suggestion_does_not_stop_the_response(org):
    device = enrol()
    assert send(device, [captured(1, comment="Ramah \ud83d sekali \U0001F600")])[0][1] == (
        "stored")
    assert db.session.scalar(select(Response.comment)) == "Ramah \ufffd sekali \U0001F600"


def test_a_response_captured_in_a_closed_period_is_refused_naming_the_period(org):
    db.session.add(ReportingPeriod(key="2024-04", closed_at=NOW))
    db.session.commit()
    device = enrol()
    april = captured(1, datetime(2024, 4, 30, 16, 30, tzinfo=UTC))  # 23:30 WIB, 30 April
    may = captured(2, datetime(2024, 4, 30, 17, 0, tzinfo=UTC))  # 00:00 WIB, 1 May
    results = kiosk_sync.sync(db.session, device, [april, may], now=NOW, max_age_days=30,
                              waiting=0, refused=0)
    assert [r.status for r in results] == ["refused", "stored"]
    assert results[0].error.code == "period_closed"
    assert results[0].error.params == {"period": "2024-04", "day": "2024-04-30"}
    assert "2024-04" in str(results[0].error)
    assert stored_keys() == [may.key]


def test_capture_times_too_old_or_in_the_future_are_refused(org):
    device = enrol()
    items = [captured(1, NOW - timedelta(days=30, minutes=1)),
             captured(2, NOW - timedelta(days=29, hours=23)),
             captured(3, NOW + timedelta(minutes=9)),
             captured(4, NOW + timedelta(minutes=11))]
    assert [(s, c) for _k, s, c in send(device, items)] == [
        ("refused", "too_old"), ("stored", None), ("stored", None), ("refused", "in_future")]


def test_a_key_used_at_another_desk_is_refused(org):
    at_l2, at_l1 = enrol("L2"), enrol("L1", "Tablet 2")
    send(at_l2, [captured(1, service_id=desk("L2").services[0].id)])
    assert send(at_l1, [captured(1), captured(2)]) == [
        (captured(1).key, "refused", "key_conflict"), (captured(2).key, "stored", None)]
    assert db.session.scalar(select(func.count()).where(Response.desk_id == desk("L1").id)) == 1


def test_a_key_refused_earlier_in_the_batch_is_refused_again(org):
    device = enrol()
    bad = captured(1, answers={"U1": 4})
    assert [(s, c) for _k, s, c in send(device, [bad, captured(1)])] == [
        ("refused", "answer_missing"), ("refused", "answer_missing")]
    assert count() == 0


def test_a_revoked_device_or_a_closed_desk_stores_nothing(org):
    device = enrol()
    with write_transaction(db.session):
        kiosks.revoke(db.session, device.id, actor=None)
    with pytest.raises(ValidationError) as refused:
        send(device, [captured(1)])
    assert refused.value.code == "kiosk_revoked"
    other = enrol("L2", "Tablet L2")
    with write_transaction(db.session):
        desk("L2").active = False
    with pytest.raises(ValidationError) as closed:
        send(other, [captured(2, service_id=desk("L2").services[0].id)])
    assert closed.value.code == "desk_closed"
    assert count() == 0
    db.session.expire_all()
    assert db.session.get(KioskDevice, other.id).last_seen_at is None


def test_an_empty_batch_is_a_heartbeat(org):
    device = enrol()
    assert send(device, [], waiting=7, refused=2) == []
    db.session.expire_all()
    device = db.session.get(KioskDevice, device.id)
    assert (device.last_seen_at, device.last_sync_at) == (NOW, None)
    assert (device.waiting_reported, device.refused_reported) == (7, 2)
    later = NOW + timedelta(minutes=5)
    send(device, [captured(1)], now=later, waiting=6, refused=2)
    db.session.expire_all()
    device = db.session.get(KioskDevice, device.id)
    assert (device.last_seen_at, device.last_sync_at) == (later, later)
    assert device.waiting_reported == 6


def test_a_device_is_identified_by_its_secret_at_its_own_desk_even_when_revoked(org):
    with write_transaction(db.session):
        device, secret = kiosks.enrol(db.session, desk(), "Tablet", actor=None)
    assert kiosks.identify(db.session, desk().id, device.id, secret) is device
    for desk_id, device_id, given in ((desk("L2").id, device.id, secret),
                                      (desk().id, device.id, secret + "x"),
                                      (desk().id, str(device.id), secret),
                                      (desk().id, True, secret), (desk().id, 2**31, secret),
                                      (desk().id, device.id, None)):
        assert kiosks.identify(db.session, desk_id, device_id, given) is None
    kiosks.touch(db.session, device, NOW)
    db.session.rollback()  # touch committed on its own
    assert db.session.get(KioskDevice, device.id).last_seen_at == NOW
    with write_transaction(db.session):
        kiosks.revoke(db.session, device.id, actor=None)
    assert kiosks.identify(db.session, desk().id, device.id, secret).revoked_at is not None
    assert not kiosks.recognised(db.session, desk().id, device.id, secret)


def test_the_same_batch_stored_by_another_request_meanwhile_is_acknowledged(app, org):
    """Two tabs send the same batch at once: the other commits between this request's
    reading and its writing. The insert fails on the unique key; read again: duplicates."""
    device = enrol()
    batch = [captured(n) for n in range(1, 6)]
    original = kiosk_sync._prepare
    raced: list[list[str]] = []
    calls = []

    def prepare_then_lose_the_race(*args):
        prepared = original(*args)
        calls.append(len(args[1]))
        if len(calls) == 1:
            with app.app_context():  # another request, with its own session
                other = db.session.get(KioskDevice, device.id)
                raced.append([r.status for r in kiosk_sync.sync(
                    db.session, other, batch, now=NOW, max_age_days=30, waiting=0,
                    refused=0)])
        return prepared

    kiosk_sync._prepare = prepare_then_lose_the_race
    try:
        results = send(device, batch)
    finally:
        kiosk_sync._prepare = original
    assert raced == [["stored"] * 5]
    # Prepared: this request (5), the other (5), this request again (none left).
    assert calls == [5, 5, 0]
    assert [s for _k, s, _c in results] == ["duplicate"] * 5
    assert sorted(stored_keys()) == sorted(item.key for item in batch)


def test_synced_responses_count_in_the_report_and_rollups_and_keep_the_chain(app, org,
                                                                            runner):
    device = enrol()
    items = [captured(n, answers={f"U{i}": 1 + (n + i) % 4 for i in range(1, 10)})
             for n in range(1, 31)]
    send(device, items)
    report = json.loads(runner.invoke(args=[
        "ikm", "report", "--agency", "KEC-A", "--period", "2024-05", "--format",
        "json"]).output)
    rows = {r["desk"]: r for r in report["results"]}
    assert rows[None]["n"] == 30
    live = {(r.desk_id, r.scope, r.grain, r.period_start, r.service_id): (r.n, bytes(r.stats))
            for r in db.session.scalars(select(raw.StatsRollup))}
    with write_transaction(db.session):
        raw.rebuild_rollups(db.session)
    rebuilt = {(r.desk_id, r.scope, r.grain, r.period_start, r.service_id):
               (r.n, bytes(r.stats)) for r in db.session.scalars(select(raw.StatsRollup))}
    assert rebuilt == live
    assert ledger.verify(db.session).broken is None


@pytest.mark.parametrize("schema", ["migrated", "created"])
def test_the_database_keeps_the_device_only_on_kiosk_responses_and_unchangeable(
        request, schema):
    """On a database built by the migrations as on one built from the models: a response
    names a device only on the kiosk channel, its device cannot be changed afterwards,
    and a device's reported counts are never negative."""
    from flask_migrate import upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError
    from support.factories import ORG

    from survey.core.responses import NewResponse, record_responses
    from survey.core.seed import seed_standards

    application = request.getfixturevalue("empty_app" if schema == "migrated" else "app")
    with application.app_context():
        if schema == "migrated":
            upgrade()
            seed_standards(db.session)
        ORG.create_agency(db.session, "A", "A")
        l1 = ORG.create_desk(db.session, "A", "L1", "L1")
        device, _secret = kiosks.enrol(db.session, l1, "Tablet", actor=None)
        rid = record_responses(db.session, [NewResponse(
            desk_id=l1.id, answers={"U1": 4}, submitted_at=NOW, channel="kiosk",
            device_id=device.id)])[0].response_id
        db.session.commit()
        assert db.session.get(Response, rid).device_id == device.id
        for statement in (f"UPDATE response SET device_id = NULL WHERE id = {rid}",
                          f"UPDATE response SET channel = 'qr' WHERE id = {rid}"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        with pytest.raises(IntegrityError, match="device_only_on_kiosk"):
            db.session.execute(text(
                "INSERT INTO response (id, desk_id, questionnaire_id, submitted_at, day, "
                "hour, channel, verified, flags, device_id) SELECT id + 1000, desk_id, "
                "questionnaire_id, submitted_at, day, hour, 'qr', verified, flags, device_id "
                "FROM response"))
        db.session.rollback()
        with pytest.raises(ValidationError, match="kiosk"):
            record_responses(db.session, [NewResponse(
                desk_id=l1.id, answers={"U1": 4}, submitted_at=NOW, channel="qr",
                device_id=device.id)])
        db.session.rollback()
        for column in ("waiting_reported", "refused_reported"):
            with pytest.raises(IntegrityError, match="not_negative"):
                db.session.execute(text(f"UPDATE kiosk_device SET {column} = -1"))
            db.session.rollback()
