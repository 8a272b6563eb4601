"""POST /k/<slug>/sync, the endpoint the offline kiosk sends its kept responses to: its
contract (results per response in the tablet's language, JSON errors with a code), who may
use it (only the desk's enrolled, unrevoked tablet, from this site), and the staff's view
of each device's contact."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.factories import desk, make_user
from support.web import answers, enrol_kiosk, form_fields, get, login, service_id, text

from survey.core.db import db, utcnow, write_transaction
from survey.core.models import KioskDevice, ReportingPeriod, Response
from survey.core.org import kiosks
from survey.web.devices import KIOSK_COOKIE, cookie_value

FULL = {f"U{i}": 4 for i in range(1, 10)}


def hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def item(n: int, captured: datetime | None = None, **overrides) -> dict:
    return {"key": f"tablet-{n:04d}-abcdefghij",
            "captured_at": (captured or utcnow() - timedelta(minutes=n)).isoformat(),
            "answers": dict(FULL), "service": desk().services[0].id, "sex": "L",
            "age": "20-29", "education": "-", "occupation": "", "comment": None,
            **overrides}


def batch(items: list[dict], lang: str = "id", sent_at: datetime | None = None,
          waiting: int = 0, refused: int = 0) -> dict:
    return {"lang": lang, "sent_at": (sent_at or utcnow()).isoformat(), "waiting": waiting,
            "refused": refused, "responses": items}


def sync(client, payload, slug: str | None = None, **kwargs):
    return client.post(f"/k/{slug or desk().slug}/sync", json=payload, **kwargs)


def stored() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(select(Response).order_by(Response.id)))


def statuses(response) -> list[tuple[str, str, str | None]]:
    return [(r["key"], r["status"], r["code"]) for r in response.get_json()["results"]]


@pytest.fixture
def kiosk(org, client):
    """The test client as L1's enrolled tablet; its device id."""
    return enrol_kiosk(client, desk())


def test_responses_are_stored_once_and_each_gets_its_result_in_order(client, kiosk):
    first = [item(1), item(2)]
    answer = sync(client, batch(first))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["results"] == [
        {"key": first[0]["key"], "status": "stored", "code": None, "reason": None},
        {"key": first[1]["key"], "status": "stored", "code": None, "reason": None}]
    assert abs(datetime.fromisoformat(body["server_time"]) - utcnow()) < timedelta(minutes=1)
    again = sync(client, batch([first[1], item(3)]))  # the tablet never got the answer
    assert statuses(again) == [(first[1]["key"], "duplicate", None),
                               (item(3)["key"], "stored", None)]
    rows = stored()
    assert [(r.channel, r.device_id, r.flags) for r in rows] == [("kiosk", kiosk, "")] * 3
    assert rows[0].submitted_at == hour(datetime.fromisoformat(first[0]["captured_at"]))
    assert (rows[0].sex, rows[0].age, rows[0].education, rows[0].occupation) == (
        "L", "20-29", None, None)


def test_an_invalid_response_is_refused_alone_with_its_reason_in_the_tablets_language(
        client, kiosk):
    incomplete = {k: v for k, v in FULL.items() if k != "U9"}
    for n, (lang, reason) in enumerate([("id", "Pertanyaan U9 belum dijawab."),
                                        ("en", "Question U9 was not answered.")]):
        items = [item(10 * n + 1), item(10 * n + 2, answers=incomplete), item(10 * n + 3)]
        answer = sync(client, batch(items, lang=lang))
        assert answer.status_code == 200
        results = answer.get_json()["results"]
        assert [(r["status"], r["code"]) for r in results] == [
            ("stored", None), ("refused", "answer_missing"), ("stored", None)]
        assert results[1]["reason"] == reason
    assert len(stored()) == 4


def test_a_response_dated_in_a_closed_period_is_refused_naming_the_period(client, kiosk):
    keys = {date.today().strftime("%Y-%m"), utcnow().strftime("%Y-%m")}
    for key in keys:  # the agency's (WIB) day may already be in the next month
        db.session.add(ReportingPeriod(key=key, closed_at=utcnow()))
    db.session.commit()
    answer = sync(client, batch([item(1)]))
    [result] = answer.get_json()["results"]
    assert (result["status"], result["code"]) == ("refused", "period_closed")
    assert re.search(r"Periode \d{4}-\d\d sudah ditutup", result["reason"])
    assert any(key in result["reason"] for key in keys)
    assert stored() == []


def test_a_response_kept_too_long_or_from_the_future_is_refused(client, kiosk):
    now = utcnow()
    answer = sync(client, batch([item(1, now - timedelta(days=31)),
                                 item(2, now + timedelta(hours=1)),
                                 item(3, datetime(9999, 12, 31, 23, tzinfo=UTC))], lang="en"))
    old, future, far = answer.get_json()["results"]
    assert far["code"] == "in_future" and "9999" in far["reason"]  # no WIB time: year 10000
    assert (old["status"], old["code"]) == ("refused", "too_old")
    assert "more than 30 days ago" in old["reason"] and "WIB" in old["reason"]
    assert (future["status"], future["code"]) == ("refused", "in_future")
    assert "clock is wrong" in future["reason"]
    assert stored() == []


def test_text_that_no_database_stores_is_cleaned_or_refused(client, kiosk):
    """JSON can carry half of an emoji (a lone UTF-16 surrogate), which a browser form never
    sends: in a suggestion it becomes U+FFFD, in a profile answer it is no choice."""
    answer = sync(client, batch([item(1, comment="Cepat \ud83d"), item(2, sex="\ud800")]))
    assert [(r["status"], r["code"]) for r in answer.get_json()["results"]] == [
        ("stored", None), ("refused", "bad_choice")]
    assert [r.comment for r in stored()] == ["Cepat \ufffd"]


def test_a_tablet_clock_that_is_wrong_is_corrected_by_the_time_of_sending(client, kiosk):
    now = utcnow()
    behind = now - timedelta(hours=3)  # the tablet's clock is 3 hours late
    sync(client, batch([item(1, behind - timedelta(minutes=20))], sent_at=behind))
    ahead = now + timedelta(days=2)  # ... or 2 days early: its times lie in the future
    answer = sync(client, batch([item(2, ahead - timedelta(minutes=5))], sent_at=ahead))
    assert statuses(answer) == [(item(2)["key"], "stored", None)]
    first, second = stored()
    # The server's now is a moment after the test's.
    assert first.submitted_at in {hour(now - timedelta(minutes=20 - s)) for s in (0, 1)}
    assert second.submitted_at in {hour(now - timedelta(minutes=5 - s)) for s in (0, 1)}


def test_a_heartbeat_records_the_contact_and_what_waits_on_the_tablet(client, kiosk):
    answer = sync(client, batch([], waiting=4, refused=1))
    assert answer.status_code == 200 and answer.get_json()["results"] == []
    device = db.session.get(KioskDevice, kiosk)
    db.session.refresh(device)
    assert abs(device.last_seen_at - utcnow()) < timedelta(minutes=1)
    assert device.last_sync_at is None
    assert (device.waiting_reported, device.refused_reported) == (4, 1)


def test_a_batch_over_the_limit_is_refused_whole(client, kiosk):
    answer = sync(client, batch([item(n) for n in range(26)]))
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "batch_too_large"
    assert answer.get_json()["max"] == 25
    assert answer.get_json()["message"] == "Kirim paling banyak 25 jawaban sekaligus."
    english = sync(client, batch([item(n) for n in range(26)], lang="en"))
    assert english.get_json()["message"] == "Send at most 25 responses at a time."
    padded = {**batch([item(1)]), "padding": "x" * 300_000}
    assert sync(client, padded).status_code == 413
    assert stored() == []


@pytest.mark.parametrize("headers", [
    {"data": "lang=id", "content_type": "application/x-www-form-urlencoded"},
    {"data": '{"responses": []}', "content_type": "text/plain"},
])
def test_only_json_is_accepted(client, kiosk, headers):
    answer = client.post(f"/k/{desk().slug}/sync", **headers)
    assert answer.status_code == 415
    assert answer.get_json()["error"] == "unsupported_media_type"
    assert answer.get_json()["message"] == "Jawaban harus dikirim sebagai JSON."


def test_a_request_from_another_site_is_refused(client, kiosk):
    foreign = sync(client, batch([item(1)]), headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.get_json()["error"] == "foreign_origin"
    assert stored() == []
    own = sync(client, batch([item(1)]), headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and len(stored()) == 1


def test_only_the_desks_enrolled_tablet_may_send(org, app, client, kiosk):
    device = db.session.get(KioskDevice, kiosk)
    other_desk_tablet = app.test_client()
    enrol_kiosk(other_desk_tablet, desk("L2"))
    strangers = {"no cookie": app.test_client(), "another desk's tablet": other_desk_tablet}
    for name, value in {"tampered": cookie_value(device.id, "s")[:-2] + "xx",
                        "wrong secret": cookie_value(device.id, "guessed-secret")}.items():
        strangers[name] = app.test_client()
        strangers[name].set_cookie(KIOSK_COOKIE, value, path="/k/")
    for name, stranger in strangers.items():
        answer = sync(stranger, batch([item(1)]))
        assert answer.status_code == 401, name
        assert answer.get_json()["error"] == "not_enrolled", name
        assert "tidak terdaftar sebagai kios loket ini" in answer.get_json()["message"]
    assert stored() == []


def test_a_revoked_tablet_stores_nothing(client, kiosk):
    with write_transaction(db.session):
        kiosks.revoke(db.session, kiosk, actor=None)
    answer = sync(client, batch([item(1)], lang="en"))
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "kiosk_revoked"
    assert "revoked" in answer.get_json()["message"]
    assert stored() == []


def test_a_closed_desk_or_an_unknown_one(client, kiosk):
    unknown = sync(client, batch([item(1)]), slug="NoSuchDesk123")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_desk"
    with write_transaction(db.session):
        desk().active = False
    answer = sync(client, batch([item(1)]))
    assert answer.status_code == 410 and answer.get_json()["error"] == "desk_closed"
    assert stored() == []


MALFORMED = "Kiriman jawaban tidak dapat dibaca; tidak ada yang disimpan."


@pytest.mark.parametrize("change", [
    {"responses": "none"},
    {"responses": None},
    {"sent_at": "yesterday"},
    {"sent_at": "2024-05-01T10:00:00"},  # no offset
    {"sent_at": None},
    {"sent_at": "0001-01-01T00:00:00+14:00"},  # the year 0 in UTC
    {"waiting": -1},
    {"refused": "2"},
    {"waiting": True},
])
def test_a_malformed_batch_is_refused_whole(client, kiosk, change):
    answer = sync(client, {**batch([item(1)]), **change})
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"] == "malformed"
    assert answer.get_json()["message"] == MALFORMED
    assert stored() == []


@pytest.mark.parametrize("change", [
    {"key": None}, {"key": "short"}, {"key": "k" * 65}, {"key": "bad key with spaces!"},
    {"key": "abcdefghijklmnop\n"}, {"captured_at": "2024-13-01T10:00:00+07:00"},
    {"captured_at": "2024-05-01"}, {"captured_at": 1714532400},
    {"captured_at": "9999-12-31T23:59:59-14:00"}, {"answers": {"U1": "4"}},
    {"answers": {"U1": True}}, {"answers": {"U1": 3.0}}, {"answers": [4, 4]},
    {"service": "1"}, {"service": True}, {"sex": 1}, {"comment": ["a"]},
])
def test_a_malformed_response_refuses_the_whole_batch(client, kiosk, change):
    answer = sync(client, batch([item(1), {**item(2), **change}]))
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"] == "malformed"
    assert "response 2" in answer.get_json()["detail"]
    assert stored() == []


@pytest.mark.parametrize("body", ["[]", '"responses"', "3", "null", "{not json", "[[[[["])
def test_a_body_that_is_not_an_object(client, kiosk, body):
    answer = client.post(f"/k/{desk().slug}/sync", data=body,
                         content_type="application/json; charset=utf-8")
    assert answer.status_code == 400 and answer.get_json()["message"] == MALFORMED


@pytest.mark.parametrize("app_config", [{"SURVEY_SYNC_RATE_LIMIT": "3 per minute"}])
def test_requests_are_limited_per_tablet(app, client, kiosk):
    for _ in range(3):
        assert sync(client, batch([])).status_code == 200
    limited = sync(client, batch([]))
    assert limited.status_code == 429 and limited.get_json()["error"] == "rate_limited"
    assert limited.headers.get("Retry-After")
    other = app.test_client()
    enrol_kiosk(other, desk(), "Tablet 2")
    assert sync(other, batch([])).status_code == 200  # another tablet has its own count


def test_the_online_kiosk_form_stores_its_device_too(client, kiosk):
    page = get(client, f"/k/{desk().slug}").get_data(as_text=True)
    sent = client.post(f"/k/{desk().slug}", data={
        **form_fields(page), **answers(4), "service": service_id(page)})
    assert sent.status_code == 303
    [row] = stored()
    assert (row.channel, row.device_id) == ("kiosk", kiosk)


def test_staff_see_each_tablets_contact_and_the_revoked_ones(org, app, client, kiosk):
    sync(client, batch([item(1), item(2), item(3, answers={"U1": 4})], waiting=4, refused=1))
    spare = app.test_client()
    spare_id = enrol_kiosk(spare, desk(), "Tablet cadangan")
    with write_transaction(db.session):
        kiosks.revoke(db.session, spare_id, actor=None)
    make_user(org, "staff@a.go.id", "desk_staff", ["KEC-A"])
    staff = app.test_client()
    login(staff, "staff@a.go.id")
    page = text(get(staff, f"/loket/{desk().id}/kios"))
    assert "tanpa koneksi internet" in page  # the kiosk works offline, the page says
    enrolled, revoked = page.split("<h2>Perangkat yang dicabut</h2>")
    head = re.search(r"<thead>(.*?)</thead>", enrolled, re.S).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == [
        "Perangkat", "Didaftarkan", "Terakhir terhubung", "Terakhir mengirim", "Menunggu",
        "Ditolak", "Tersimpan", ""]
    row = re.search(r"<tr><td>Tablet 1</td>(.*?)</tr>", enrolled, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1].endswith("WIB") and cells[2].endswith("WIB")  # last seen, last sync
    assert cells[3:6] == ["4", "1", "2"]  # waiting, refused, stored
    assert "Tablet cadangan" in revoked and "Tablet cadangan" not in enrolled
    assert db.session.scalar(select(func.count()).select_from(Response)) == 2


@pytest.mark.slow
def test_the_same_batch_sent_ten_times_at_once_is_stored_once(app, org, tmp_path):
    """Two tabs, a retry timer and a flaky connection: the same batch arrives at several
    server processes at once. Every response is stored exactly once, and every answer
    says stored or duplicate for each of them."""
    import requests
    from support.factories import SetupMark
    from support.live_server import gunicorn
    from test_concurrency import assert_linear_chain, fire

    with write_transaction(db.session):
        device, secret = kiosks.enrol(db.session, desk(), "Tablet", actor=None)
    SetupMark.take(db.session)  # the enrolment's audit link comes before the responses
    cookie = cookie_value(device.id, secret)
    payload = batch([item(n) for n in range(1, 21)])
    path = f"/k/{desk().slug}/sync"
    instance = tmp_path / "server"
    instance.mkdir()
    with gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], instance, workers=4) as base:
        def send():
            session = requests.Session()
            session.cookies.set(KIOSK_COOKIE, cookie, domain="127.0.0.1", path="/k/")
            return session.post(base + path, json=payload, timeout=60)

        answers_ = fire([send for _ in range(10)], 10)
    assert [a.status_code for a in answers_] == [200] * 10
    for n in range(20):
        seen = [a.json()["results"][n]["status"] for a in answers_]
        assert seen.count("stored") == 1 and seen.count("duplicate") == 9, seen
    db.session.rollback()
    assert sorted(r.idempotency_key for r in stored()) == sorted(
        i["key"] for i in payload["responses"])
    assert assert_linear_chain() == 20


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=12)
EVIL_TEXT = ["\ud800", "a\udfffb", "\x00", "U1", "L", "20-29", "-", ""]
EVIL_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-02-30T10:00Z",
              "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:00.123456789+07:00", "", "Z",
              "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"]
FIELDS = ["key", "captured_at", "answers", "service", "sex", "age", "education",
          "occupation", "comment"]
TOP = ["lang", "sent_at", "waiting", "refused", "responses"]


@pytest.mark.parametrize("app_config", [{"SURVEY_SYNC_RATE_LIMIT": "1000000 per minute"}])
def test_crafted_batches_never_fail_the_server(client, kiosk):
    """Any JSON in any field of a batch: a 200 with one result per response, or a JSON
    refusal; never a server error."""

    @settings(max_examples=int(os.environ.get("SURVEY_FUZZ_EXAMPLES", "300")) // 5,
              deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data):
        payload = batch([item(n) for n in range(3)])
        for _ in range(data.draw(st.integers(1, 3))):
            value = data.draw(st.one_of(JSON, st.sampled_from(EVIL_TIMES + EVIL_TEXT)))
            if data.draw(st.booleans()):
                payload[data.draw(st.sampled_from(TOP))] = value
            elif isinstance(payload["responses"], list) and payload["responses"] and \
                    isinstance(payload["responses"][0], dict):
                target = payload["responses"][data.draw(st.integers(
                    0, len(payload["responses"]) - 1))]
                if isinstance(target, dict):
                    target[data.draw(st.sampled_from(FIELDS))] = value
        answer = sync(client, payload)
        assert answer.status_code in (200, 400, 413), (answer.status_code, payload)
        body = answer.get_json()
        if answer.status_code == 200:
            assert len(body["results"]) == len(payload["responses"])
            for result in body["results"]:
                assert result["status"] in ("stored", "duplicate", "refused")
                assert (result["reason"] is None) == (result["status"] != "refused")
        else:
            assert body["error"] and body["message"]

    probe()
