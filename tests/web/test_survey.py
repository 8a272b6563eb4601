"""The citizen survey through the test client, with CSRF protection on, in both
languages: desk links, the form, validation, forged input, idempotency, thank-you page,
ballot-stuffing flags, kiosk mode and one-time tickets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.factories import desk, receipt_of
from support.web import answers, enrol_kiosk, open_form, service_id

from survey.core import tickets
from survey.core.db import db, utcnow
from survey.core.models import ChainEntry, Response, StatsRollup, Ticket


@pytest.fixture
def app_config():
    """The app with a 0-second minimum fill time, so the form can be sent at test speed
    (the too_fast signal has its own test)."""
    return dict(SURVEY_MIN_FILL_SECONDS=0)


def stored() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Response))


def submit(client, url, extra=None, score=3, fields=None):
    html, hidden = open_form(client, url)
    data = {**hidden, **answers(score), "service": service_id(html)}
    if fields:
        data.update(fields)
    data.update(extra or {})
    return client.post(url, data=data), data


def test_form_shows_nine_questions_with_four_labelled_answers(org, client):
    d = desk()
    html, _ = open_form(client, f"/s/{d.slug}")
    for i in range(1, 10):
        assert len(re.findall(rf'name="U{i}" value="[1-4]"', html)) == 4
    assert "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan" in html
    assert "Sangat sesuai" in html and "Dikelola dengan baik" in html
    for name in ("service", "sex", "age", "education", "occupation", "comment"):
        assert f'name="{name}"' in html
    assert 'maxlength="1000"' in html
    assert html.count("Memilih tidak menjawab") == 4  # "prefer not to say" on each profile
    assert 'lang="id"' in html


def test_form_in_english(org, client):
    d = desk()
    client.get("/bahasa/en")
    html, _ = open_form(client, f"/s/{d.slug}")
    assert 'lang="en"' in html
    assert "How well do the service requirements match" in html
    assert "Very appropriate" in html and "Prefer not to say" in html


def test_every_control_has_a_label(org, client):
    html, _ = open_form(client, f"/s/{desk().slug}")
    for select_id in re.findall(r'<select name="[^"]+" id="([^"]+)"', html):
        assert f'<label for="{select_id}">' in html
    assert '<label for="comment">' in html
    # each radio sits inside its label, each question is a fieldset with a legend
    assert html.count("<fieldset class=\"q") == html.count("<legend>") - 1


def test_unknown_desk_404_and_closed_desk_410(org, client):
    assert client.get("/s/this-desk-does-not-exist").status_code == 404
    d = desk()
    d.active = False
    db.session.commit()
    page = client.get(f"/s/{d.slug}")
    assert page.status_code == 410 and "ditutup" in page.get_data(as_text=True)
    assert client.get(f"/k/{d.slug}").status_code == 410


def test_submit_stores_and_shows_the_receipt_once_never_in_a_url(org, client):
    d = desk()
    response, _data = submit(client, f"/s/{d.slug}", {"sex": "P", "age": "30-39",
                                                     "education": "S1", "occupation": "-",
                                                     "comment": "Pelayanan cepat."})
    assert response.status_code == 303
    assert response.headers["Location"] == "/selesai"  # a fixed address, no receipt in it
    stored_response = db.session.scalar(select(Response))
    assert (stored_response.channel, stored_response.verified) == ("qr", False)
    assert (stored_response.sex, stored_response.age, stored_response.education,
            stored_response.occupation) == ("P", "30-39", "S1", None)
    assert stored_response.comment == "Pelayanan cepat."
    assert stored_response.flags == ""
    receipt = receipt_of(stored_response.id)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", receipt)
    chain_hash = db.session.scalar(select(ChainEntry.hash).where(ChainEntry.kind == "response"))
    assert receipt.replace("-", "").lower() not in chain_hash  # not a prefix of anything
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert receipt in thanks and "Terima kasih" in thanks
    again = client.get("/selesai").get_data(as_text=True)
    assert receipt not in again and "Terima kasih" in again  # shown once
    assert "lapor.go.id" not in thanks  # answers were fine
    assert "skm_recent=" in response.headers.get("Set-Cookie", "")


def test_low_answers_point_to_lapor(org, client):
    response, _ = submit(client, f"/s/{desk().slug}", score=1)
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SP4N-LAPOR!" in thanks and "https://www.lapor.go.id" in thanks


def test_missing_answer_rerenders_with_message_and_stores_nothing(org, client):
    url = f"/s/{desk().slug}"
    html, hidden = open_form(client, url)
    data = {**hidden, **answers(4), "service": service_id(html), "comment": "isi saran"}
    del data["U5"]
    page = client.post(url, data=data)
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Silakan pilih jawaban." in text
    assert 'href="#q-U5"' in text
    assert 'name="U1" value="4" required checked' in text  # answers kept
    assert "isi saran" in text
    assert stored() == 0


def test_the_error_summary_names_each_unanswered_question_and_links_to_it(org, client):
    url = f"/s/{desk().slug}"
    blank, hidden = open_form(client, url)
    elements = re.findall(r'<fieldset class="q" id="q-(U\d+)">\s*<legend><b>(\d+)\.</b>',
                          blank)
    assert [code for code, _n in elements] == [f"U{i}" for i in range(1, 10)]
    data = {**hidden, **answers(4)}
    del data["U2"], data["U7"]  # and no service
    page = client.post(url, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    summary = re.search(r'<div class="errors" role="alert"[^>]*>(.*?)</div>', html, re.S)
    items = re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', summary.group(1))
    assert [target for target, _text in items] == ["q-U2", "q-U7", "q-service"]
    assert items[0][1] == "Pertanyaan 2 (Sistem, Mekanisme, dan Prosedur): Silakan pilih jawaban."
    assert items[1][1].startswith("Pertanyaan 7 (") and items[1][1] != items[0][1]
    assert items[2][1] == "Layanan yang Anda terima: Silakan pilih layanan yang Anda terima."
    for code in ("U2", "U7"):  # each target is the question's fieldset, with its own error
        fieldset = re.search(rf'<fieldset class="q invalid" id="q-{code}" '
                             rf'aria-describedby="e-{code}">(.*?)</fieldset>', html, re.S)
        assert fieldset and f'<p class="err" id="e-{code}">Silakan pilih jawaban.</p>' in \
            fieldset.group(1)
    assert html.count("Silakan pilih jawaban.") == 4  # twice in the summary, once each
    assert len(html.encode()) - len(blank.encode()) < 2048  # the page stays light
    assert "<script" not in summary.group(1)  # plain links: works without JavaScript
    assert stored() == 0


def test_validation_messages_in_english(org, client):
    client.get("/bahasa/en")
    url = f"/s/{desk().slug}"
    _html, hidden = open_form(client, url)
    page = client.post(url, data={**hidden, **answers(3)})  # no service chosen
    assert page.status_code == 422
    assert "Please choose the service you received." in page.get_data(as_text=True)
    assert stored() == 0


def test_too_long_suggestion_is_a_validation_error(org, client):
    response, _ = submit(client, f"/s/{desk().slug}", {"comment": "x" * 1001})
    assert response.status_code == 422
    assert stored() == 0


@pytest.mark.parametrize("change", [
    {"U1": "5"}, {"U1": "0"}, {"U9": "4.0"}, {"U10": "3"}, {"u2": "3"},
    {"service": "999999"}, {"sex": "X"}, {"age": "12"}, {"idempotency_key": "short"},
    {"favourite_colour": "blue"},
])
def test_forged_input_is_400_and_stores_nothing(org, client, change):
    response, _ = submit(client, f"/s/{desk().slug}", change)
    assert response.status_code == 400
    assert stored() == 0


def test_field_sent_twice_is_forged(org, client):
    url = f"/s/{desk().slug}"
    html, hidden = open_form(client, url)
    from werkzeug.datastructures import MultiDict

    body = MultiDict([*hidden.items(), *answers(3).items(), ("service", service_id(html)),
                      ("U1", "4")])
    assert client.post(url, data=body).status_code == 400
    assert stored() == 0


def test_post_to_unknown_desk_is_400(org, client):
    _html, hidden = open_form(client, f"/s/{desk().slug}")
    assert client.post("/s/forged-desk-slug-1234", data={**hidden, **answers(3)}
                       ).status_code == 400
    assert stored() == 0


def test_service_of_another_desk_is_forged(org, client):
    org.create_agency(db.session, "KEC-B", "B")
    org.create_desk(db.session, "KEC-B", "L1", "B1")
    other = org.create_service(db.session, "KEC-B", "S", "S", desk_codes=["L1"])
    db.session.commit()
    response, _ = submit(client, f"/s/{desk(agency='KEC-A').slug}", {"service": str(other.id)})
    assert response.status_code == 400 and stored() == 0


def test_without_csrf_token_nothing_is_stored(org, client):
    url = f"/s/{desk().slug}"
    html, hidden = open_form(client, url)
    del hidden["csrf_token"]
    page = client.post(url, data={**hidden, **answers(3), "service": service_id(html)})
    assert page.status_code == 400
    assert "kedaluwarsa" in page.get_data(as_text=True)
    assert stored() == 0


def test_same_idempotency_key_stores_once_and_shows_the_same_receipt(org, client):
    url = f"/s/{desk().slug}"
    first, data = submit(client, url)
    again = client.post(url, data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert stored() == 1
    assert "Terima kasih" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_idempotency_key_reused_at_another_desk_conflicts(org, client):
    _first, data = submit(client, f"/s/{desk('L1').slug}")
    _html, hidden = open_form(client, f"/s/{desk('L2').slug}")
    data = {**data, "csrf_token": hidden["csrf_token"]}
    response = client.post(f"/s/{desk('L2').slug}", data=data)
    assert response.status_code == 409
    assert stored() == 1


def test_personal_numbers_masked_and_the_citizen_is_told(org, client):
    response, _ = submit(client, f"/s/{desk().slug}",
                         {"comment": "hubungi 081234567890 ya"})
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "disamarkan" in thanks
    assert db.session.scalar(select(Response.comment)) == "hubungi ************ ya"


def test_the_old_receipt_address_no_longer_exists(client):
    assert client.get("/selesai/ABCDE-12345").status_code == 404


# --- ballot-stuffing signals -------------------------------------------------------------


def flags() -> list[str]:
    db.session.expire_all()
    return [r.flags for r in db.session.scalars(select(Response).order_by(Response.id))]


def test_repeat_from_the_same_browser_is_flagged_not_refused(org, client):
    url = f"/s/{desk().slug}"
    assert submit(client, url)[0].status_code == 303
    assert submit(client, url)[0].status_code == 303
    assert flags() == ["", "cooldown"]
    other = submit(client, f"/s/{desk('L2').slug}")[0]  # another desk: no cooldown
    assert other.status_code == 303 and flags()[-1] == ""


def test_cooldown_ends(org, client, app):
    app.config["SURVEY_COOLDOWN_MINUTES"] = 0
    url = f"/s/{desk().slug}"
    submit(client, url)
    submit(client, url)
    assert flags() == ["", ""]


def test_honeypot_and_fast_fill_are_flagged(org, client, app):
    submit(client, f"/s/{desk().slug}", {"website": "http://spam.example"})
    assert flags() == ["honeypot"]
    app.config["SURVEY_MIN_FILL_SECONDS"] = 8
    fresh = app.test_client()
    r = submit(fresh, f"/s/{desk('L2').slug}")[0]
    assert r.status_code == 303, r.get_data(as_text=True)
    assert flags()[-1] == "too_fast"
    fresh2 = app.test_client()
    submit(fresh2, f"/s/{desk('L2').slug}", {"t": "forged.token"})
    assert flags()[-1] == "too_fast"


def test_bursts_at_one_desk_are_flagged(org, app):
    app.config["SURVEY_BURST_LIMIT"] = 3
    for _ in range(5):
        submit(app.test_client(), f"/s/{desk().slug}")
    assert flags() == ["", "", "", "burst", "burst"]


def test_flagged_responses_are_kept_out_of_the_clean_rollups(org, client):
    url = f"/s/{desk().slug}"
    submit(client, url)
    submit(client, url)  # cooldown
    scopes = dict(db.session.execute(
        select(StatsRollup.scope, StatsRollup.n).where(StatsRollup.grain == "M",
                                                       StatsRollup.service_id == 0)).all())
    assert scopes == {"clean": 1, "flagged": 1}


def test_kiosk_has_no_cooldown_and_returns_to_a_fresh_form(org, client):
    url = f"/k/{desk().slug}"
    enrol_kiosk(client, desk())
    first, _ = submit(client, url)
    second, _ = submit(client, url)
    assert first.status_code == second.status_code == 303
    assert "skm_recent" not in first.headers.get("Set-Cookie", "")
    assert flags() == ["", ""]
    assert {r.channel for r in db.session.scalars(select(Response))} == {"kiosk"}
    thanks = client.get(second.headers["Location"]).get_data(as_text=True)
    # back to a fresh form in the default language, for the next citizen
    assert f'content="10;url=/bahasa/id?next=/k/{desk().slug}"' in thanks
    assert 'href="https://www.lapor.go.id"' not in thanks  # a kiosk must not navigate away
    assert 'class="survey kiosk"' in thanks


def test_submissions_are_rate_limited_per_address(org, app):
    app.config["SUBMIT_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    url = f"/s/{desk().slug}"
    codes = [submit(client, url)[0].status_code for _ in range(3)]
    assert codes == [303, 303, 429]
    assert stored() == 2


# --- one-time tickets ------------------------------------------------------------------


def issue_ticket(hours=24, now=None) -> str:
    token = tickets.issue(db.session, desk(), 1, hours, now=now)[0]
    db.session.commit()
    return token


def test_ticket_gives_a_verified_response_once(org, client):
    token = issue_ticket()
    assert len(token) >= 22 and db.session.scalar(select(Ticket.token_hash)) != token
    first, data = submit(client, f"/t/{token}")
    assert first.status_code == 303
    response = db.session.scalar(select(Response))
    assert (response.channel, response.verified, response.flags) == ("ticket", True, "")
    assert db.session.scalar(select(Ticket.used_at)) is not None
    # The ticket is spent: opening it again or posting a new form says so.
    page = client.get(f"/t/{token}")
    assert page.status_code == 409 and "sudah digunakan" in page.get_data(as_text=True)
    again = client.post(f"/t/{token}", data={**data, "idempotency_key": "n" * 20})
    assert again.status_code == 409
    assert stored() == 1


def test_ticket_double_tap_replays_instead_of_409(org, client):
    token = issue_ticket()
    first, data = submit(client, f"/t/{token}")
    again = client.post(f"/t/{token}", data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert stored() == 1


def test_expired_and_unknown_tickets(org, client):
    token = issue_ticket(hours=1, now=utcnow() - timedelta(hours=2))
    expired = client.get(f"/t/{token}")
    assert expired.status_code == 410 and "kedaluwarsa" in expired.get_data(as_text=True)
    assert client.get("/t/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert stored() == 0


def test_responses_never_point_back_to_tickets(app):
    assert "ticket_id" not in Response.__table__.columns
    assert not any(fk.column.table.name == "response" for fk in Ticket.__table__.foreign_keys)
