"""Ballot stuffing made harder: kiosk devices enrolled by staff, one response per copy of
the form, and a signal for the same answers arriving too often at one desk. Signals only
flag (the response is stored and kept out of the clean index until a reviewer releases
it); nothing is refused or deleted for them."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.factories import desk, make_user
from support.web import answers, csrf_from, enrol_kiosk, form_fields, get, login, service_id, text

from survey.core.db import db
from survey.core.models import AuditEvent, KioskDevice, Response
from survey.web.devices import KIOSK_COOKIE, cookie_value


@pytest.fixture
def app_config():
    # A bot that waits out the fill time is simulated by a fill time of 0 s.
    return {"SURVEY_MIN_FILL_SECONDS": 0, "SUBMIT_RATE_LIMIT": "1000000 per minute"}


def stored() -> list[tuple[str, str]]:
    """(channel, flags) of every response, in order."""
    db.session.expire_all()
    return [(r.channel, r.flags) for r in db.session.scalars(
        select(Response).order_by(Response.id))]


def open_and_post(client, url: str, score: int = 4, **extra):
    """Open the survey at `url` as a browser does (following a redirect) and send it."""
    page = client.get(url, follow_redirects=True)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    body = {**form_fields(html), **answers(score), "service": service_id(html), **extra}
    return client.post(page.request.path, data=body)


def test_a_kiosk_address_on_a_browser_that_is_not_enrolled_is_the_ordinary_survey(
        org, client):
    url = f"/k/{desk().slug}"
    page = client.get(url)
    assert page.status_code == 302 and page.headers["Location"] == f"/s/{desk().slug}"
    first = open_and_post(client, url, score=3)  # follows to the QR form and posts it
    assert first.status_code == 303
    body = {**form_fields(get(client, f"/s/{desk().slug}").get_data(as_text=True)),
            **answers(2), "service": str(desk().services[0].id)}
    again = client.post(url, data=body)  # a POST to the kiosk address itself
    assert again.status_code == 303
    assert stored() == [("qr", ""), ("qr", "cooldown")]


def test_staff_enrol_a_tablet_which_then_answers_as_the_kiosk(org, app, client):
    make_user(org, "staff@a.go.id", "desk_staff", ["KEC-A"])
    login(client, "staff@a.go.id")
    page = get(client, f"/loket/{desk().id}/kios")
    assert page.status_code == 200 and "Daftarkan perangkat ini sebagai kios" in text(page)
    enrolled = client.post(f"/loket/{desk().id}/kios", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "name": "Tablet pintu keluar"})
    assert enrolled.status_code == 303 and enrolled.headers["Location"] == f"/k/{desk().slug}"
    assert get(client, "/loket/").status_code == 302  # the staff member is signed out here
    for score in (4, 3, 4):
        assert open_and_post(client, f"/k/{desk().slug}", score).status_code == 303
    assert stored() == [("kiosk", "")] * 3  # no cooldown on a kiosk
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "kiosk_enrolled"))
    assert event.target == "KEC-A/L1" and event.details["name"] == "Tablet pintu keluar"
    [device] = db.session.scalars(select(KioskDevice))
    assert len(device.secret_hash) == 64  # only a hash of the device's secret is kept


def test_a_device_is_a_kiosk_only_for_its_desk_and_until_revoked(org, app, client):
    device_id = enrol_kiosk(client, desk("L1"))
    assert client.get(f"/k/{desk('L2').slug}").status_code == 302  # not L2's kiosk
    forged = app.test_client()
    forged.set_cookie(KIOSK_COOKIE, cookie_value(device_id, "guessed"), path="/k/")
    assert forged.get(f"/k/{desk('L1').slug}").status_code == 302

    make_user(org, "manager@a.go.id", "agency_manager", ["KEC-A"])
    manager = app.test_client()
    login(manager, "manager@a.go.id")
    page = get(manager, f"/loket/{desk().id}/kios")
    assert "Tablet 1" in text(page)
    revoked = manager.post(f"/loket/{desk().id}/kios/{device_id}/cabut",
                           data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert revoked.status_code == 303
    assert "tidak lagi menjadi kios" in text(get(manager, revoked.headers["Location"]))
    # The revoked tablet says so and takes no answers (what it keeps waits for a new
    # enrolment); a response posted from it anyway counts as an ordinary QR response.
    notice = client.get(f"/k/{desk().slug}")
    assert notice.status_code == 200 and "tidak lagi menjadi kios" in text(notice)
    assert 'id="survey"' not in text(notice)
    form = get(client, f"/s/{desk().slug}").get_data(as_text=True)
    body = {**form_fields(form), **answers(4), "service": service_id(form)}
    assert client.post(f"/k/{desk().slug}", data=body).status_code == 303
    assert stored() == [("qr", "")]  # counted as an ordinary QR response from now on
    assert db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "kiosk_revoked"))["device"] == device_id


def test_staff_of_another_agency_cannot_see_or_revoke_a_kiosk(org, app, client):
    device_id = enrol_kiosk(app.test_client(), desk("L1"))
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    db.session.commit()
    make_user(org, "staff@b.go.id", "desk_staff", ["KEC-B"])
    login(client, "staff@b.go.id")
    assert get(client, f"/loket/{desk().id}/kios").status_code == 404
    token = csrf_from(get(client, "/auth/sandi").get_data(as_text=True))
    answer = client.post(f"/loket/{desk().id}/kios/{device_id}/cabut",
                         data={"csrf_token": token})
    assert answer.status_code == 404
    assert db.session.get(KioskDevice, device_id).revoked_at is None


def test_one_copy_of_the_form_counts_once(org, app):
    """A bot loads the form once, waits, and posts it again and again without cookies,
    each time with a new idempotency key: only the first is unflagged."""
    bot = app.test_client()
    html = get(bot, f"/s/{desk().slug}").get_data(as_text=True)
    body = {**form_fields(html), **answers(4), "service": service_id(html)}
    for n in range(4):
        fresh = app.test_client()  # an empty cookie jar every time
        fresh.set_cookie("session", bot.get_cookie("session").value)  # the CSRF session
        sent = fresh.post(f"/s/{desk().slug}",
                          data={**body, "idempotency_key": f"bot-key-{n:04d}-xxxxxxxx"})
        assert sent.status_code == 303
    assert stored() == [("qr", "")] + [("qr", "replay")] * 3


def test_the_same_answers_too_often_at_one_desk_are_flagged(org, app):
    """Straight-lining is common and honest, so the same answers may arrive a few times;
    beyond SURVEY_PATTERN_LIMIT within the window they are flagged. Other answers and
    other desks are not affected."""
    app.config["SURVEY_PATTERN_LIMIT"] = 3
    for _ in range(5):
        assert open_and_post(app.test_client(), f"/s/{desk().slug}", 4).status_code == 303
    open_and_post(app.test_client(), f"/s/{desk().slug}", 3)
    open_and_post(app.test_client(), f"/s/{desk('L2').slug}", 4)
    assert [f for _c, f in stored()] == ["", "", "", "pattern", "pattern", "", ""]


def test_installations_sharing_one_counter_store_count_only_their_own_desks(org, app):
    """Two installations on one Redis, each with its RATELIMIT_KEY_PREFIX, number their
    desks alike (both have a desk 1). The burst counter of one must not flag the other's
    responses, as their rate limits do not count each other's citizens."""
    app.config["SURVEY_BURST_LIMIT"] = 2
    url = f"/s/{desk().slug}"
    for prefix in ("skm-kota", "skm-kota", "skm-kabupaten", "skm-kota"):
        app.config["RATELIMIT_KEY_PREFIX"] = prefix  # the other installation, same store
        assert open_and_post(app.test_client(), url, 4 if prefix == "skm-kota" else 3
                             ).status_code == 303
    assert [f for _c, f in stored()] == ["", "", "", "burst"]


@pytest.mark.parametrize("vary", [False, True], ids=["same answers", "random answers"])
def test_fifty_bot_posts_through_the_kiosk_address(org, app, vary):
    """The attack of the issue: 50 posts, each from an empty cookie jar that opened the
    kiosk address and waited out the fill time. Before: 21 of 50 unflagged (no cooldown
    on the kiosk address, no other signal). Now the kiosk address is the QR survey, the
    same answers are flagged after SURVEY_PATTERN_LIMIT (5), and different answers after
    the desk's burst limit (20 in 5 minutes)."""
    import random

    rng = random.Random(7)
    for _ in range(50):
        bot = app.test_client()
        page = get(bot, f"/k/{desk().slug}")
        page = get(bot, page.headers["Location"])
        html = page.get_data(as_text=True)
        scores = {f"U{i}": str(rng.randint(1, 4) if vary else 4) for i in range(1, 10)}
        sent = bot.post(f"/k/{desk().slug}", data={**form_fields(html), **scores,
                                                   "service": service_id(html)})
        assert sent.status_code == 303
    flags = [f for _c, f in stored()]
    assert len(flags) == 50 and {c for c, _f in stored()} == {"qr"}
    assert flags.count("") == (20 if vary else 5)


def test_a_device_needs_a_name(org, client):
    make_user(org, "staff@a.go.id", "desk_staff", ["KEC-A"])
    login(client, "staff@a.go.id")
    page = get(client, f"/loket/{desk().id}/kios")
    answer = client.post(f"/loket/{desk().id}/kios", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "name": "   "})
    assert answer.status_code == 422
    assert "Beri nama perangkat, paling banyak 80 karakter." in text(answer)
    assert db.session.scalar(select(KioskDevice.id)) is None
    assert get(client, "/loket/").status_code == 200  # still signed in
