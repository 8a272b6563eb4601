"""Hypothesis-generated submissions to the citizen form through the test client, with CSRF
protection on: the QR link, the kiosk link and one-time tickets.

Each generated body starts as what the real form sends and gets zero to four mutations:
junk scores ("5", "3.0", " 3", unicode digits, NUL, very long strings), missing and
duplicated fields, unknown fields (U10, u1, ...), services of another desk, of another
agency or no longer offered, profile junk, suggestions around the 1,000-character limit
with NIK- and phone-like numbers, idempotency keys valid, invalid and reused, the
served-time field `t`, the honeypot `website`, and a missing, foreign or mangled CSRF
token. Bodies go out URL-encoded or as multipart, and a second test mangles the raw bytes.

An oracle written from the form's public contract (survey/public/forms.py, the README)
says what must happen, from the fields as Werkzeug hands them to the app: 413 for a body
over MAX_CONTENT_LENGTH, 400 without the session's CSRF token or for anything the form
cannot produce, 422 for what a person can get wrong, 404/409/410 for bad links and
tickets, otherwise 303 and exactly one stored response, as sent (none for a replayed
idempotency key, which shows the first receipt again). Whatever the body, the server never
answers 5xx and stores nothing unless it answered 303.

SURVEY_FUZZ_EXAMPLES scales the number of examples (default 2,000 over the three tests).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from itsdangerous import BadData
from itsdangerous.encoding import base64_decode
from sqlalchemy import func, select
from support.factories import SetupMark, desk, receipt_of
from support.web import enrol_kiosk, forget_request_state, form_fields
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder, encode_multipart
from werkzeug.wrappers import Request

from survey.core import tickets
from survey.core.db import db, utcnow
from survey.core.models import (
    AGE_BANDS,
    EDUCATIONS,
    OCCUPATIONS,
    SEXES,
    ChainEntry,
    Element,
    Response,
    Ticket,
)
from survey.web.respond import signals
from survey.web.respond.signals import COOLDOWN_COOKIE

SCALE = float(os.environ.get("SURVEY_FUZZ_EXAMPLES", "2000")) / 2000


def examples(n: int) -> settings:
    return settings(max_examples=max(1, round(n * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


ELEMENTS = [f"U{i}" for i in range(1, 10)]
SCORES = ["1", "2", "3", "4"]
PROFILE = {"sex": SEXES, "age": AGE_BANDS, "education": EDUCATIONS, "occupation": OCCUPATIONS}
KNOWN = {"csrf_token", "idempotency_key", "t", "website", "service", "comment", *PROFILE}
COMMENT_MAX = 1000
MAX_BODY = 64 * 1024  # MAX_CONTENT_LENGTH
FORM = "application/x-www-form-urlencoded"
# NIK and phone numbers: no run of 10 or more digits survives. (8 and 9 digits are masked
# too unless they are a date, a time range or a year range: tests/core/test_privacy.py.)
PERSONAL_NUMBER = re.compile(r"\d(?:[ .\-]?\d){9,}")


@pytest.fixture
def app_config():
    """The app with a 0-second minimum fill time and the rate limits out of the way (they
    have their own tests in test_survey.py)."""
    return dict(SURVEY_MIN_FILL_SECONDS=0, SUBMIT_RATE_LIMIT="1000000 per minute",
                SURVEY_BURST_LIMIT=1_000_000, SURVEY_PATTERN_LIMIT=1_000_000)


@dataclass
class World:
    """The organisation the fuzzer posts to, and a CSRF token of another browser."""

    desks: dict  # "L1", "L2", "closed" -> Desk
    services: dict[str, int]  # name -> service id
    offered: dict[str, set[int]]  # desk code -> ids of its active services
    foreign_csrf: str
    browsers: dict = field(default_factory=dict)  # opened page -> (client, hidden fields)
    tickets: dict = field(default_factory=dict)  # "fresh", "used", "expired" -> tokens


@pytest.fixture
def world(app, org) -> World:
    """KEC-A's desks L1 and L2 (KTP at both, AKTA only at L2, an inactive service at L1), a
    closed desk L3, and KEC-B with a service of its own."""
    l1, l2 = desk("L1"), desk("L2")
    closed = org.create_desk(db.session, "KEC-A", "L3", "Loket 3 (tutup)")
    closed.active = False
    akta = org.create_service(db.session, "KEC-A", "AKTA", "Akta kelahiran", desk_codes=["L2"])
    old = org.create_service(db.session, "KEC-A", "LAMA", "Layanan lama", desk_codes=["L1"])
    old.active = False
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    foreign = org.create_service(db.session, "KEC-B", "S", "Surat", desk_codes=["L1"])
    SetupMark.take(db.session)
    ktp = next(s.id for s in l1.services if s.code == "KTP")
    forget_request_state()
    other = app.test_client().get(f"/s/{l1.slug}").get_data(as_text=True)
    return World(
        desks={"L1": l1, "L2": l2, "closed": closed},
        services={"ktp": ktp, "akta": akta.id, "inactive": old.id, "foreign": foreign.id},
        offered={"L1": {ktp}, "L2": {ktp, akta.id}},
        foreign_csrf=form_fields(other)["csrf_token"],
    )


# --- the generated bodies ------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A value known only once the form was opened (its hidden fields, the desk's ids)."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


CSRF, CSRF_FOREIGN, CSRF_CUT = Ref("csrf"), Ref("csrf of another browser"), Ref("csrf[:-1]")
KEY, KEY_NL, T, T_CUT = Ref("key"), Ref("key+newline"), Ref("t"), Ref("t[:-1]")
SERVICE = Ref("service of this desk")
SERVICE_REFS = {name: Ref(f"service {name}") for name in ("ktp", "akta", "inactive", "foreign")}

JUNK_SCORES = ["5", "0", "", "x", "3.0", " 3", "3 ", "3\n", "-1", "04", "+3", "٣", "３",
               "\x00", "1,2", "🙂", "4" * 3000]
# A few fixed keys, so that later examples replay earlier ones (at the same or another desk).
POOL_KEYS = ["replayed-key-000001", "replayed_key_000002", "R" * 64]


def text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size)


def padded(size: int, fill: str, pad: str) -> str:
    return pad + fill * size + pad


def with_number(before: str, number: str, after: str) -> str:
    return f"{before} {number} {after}"


comments = st.one_of(
    st.just(""),
    text(80),
    st.builds(with_number, text(30), st.sampled_from([
        "3201234567890001", "081234567890", "+62 812-3456-7890", "0812.3456.7890",
        "1234567", "12 345 678", "٣٢٠١٢٣٤٥٦٧٨٩٠٠٠١"]), text(30)),
    st.builds(padded, st.integers(990, 1010), st.sampled_from(["a", "é", "数", "🙂", "7"]),
              st.sampled_from(["", " ", "\n", "\r\n", "\u3000", " \t "])),
    st.builds(padded, st.integers(1, 4000), st.sampled_from(["x", "🙂"]), st.just("")),
)
values: dict[str, st.SearchStrategy] = {
    **{code: st.one_of(st.sampled_from(SCORES), st.sampled_from(JUNK_SCORES), text())
       for code in ELEMENTS},
    "service": st.one_of(
        st.just(SERVICE), st.sampled_from(list(SERVICE_REFS.values())),
        st.sampled_from(["", "0", "999999", "-1", "1.0", " 1", "1 ", "abc", "\x00"]), text()),
    **{name: st.one_of(st.sampled_from(["", "-", *allowed]),
                       st.sampled_from(["X", "l", " P", "P ", "12", "--", "S1\n", "s1"]),
                       text())
       for name, allowed in PROFILE.items()},
    "comment": comments,
    "idempotency_key": st.one_of(
        st.just(KEY), st.just(KEY_NL), st.sampled_from(POOL_KEYS),
        st.from_regex(r"[A-Za-z0-9_-]{16,64}", fullmatch=True),
        st.sampled_from(["", "short", "a" * 15, "a" * 65, "spaces are not ok!", "ключ" * 5,
                         "=" * 20, "a" * 16 + "\x00", "R" * 64 + "\n"]),
        text(70)),
    "t": st.one_of(st.just(T), st.just(T_CUT), st.sampled_from(["", "form.AAAA.BBBB"]), text()),
    "website": st.one_of(st.sampled_from(["", " ", "\u3000", "http://spam.example"]), text()),
    "csrf_token": st.one_of(st.sampled_from([CSRF_FOREIGN, CSRF_CUT, ""]), text(100)),
}
FIELD_GROUPS = [ELEMENTS, ["service"], list(PROFILE), ["comment"], ["idempotency_key"], ["t"],
                ["website"], ["csrf_token"]]
setting = st.sampled_from(FIELD_GROUPS).flatmap(st.sampled_from).flatmap(
    lambda name: st.tuples(st.just("set"), st.just(name), values[name]))
extra_names = st.one_of(
    st.sampled_from(["U10", "U0", "U01", "u1", "U14", "service_id", "Comment", "csrf",
                     "x-csrf_token", "submit", ""]),
    text(12))
mutation = st.one_of(
    setting, setting, setting,  # most mutations change one value
    st.tuples(st.just("drop"), st.sampled_from([*ELEMENTS, *sorted(KNOWN)]), st.none()),
    st.tuples(st.just("dup"), st.sampled_from([*ELEMENTS, *sorted(KNOWN)]),
              st.one_of(st.sampled_from(SCORES), st.just(CSRF), text(10))),
    st.tuples(st.just("add"), extra_names, st.one_of(st.sampled_from(SCORES), text(20))),
)

# (channel, link); weighted towards the QR link at L1.
TARGETS = [("qr", "L1")] * 6 + [("qr", "L2")] * 2 + [("kiosk", "L1")] * 2 + [
    ("kiosk", "L2"), ("ticket", "fresh"), ("ticket", "fresh"), ("ticket", "used"),
    ("ticket", "expired"), ("ticket", "junk"), ("qr", "junk"), ("kiosk", "junk"),
    ("qr", "closed"), ("kiosk", "closed")]


@st.composite
def plans(draw):
    """(target, fields with placeholders, encoding, whether to post twice)."""
    target = draw(st.sampled_from(TARGETS))
    pairs: list[tuple[str, object]] = [("csrf_token", CSRF), ("idempotency_key", KEY),
                                       ("t", T), ("website", "")]
    pairs += [(code, draw(st.sampled_from(SCORES))) for code in ELEMENTS]
    pairs.append(("service", SERVICE))
    pairs += [(name, draw(st.sampled_from(["-", *allowed]))) for name, allowed in PROFILE.items()]
    pairs.append(("comment", draw(comments)))
    mutations = draw(st.one_of(st.just([]), st.lists(mutation, min_size=1, max_size=1),
                               st.lists(mutation, min_size=2, max_size=4)))
    for op, name, value in mutations:
        if op == "set":
            pairs = [(n, v) for n, v in pairs if n != name] + [(name, value)]
        elif op == "drop":
            pairs = [(n, v) for n, v in pairs if n != name]
        else:  # dup, add
            pairs.append((name, value))
    encoding = draw(st.sampled_from(["urlencoded"] * 5 + ["multipart"]))
    return target, pairs, encoding, draw(st.sampled_from([False, False, False, True]))


def encode(pairs: list[tuple[str, str]], encoding: str) -> tuple[bytes, str]:
    if encoding == "multipart":
        boundary, body = encode_multipart(MultiDict(pairs))
        return body, f"multipart/form-data; boundary={boundary}"
    return urlencode(pairs).encode(), FORM


def as_the_app_sees_it(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The form fields Werkzeug parses from these bytes (the framework, not the app)."""
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    return list(Request(environ).form.items(multi=True))


# --- the oracle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    status: int
    stores: bool = False
    flags: str = ""
    replay_of: int | None = None  # the response whose receipt a replayed key shows


def same_signed_token(sent: str | None, real: str) -> bool:
    """Whether `sent` verifies as the signed token `real` (the CSRF token, the served time
    `t`): itsdangerous decodes the signature after the last "." leniently, dropping
    characters outside base64, so "ab\x00cd" is the signature "abcd"."""
    if not sent or "." not in sent:
        return False
    head, signature = sent.encode().rsplit(b".", 1)
    real_head, real_signature = real.encode().rsplit(b".", 1)
    try:
        return head == real_head and base64_decode(signature) == base64_decode(real_signature)
    except BadData:
        return False


def csrf_sent(pairs: list[tuple[str, str]]) -> str | None:
    """The token Flask-WTF checks: the csrf_token field, else the first non-empty field
    whose name ends in csrf_token (a prefixed form)."""
    form = MultiDict(pairs)
    return form.get("csrf_token") or next(
        (form[name] for name in form
         if isinstance(name, str) and name.endswith("csrf_token") and form[name]), None)


def expected(body_size: int, pairs, *, channel: str, link: str, real_csrf: str, real_t: str,
             offered: set[int], desk_id: int | None) -> Expect:
    if body_size > MAX_BODY:
        return Expect(413)
    if any(n is None or "\x00" in n or "\x00" in v for n, v in pairs):
        return Expect(400)  # refused before anything reads the form (survey.web.security)
    if not same_signed_token(csrf_sent(pairs), real_csrf):
        return Expect(400)
    if link == "junk":
        return Expect(404 if channel == "ticket" else 400)
    if link == "closed":
        return Expect(410)
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        return Expect(400)  # a field sent twice
    if any(n not in KNOWN and n not in ELEMENTS for n in names):
        return Expect(400)  # a field the form does not have
    form = dict(pairs)
    if any(form.get(code, "") not in ("", *SCORES) for code in ELEMENTS):
        return Expect(400)
    service = form.get("service", "")
    if service and service not in {str(i) for i in offered}:
        return Expect(400)
    if any(form.get(name, "") not in ("", "-", *allowed) for name, allowed in PROFILE.items()):
        return Expect(400)
    key = form.get("idempotency_key", "")
    if key and not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", key):
        return Expect(400)
    missing = any(form.get(code, "") == "" for code in ELEMENTS) or not service
    if missing or len(form.get("comment", "").strip()) > COMMENT_MAX:
        return Expect(422)
    if key:
        earlier = db.session.execute(select(Response.id, Response.desk_id)
                                     .where(Response.idempotency_key == key)).first()
        if earlier is not None:
            return Expect(303, replay_of=earlier.id) if earlier.desk_id == desk_id else Expect(409)
    if link in ("used", "expired"):
        return Expect(409 if link == "used" else 410)
    flags = []
    if channel != "ticket":  # a ticket is its own proof of a visit
        if form.get("website", "").strip():
            flags.append("honeypot")
        if not same_signed_token(form.get("t"), real_t):
            flags.append("too_fast")
    return Expect(303, stores=True, flags=",".join(flags))


# --- one simulated browser -----------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    """Responses, chain links and used tickets."""
    db.session.expire_all()
    return db.session.execute(select(
        select(func.count()).select_from(Response).scalar_subquery(),
        select(func.count()).select_from(ChainEntry).scalar_subquery(),
        select(func.count()).select_from(Ticket).where(Ticket.used_at.is_not(None))
        .scalar_subquery())).one()._tuple()


def browser(app, world: World, opened: str):
    """A browser that opened the form at `opened`: its client and the hidden fields. Opened
    once and reused (opening the form is not what is fuzzed, and it is slow); every example
    gets a fresh idempotency key, as a newly opened form has, and loses the cooldown
    cookie, so that no example depends on an earlier one."""
    if opened not in world.browsers:
        client = app.test_client()
        if opened.startswith("/k/"):  # the kiosk form opens on an enrolled tablet only
            enrol_kiosk(client, next(d for d in world.desks.values()
                                     if opened == f"/k/{d.slug}"))
        forget_request_state()
        page = client.get(opened)
        assert page.status_code == 200
        world.browsers[opened] = (client, form_fields(page.get_data(as_text=True)))
    client, hidden = world.browsers[opened]
    client.delete_cookie(COOLDOWN_COOKIE)
    # A newly opened form also has its own served-time token: one response per copy.
    return client, {**hidden, "idempotency_key": secrets.token_urlsafe(18),
                    "t": signals.served_token()}


def ticket(world: World, state: str) -> str:
    """A ticket token of L1 that is fresh (never handed out twice), used or expired.
    Issued in batches: one commit per example would dominate the run time."""
    if not world.tickets.get(state):
        l1 = world.desks["L1"]
        now = utcnow() - (timedelta(hours=2) if state == "expired" else timedelta(0))
        tokens = tickets.issue(db.session, l1, 1 if state != "fresh" else 100, 1, now=now)
        if state == "used":
            tickets.consume(db.session, tokens[0])
        db.session.commit()
        world.tickets[state] = tokens
    return world.tickets[state].pop() if state == "fresh" else world.tickets[state][0]


def open_link(world: World, channel: str, link: str) -> tuple[str, int | None, str]:
    """The URL to post to, its desk id, and the form page the browser had opened."""
    l1 = world.desks["L1"]
    if channel == "ticket":
        if link == "junk":
            return "/t/" + "A" * 22, None, f"/s/{l1.slug}"
        return f"/t/{ticket(world, link)}", l1.id, f"/s/{l1.slug}"
    prefix = "/s/" if channel == "qr" else "/k/"
    if link == "junk":
        return prefix + "no-such-desk-0123456789", None, f"/s/{l1.slug}"
    d = world.desks[link]
    return prefix + d.slug, d.id, prefix + (d.slug if link != "closed" else l1.slug)


def materialise(pairs, hidden: dict[str, str], world: World, link: str) -> list[tuple[str, str]]:
    refs = {
        CSRF: hidden["csrf_token"], CSRF_FOREIGN: world.foreign_csrf,
        CSRF_CUT: hidden["csrf_token"][:-1], KEY: hidden["idempotency_key"],
        KEY_NL: hidden["idempotency_key"] + "\n", T: hidden["t"], T_CUT: hidden["t"][:-1],
        SERVICE: str(min(world.offered.get(link, world.offered["L1"]))),
        **{ref: str(world.services[name]) for name, ref in SERVICE_REFS.items()},
    }
    return [(name, refs[value] if isinstance(value, Ref) else value) for name, value in pairs]


def assert_stored_as_sent(response_id: int, form: dict[str, str], channel: str, desk_id: int,
                          flags: str):
    db.session.expire_all()
    row = db.session.get(Response, response_id)
    assert (row.desk_id, row.channel, row.verified) == (desk_id, channel, channel == "ticket")
    codes = dict(db.session.execute(select(Element.id, Element.code)).all())
    assert {codes[a.element_id]: a.score for a in row.answers} == {
        code: int(form[code]) for code in ELEMENTS}
    assert row.service_id == int(form["service"])
    for name in PROFILE:
        assert getattr(row, name) == (None if form.get(name, "-") in ("", "-") else form[name])
    assert row.flags == flags
    assert row.idempotency_key == (form.get("idempotency_key") or None)
    sent = form.get("comment", "").strip()
    if not sent:
        assert row.comment is None
    else:  # the same text, except that personal numbers (and e-mails) became asterisks
        assert len(row.comment) == len(sent)
        assert not PERSONAL_NUMBER.search(row.comment)
        assert all(a == b or (b == "*" and (a.isdigit() or "@" in sent))
                   for a, b in zip(sent, row.comment, strict=True))


def submit_and_check(app, world: World, target, body_for, again: bool = False):
    """Open the link, post the body `body_for(hidden fields)` returns, and hold the server
    to the oracle."""
    channel, link = target
    url, desk_id, opened = open_link(world, channel, link)
    client, hidden = browser(app, world, opened)
    body, content_type = body_for(hidden)
    seen = as_the_app_sees_it(body, content_type)
    note(f"POST {url} {content_type}\n{body[:3000]!r}\nfields: {seen!r}")
    want = expected(len(body), seen, channel=channel, link=link,
                    real_csrf=hidden["csrf_token"], real_t=hidden["t"],
                    offered=world.offered.get(link, world.offered["L1"]), desk_id=desk_id)
    event(f"{channel}/{link}: expect {want.status}{' (replay)' if want.replay_of else ''}")

    before = counts()
    response = client.post(url, data=body, content_type=content_type)
    after = counts()
    assert response.status_code < 500
    assert response.status_code == want.status, (want, response.get_data(as_text=True)[:3000])
    if want.stores:
        assert after == (before[0] + 1, before[1] + 1, before[2] + (channel == "ticket"))
    else:
        assert after == before, "a refused or replayed submission stored something"
    if response.status_code == 422:  # the form again, with the problems pointed out
        html = response.get_data(as_text=True)
        assert 'role="alert"' in html and 'id="survey"' in html
    if response.status_code != 303:
        return
    stored = db.session.scalar(select(func.max(Response.id))) if want.stores else (
        want.replay_of)
    receipt = receipt_of(stored)
    assert response.headers["Location"] == "/selesai"  # the receipt is never in a URL
    if want.stores:
        assert_stored_as_sent(stored, dict(seen), channel, desk_id, want.flags)
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200 and receipt in thanks.get_data(as_text=True)
    if again and dict(seen).get("idempotency_key"):
        # A double tap: the same body once more stores nothing and shows the same receipt.
        replay = client.post(url, data=body, content_type=content_type)
        assert replay.status_code == 303
        assert replay.headers["Location"] == response.headers["Location"]
        assert receipt in client.get("/selesai").get_data(as_text=True)
        assert counts() == after


@examples(800)
@given(plan=plans())
def test_fuzzed_submissions_get_the_contracted_answer_and_store_only_valid_ones(
        app, world, plan):
    target, pairs, encoding, again = plan

    def body_for(hidden):
        return encode(materialise(pairs, hidden, world, target[1]), encoding)

    submit_and_check(app, world, target, body_for, again)


# --- mangled bytes -------------------------------------------------------------------------


@st.composite
def byte_edits(draw):
    """Byte-level damage to an encoded valid body: (position in per mille, kind, bytes)."""
    kind = draw(st.sampled_from(["insert", "replace", "truncate", "delete"]))
    payload = draw(st.one_of(
        st.binary(max_size=12),
        st.sampled_from([b"%", b"%z", b"%FF", b"%C3", b"%00", b"\xff", b"\xc3", b"&", b"&&",
                         b"=", b"==", b";", b"+", b"%2B", b"%26U1=4", b"&U1=4", b"&U10=3",
                         b"&csrf_token=x", b"\r\n", b"\x00", b"%E2%80%AE", b"%ED%A0%80"])))
    return draw(st.integers(0, 1000)), kind, payload


@st.composite
def raw_plans(draw):
    target = draw(st.sampled_from(TARGETS))
    edits = draw(st.lists(byte_edits(), min_size=1, max_size=3))
    content_type = draw(st.sampled_from([FORM] * 6 + [
        FORM + "; charset=latin-1", "text/plain", "application/json",
        "multipart/form-data; boundary=xyz", "multipart/form-data", ""]))
    return target, edits, content_type


def mangle(body: bytes, edits) -> bytes:
    for where, kind, payload in edits:
        at = where * len(body) // 1000
        if kind == "insert":
            body = body[:at] + payload + body[at:]
        elif kind == "replace":
            body = body[:at] + payload + body[at + len(payload):]
        elif kind == "truncate":
            body = body[:at]
        else:
            body = body[:at] + body[at + 1 + len(payload):]
    return body


@examples(600)
@given(plan=raw_plans())
def test_mangled_bytes_never_fail_and_store_only_valid_bodies(app, world, plan):
    target, edits, content_type = plan

    def body_for(hidden):
        offered = world.offered.get(target[1], world.offered["L1"])
        fields = {"website": "", **{code: "3" for code in ELEMENTS},
                  "service": str(min(offered)), "sex": "P",
                  "comment": "Antrean cepat, petugas ramah & jelas. " * 4, **hidden}
        return mangle(urlencode(fields).encode(), edits), content_type

    submit_and_check(app, world, target, body_for)


# --- links ---------------------------------------------------------------------------------


@examples(600)
@given(route=st.sampled_from(["/s/", "/k/", "/t/", "/selesai/"]),
       segment=st.one_of(
           st.sampled_from(["<L1>", "<L2>", "<closed>", "<fresh>", "<used>", "<expired>",
                            "<L1>x", "<L1>/", "<L1-upper>", "<fresh>=", "<fresh-cut>",
                            "ABCDE-12345", "abcde-12345", "ABCDE-123456", "", ".", "..",
                            "A" * 22, "%", "\x00", "\n"]),
           text(60), st.from_regex(r"[0-9A-F]{5}-[0-9A-F]{5}", fullmatch=True)))
def test_links_answer_200_only_for_usable_desks_and_tickets(app, world, route, segment):
    """Any path segment after /s/, /k/, /t/ or /selesai/ gets 200 (a form), 404 (also for
    anything after /selesai/: receipts are never in a URL), 409/410 for a used or expired
    ticket, 410 for a closed desk (308 where Werkzeug merges "//"), 400 for a NUL; never
    a 5xx."""
    l1 = world.desks["L1"]
    real = {"<L1>": l1.slug, "<L2>": world.desks["L2"].slug,
            "<closed>": world.desks["closed"].slug, "<L1-upper>": l1.slug.upper()}
    ticket_state = None
    for state in ("fresh", "used", "expired"):
        if f"<{state}" in segment:
            token = ticket(world, state)
            real[f"<{state}>"], real[f"<{state}-cut>"] = token, token[:-1]
            ticket_state = state
    for placeholder in sorted(real, key=len, reverse=True):
        segment = segment.replace(placeholder, real[placeholder])
    path = route + quote(segment, safe="/")
    note(path)
    # What each route answers (the path is decoded before routing).
    status = 404
    if route in ("/s/", "/k/"):
        if segment in (l1.slug, world.desks["L2"].slug):
            # The kiosk address on a browser that is not an enrolled kiosk: the survey.
            status = 200 if route == "/s/" else 302
        elif segment == world.desks["closed"].slug:
            status = 410
    elif route == "/t/" and ticket_state and segment == real[f"<{ticket_state}>"]:
        status = {"fresh": 200, "used": 409, "expired": 410}[ticket_state]
    if "//" in route + segment:  # Werkzeug merges repeated slashes with a redirect
        merged = re.sub("/+", "/", route + segment)
        status = 308 if re.fullmatch(r"/(s|k|t)/[^/]+", merged) else 404
    if "\x00" in segment:
        status = 400  # refused before routing (survey.web.security)
    before = counts()
    forget_request_state()
    page = app.test_client().get(path)
    assert page.status_code < 500
    assert page.status_code == status, (path, page.get_data(as_text=True)[:2000])
    if status == 200:
        html = page.get_data(as_text=True)
        assert (segment in html) if route == "/selesai/" else ('id="survey"' in html)
    assert counts() == before  # opening a link never stores or spends anything


def test_multipart_part_without_a_readable_name_and_no_csrf_token_is_refused(app, world):
    """Flask-WTF's CSRF check would crash on it (key.endswith() on every form key, and
    Werkzeug names a multipart part whose name it cannot read None); the application
    refuses such input before CSRF protection reads the form."""
    url = f"/s/{world.desks['L1'].slug}"
    client, _hidden = browser(app, world, url)
    boundary, body = encode_multipart(MultiDict([("U1", "3"), ("name\\", "x")]))
    before = counts()
    response = client.post(url, data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert counts() == before


# --- what the fuzzer found, pinned -----------------------------------------------------------


def valid_body(world: World, hidden: dict[str, str]) -> list[tuple[str, str]]:
    return [*hidden.items(), ("website", ""), *((code, "3") for code in ELEMENTS),
            ("service", str(world.services["ktp"]))]


@pytest.mark.parametrize(("name", "value"), [
    ("idempotency_key", "abcdefghijklmnopqrstuvwx\n"),  # was stored with its newline
    ("idempotency_key", "R" * 64 + "\n"),  # was a 500 on PostgreSQL (varchar(64))
    ("comment", "antre\x00cepat"),  # was a 500 on PostgreSQL, stored on SQLite
])
def test_input_the_fuzzer_found_is_refused_and_stores_nothing(app, world, name, value):
    url = f"/s/{world.desks['L1'].slug}"
    client, hidden = browser(app, world, url)
    body = [(n, v) for n, v in valid_body(world, hidden) if n != name] + [(name, value)]
    before = counts()
    assert client.post(url, data=urlencode(body).encode(), content_type=FORM).status_code == 400
    assert counts() == before


def test_multipart_part_without_a_readable_name_is_refused(app, world):
    """Werkzeug names such a part None; the form parser used to crash on it (500)."""
    url = f"/s/{world.desks['L1'].slug}"
    client, hidden = browser(app, world, url)
    boundary, body = encode_multipart(MultiDict([*valid_body(world, hidden), ("x\\", "1")]))
    before = counts()
    response = client.post(url, data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert counts() == before


def test_a_nul_in_a_desk_link_is_refused(app, world):
    """It used to reach PostgreSQL, which refuses NUL in text: a 500."""
    url = f"/s/{world.desks['L1'].slug}"
    client, hidden = browser(app, world, url)
    assert client.get("/s/%00").status_code == 400
    assert client.get("/k/ab%00cd").status_code == 400
    body = urlencode(valid_body(world, hidden)).encode()
    assert client.post("/k/%00", data=body, content_type=FORM).status_code == 400
    assert counts() == (0, SetupMark.links, 0)  # nothing beyond the audited setup
