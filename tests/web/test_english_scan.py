"""No English in the Indonesian interface.

For each role (administrator, agency manager, desk staff, auditor, an anonymous citizen),
every GET rule of the URL map that the role can reach is requested with real parameters
(the organisation, responses, a closed period, a follow-up action, a kiosk and a ticket
that the fixture builds) in the Indonesian locale, plus the error pages. The visible text
of each HTML page (text nodes and the attributes people read: title, aria-label,
placeholder, alt), without scripts, styles, code samples and the data people typed
(names, comments, e-mail addresses), must not contain a word of STOPLIST: common English
words that are not Indonesian words. A failure names the role, the page and the text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from support.app import NO_LIMITS
from support.factories import ROLE_ACCOUNTS, desk, two_agencies_with_every_role
from support.web import answers, enrol_kiosk, get, login, open_form, service_id

from survey.core import tickets
from survey.core.db import db, write_transaction
from survey.core.models import Agency, Desk, Service, User
from survey.core.org import kiosks
from survey.core.periods import parse_period
from survey.core.results import followups, published

# Common English function and interface words that are not Indonesian words. ("status",
# "data", "total", "volume", "audit", "log", "per", "auditor", "administrator" are.)
STOPLIST = frozenset("""
the and of with your this that these those not was were must should would could will
can cannot has have had been being are is it its for from into onto on by an or
if then than when where which who whom whose what there their they them you our we
please click sign signed login logout password save saved cancel delete deleted edit
show hide hidden back next previous home page error found invalid required closed open
name code date time channel kiosk paper ticket flagged clean import export exported
imported user users role manager staff results result survey questionnaire service
services month day year week download upload file report comment comments reason
action details desk desks agency agencies period periods response responses pending
release released keep kept publish published redact redacted decision none yes
already here only every each more less least most after before until since
new create created update updated change changed add added remove removed
anonymous unknown failed
""".split())  # noqa: SIM905  (a word list reads better as text)

ROLES = ROLE_ACCOUNTS

# The import pages name the columns of their CSV files, which people type as they are.
COLUMN_NAMES = {"agency", "desk", "month", "count", "service", "channel", "response",
                "verified", "flagged", "submitted", "at", "id", "comment"}
CODE_WORDS = {"admin.volume_import": COLUMN_NAMES, "paper.import_csv": COLUMN_NAMES}

# Pages whose English another change is removing (they are rewritten in parallel): the
# review queue (its statuses and channels) is known until that rewrite is merged.
KNOWN: set[str] = set()

SKIPPED = {"static", "i18n.switch", "health.check", "audit.public_key", "audit.export",
           "desks.qr_code", "desks.poster", "desks.posters", "published.badge",
           "infographic.svg", "infographic.png", "infographic.pdf",  # test_infographic.py
           "dashboard.league_download"}


class VisibleText(HTMLParser):
    """The text a person reads on the page, as (snippet) strings."""

    HIDDEN = {"script", "style", "code", "pre", "kbd", "samp", "template"}
    READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self.depth += 1
        for name, value in attrs:
            if name in self.READ_ATTRIBUTES and value:
                self.parts.append(value)
            if name == "value" and tag == "input" and ("type", "submit") in attrs:
                self.parts.append(value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth and data.strip():
            self.parts.append(" ".join(data.split()))


def english_in(html: str, data: list[str], codes: frozenset[str] = frozenset()
               ) -> list[str]:
    """Snippets of the page's visible text that contain a word of the stoplist. Data is
    left out: what people typed (`data`), addresses, values quoted “so”, and the `codes`
    (file column names) a page teaches."""
    parser = VisibleText()
    parser.feed(html)
    found = []
    for part in parser.parts:
        for item in data:  # what people typed is not the interface's language
            part = part.replace(item, " ")
        part = re.sub(r"https?://\S+|“[^”]*”", " ", part)
        for word in re.findall(r"[A-Za-z]+", part):
            if word.lower() in STOPLIST and word.lower() not in codes:
                found.append(f"{word!r} in {part[:160]!r}")
                break
    return found


@pytest.fixture
def app_config():
    return dict(NO_LIMITS)


@pytest.fixture
def demo(org):
    """What a demo installation has: responses (flagged ones, comments), two agencies, one
    account per role, a closed and published period, a follow-up action, a kiosk tablet,
    a ticket."""
    two_agencies_with_every_role(org)
    now = datetime.now(UTC)
    with write_transaction(db.session):
        period = org.create_period(db.session, "2024-S1")
        published.close_period(db.session, period, now, now.date(), actor=None)
        followups.save(db.session, db.session.scalars(
            db.select(Agency).where(Agency.code == "KEC-A")).one(), parse_period("2024-S1"),
            {"element_code": "U1", "action": "Tambah kursi ruang tunggu",
             "owner": "Kepala seksi", "status": "planned"},
            db.session.scalars(db.select(User).where(User.role == "admin")).first())
        kiosks.enrol(db.session, desk("L1", "KEC-A"), "Tablet depan", actor=None)
        token = tickets.issue(db.session, desk("L1", "KEC-A"), 1, 24)[0]
        # Audit events of every kind the log shows with [old, new] changes and labels.
        kec_b = db.session.scalars(db.select(Agency).where(Agency.code == "KEC-B")).one()
        org.update_agency(db.session, kec_b, "Kecamatan B Baru", None, "Asia/Makassar",
                          None, None)
        staff = db.session.scalars(db.select(User).where(User.role == "desk_staff")).one()
        org.update_user(db.session, staff, "agency_manager", ["KEC-A"], True, "Budi")
        org.update_user(db.session, staff, "desk_staff", ["KEC-A"], True, "Budi")
        org.set_desk_active(db.session, desk("L1", "KEC-B"), False)
        org.authenticate(db.session, "nobody@skm.go.id", "wrong password")
        # A Mal Pelayanan Publik above both agencies, for the league of agencies.
        org.create_agency(db.session, "MPP-A", "Mal Pelayanan Publik A")
        kec_a = db.session.scalars(db.select(Agency).where(Agency.code == "KEC-A")).one()
        for agency in (kec_a, kec_b):
            org.update_agency(db.session, agency, agency.name, "MPP-A", agency.timezone,
                              None, None)
    return token


def urls_for(app, token: str) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET page, filled in with the demo's objects."""
    a_desk = desk("L1", "KEC-A")
    values = {
        "code": "KEC-A", "desk_id": a_desk.id, "slug": a_desk.slug, "token": token,
        "service_id": db.session.scalars(db.select(Service.id)).first(),
        "user_id": db.session.scalars(db.select(User.id).where(
            User.role == "desk_staff")).first(),
    }
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED:
            continue
        if rule.endpoint == "dashboard.queue":
            for kind in ("flag", "comment"):
                for extra in ("", "&all=1"):
                    out.append((rule.endpoint, f"/dashboard/KEC-A/antrean/{kind}"
                                               f"?period=2024-05{extra}"))
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[^:>]+:)?{name}>", str(values[name]), path)
        out.append((rule.endpoint, path))
        if rule.endpoint in ("dashboard.agency", "dashboard.desk", "dashboard.follow_ups"):
            out.append((rule.endpoint, f"{path}?period=2024-05"))
        if rule.endpoint == "dashboard.league":  # KEC-A has none: the 404 says why
            out.append((rule.endpoint, "/dashboard/MPP-A/liga?period=2024-05"))
    return out


def error_pages() -> list[tuple[str, str]]:
    return [("error 400", "/?x=%00"), ("error 404", "/tidak-ada"),
            ("error 405", "/auth/logout"), ("error 410", f"/s/{desk('L1', 'KEC-B').slug}")]


def typed_data() -> list[str]:
    """Names and texts people typed, longest first (they are data, not interface)."""
    texts = {*db.session.scalars(db.select(Agency.name)),
             *db.session.scalars(db.select(Desk.name)),
             *db.session.scalars(db.select(Service.name_id)),
             *filter(None, db.session.scalars(db.select(Service.name_en))),
             *db.session.scalars(db.select(User.email)),
             "Tablet depan", "Antrean lama", "Tambah kursi ruang tunggu", "Kepala seksi"}
    return sorted(texts, key=len, reverse=True)


@pytest.mark.parametrize("role", list(ROLES))
def test_no_english_in_the_indonesian_pages(app, client, demo, role):
    if ROLES[role]:
        login(client, ROLES[role])
    client.get("/bahasa/id")
    data = typed_data()
    pages = urls_for(app, demo) + error_pages()
    if role == "desk_staff":
        pages.append(("error 403", "/admin/"))
    problems, seen, known_clean = [], 0, set()
    for endpoint, url in pages:
        response = get(client, url)
        if response.status_code in (301, 302, 303) or "text/html" not in response.content_type:
            continue
        seen += 1
        if response.status_code == 403 and not endpoint.startswith("error"):
            continue  # not this role's page (the 403 page itself is checked above)
        html = response.get_data(as_text=True)
        assert 'lang="id"' in html, (role, url)
        codes = frozenset(CODE_WORDS.get(endpoint, ()))
        found = english_in(html, data, codes)
        if endpoint in KNOWN:
            if not found:
                known_clean.add(endpoint)
            continue
        problems += [f"{role} {url}: {text}" for text in found]
    if role == "anonymous":
        problems += citizen_journey(app, client, data)
    assert seen >= 3, f"{role} reached only {seen} pages"
    assert not problems, "English in the Indonesian interface:\n" + "\n".join(problems)
    assert not known_clean, f"no English left on {known_clean}: remove them from KNOWN"


def html_text(response) -> str:
    import html

    return html.unescape(response.get_data(as_text=True))


def citizen_journey(app, client, data: list[str]) -> list[str]:
    """The pages a citizen sees after answering: the thank-you page with its receipt (a
    low score, a comment whose phone number is masked), on the QR survey and on an
    enrolled kiosk tablet."""
    app.config["SURVEY_MIN_FILL_SECONDS"] = 0
    problems = []
    a_desk = desk("L1", "KEC-A")
    for url in (f"/s/{a_desk.slug}", f"/k/{a_desk.slug}"):
        if url.startswith("/k/"):
            enrol_kiosk(client, a_desk)
        html, hidden = open_form(client, url)
        problems += [f"anonymous {url}: {t}" for t in english_in(html, data)]
        sent = client.post(url, data={**hidden, **answers(1), "service": service_id(html),
                                      "comment": "Antrean lama, hubungi 081234567890"})
        assert sent.status_code in (302, 303), (url, sent.status_code)
        thanks = get(client, "/selesai").get_data(as_text=True)
        assert 'lang="id"' in thanks and 'id="receipt"' in thanks and "SP4N-LAPOR" in thanks
        problems += [f"anonymous /selesai after {url}: {t}" for t in english_in(thanks, data)]
    return problems


def test_the_scan_finds_english():
    """The scan would catch an untranslated sentence (and ignores code samples)."""
    assert english_in("<p>The period is closed.</p>", [])
    assert not english_in("<p>Periode ditutup.</p><pre>agency,desk,month</pre>", [])
    assert not english_in("<p>Loket Service Centre</p>", ["Loket Service Centre"])



def test_no_english_in_the_refusals(app, client, demo):
    """The pages that refuse what was sent (a duplicate code, a bad file, a wrong
    password, an option not on the list) are Indonesian too."""
    from io import BytesIO

    from support.web import csrf_from, forget_request_state, submit

    def upload(url: str, data: bytes):
        page = get(client, url)
        forget_request_state()
        return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                      "file": (BytesIO(data), "f.csv")},
                           content_type="multipart/form-data")

    client.get("/bahasa/id")
    refused = {"sign-in": submit(client, "/auth/login", {
        "email": "admin@skm.go.id", "password": "wrong password"})}
    login(client, "admin@skm.go.id")
    client.get("/bahasa/id")
    header = "agency,desk," + ",".join(f"U{i}" for i in range(1, 10))
    refused |= {
        "agency": submit(client, "/admin/instansi/baru", {
            "code": "KEC-A", "name": "X", "timezone": "Asia/Jakarta"}),
        "user": submit(client, "/admin/pengguna/baru", {
            "email": "x@a.go.id", "role": "bogus", "password": "short"}),
        "desk": submit(client, "/admin/instansi/KEC-A/loket/baru", {
            "code": "L 9", "name": "", "services": ["999"]}),
        "volumes": upload("/admin/volume/impor",
                          b"agency,desk,month,count\nKEC-A,L9,2024-13,-1\n"),
        "responses": upload("/kertas/impor", f"{header}\nKEC-A,L1,{'5,' * 8}5\n".encode()),
        "password": submit(client, "/auth/sandi", {
            "current": "wrong password", "new": "another long password",
            "repeat": "another long password"}),
        "period": submit(client, "/admin/periode", {"key": "2024-S1"}),
        "follow-up": submit(client, "/dashboard/KEC-A/rtl?period=2024-S1", {
            "element_code": "U99", "action": "x", "owner": "y"},
            form_url="/dashboard/KEC-A/rtl?period=2024-S1", follow_redirects=True),
    }
    said = {"sign-in": "Surel atau kata sandi salah.", "agency": "Instansi KEC-A sudah ada.",
            "user": "Pilihan tidak sah.", "desk": "'999' bukan pilihan yang sah",
            "volumes": "Baris 2: Instansi KEC-A tidak memiliki loket “L9”.",
            "responses": "Baris 2, kolom U1: Nilai “5” bukan 1, 2, 3, 4 atau kosong.",
            "password": "Kata sandi saat ini salah.", "period": "Periode 2024-S1 sudah ada.",
            "follow-up": "Pilih unsur kuesioner."}
    data = typed_data()
    problems = []
    for what, response in refused.items():
        assert said[what] in html_text(response), what
        assert response.status_code in (200, 401, 422), (what, response.status_code)
        html = response.get_data(as_text=True)
        assert 'lang="id"' in html, what
        codes = frozenset(COLUMN_NAMES) if what in ("volumes", "responses") else frozenset()
        problems += [f"{what}: {found}" for found in english_in(html, data, codes)]
    assert not problems, "English in the Indonesian refusals:\n" + "\n".join(problems)
