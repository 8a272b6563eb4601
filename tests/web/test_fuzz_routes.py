"""Every route, every role, crafted input: no 5xx.

Hypothesis picks a route of the application's URL map (every rule but the static files;
the citizen form and the API have fuzzers of their own in test_fuzz.py and test_api.py
that also check what is stored), a role (anonymous, administrator, agency manager, desk
staff, auditor, each signed in through the real form) and fills in:

- path parameters: codes and slugs that exist, text with CR/LF, NUL, slashes, dots and
  non-ASCII letters, integers around and far beyond the database's ranges;
- a query string drawn from the names the views read (period, next, tanggal, page, ...)
  with years 0001 to 9999, impossible dates and periods, huge integers, CR/LF, open
  redirects, very long values;
- for a POST, a form with the field names of every form of the application and such
  values, with the session's real CSRF token nine times out of ten (so that the
  validation behind it runs) and a wrong one otherwise.

Whatever the input, the answer is below 500 (and an exception inside a view fails the
test: the test application propagates them). A signed-in role whose session a request
ended (logout, its own password changed) signs in again before its next request.

SURVEY_FUZZ_EXAMPLES scales the number of examples (default 1,500).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date
from urllib.parse import quote

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.app import NO_LIMITS
from support.factories import ROLE_ACCOUNTS, two_agencies_with_every_role
from support.web import csrf_from, login
from wtforms.fields.core import UnboundField

from survey.core.db import db
from survey.core.models import Desk, User

EXAMPLES = int(1500 * float(os.environ.get("SURVEY_FUZZ_EXAMPLES", "2000")) / 2000)
ROLES = ROLE_ACCOUNTS
# Names the views read from request.args / request.form besides the WTForms fields.
QUERY_NAMES = ("period", "next", "all", "tahun", "tanggal", "page", "lang", "flagged", "edit",
               "bom", "baris", "action", "reason", "sheet", "id", "email", "decision",
               "active", "scope", "desk", "service", "kind", "format")
QUERY_NAMES += ("sort",)  # the league of agencies
QUERY_NAMES += ("signal", "channel", "from", "to", "status", "ids", "page_ids",  # queues
                "all_on_page")
EVIL = (
    "", " ", "0", "-1", "1", "2", "3", "4", "5", str(2**31 - 1), str(2**31), str(2**63),
    str(2**64), "9" * 40, "1e309", "NaN", "inf", "-0", "0x10", "1.5", "٣", "３",
    "2024", "2024-05", "2024-Q2", "2024-S1", "2024-Q5", "2024-13", "2024-00", "9999",
    "9999-Q4", "9999-12", "0000", "0001-01", "2024-02-30", "2024-05-01..2024-04-01",
    "2024-01-01..9999-12-31", "0001-01-01..0001-01-02", "2024-01..9999-12", "1900-01-01",
    "9999-12-31", "0000-00-00", "\r\nSet-Cookie: x=1", "a\rb", "a\nb", "\x00", "%00",
    "/\\evil.example", "//evil.example", "https://evil.example", "javascript:alert(1)",
    "../../etc/passwd", "..", ".", "/", "☃", "ｌｏｋｅｔ", "ǅ", "\u202e", "'", '"',
    "<script>", "{{7*7}}", "%s%s%s", "on", "true", "false", "admin", "id", "en", "xx",
    "release", "keep", "publish", "hide", "redact", "clean", "flagged", "verified", "x" * 5000,
)


def evil_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(EVIL),
        st.text(max_size=40),
        st.integers(-(2**70), 2**70).map(str),
        st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    )


def form_field_names() -> list[str]:
    """The field names of every WTForms form the application defines."""
    import survey.web  # noqa: F401  (imports every form module through the app factory)

    names: set[str] = set()
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending += form.__subclasses__()
        if form.__module__.startswith("survey."):
            for klass in form.__mro__:
                names |= {k for k, v in vars(klass).items() if isinstance(v, UnboundField)}
    return sorted(names)


@pytest.fixture
def app_config():
    return dict(NO_LIMITS)


@pytest.fixture
def world(org):
    two_agencies_with_every_role(org)
    return org


def path_value(converter: str, known: dict[str, list[str]], protected: set[int]
               ) -> st.SearchStrategy[str]:
    if converter == "RowIdConverter":
        return st.one_of(st.integers(0, 40), st.integers(-(2**70), 2**70),
                         st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63])
                         ).filter(lambda n: n not in protected).map(str)
    return st.one_of(st.sampled_from(known["codes"]), st.sampled_from(EVIL), st.text(
        max_size=30)).map(lambda text: quote(text, safe=""))


def build(rule, draw, known, protected) -> str:
    path = rule.rule
    for name, converter in rule._converters.items():
        value = draw(path_value(type(converter).__name__, known, protected))
        start = path.index("<")
        end = path.index(">", start)
        assert name in path[start:end]
        path = path[:start] + (value or "x") + path[end + 1:]
    return path


def test_no_route_answers_5xx_to_crafted_input(app, world):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    fields = sorted({*form_field_names(), *QUERY_NAMES, *(f"U{i}" for i in range(1, 15))})
    desks = db.session.query(Desk).all()
    known = {"codes": sorted({"KEC-A", "KEC-B", "L1", "L2", "csv", "xlsx", "pdf", "png",
                              "svg", "flagged", "comments", "id", "en",
                              "flag", "comment",
                              *(d.slug for d in desks)})}
    protected = {u.id for u in db.session.query(User).all()}  # the fuzzing users stay usable
    clients = {role: app.test_client() for role in ROLES}
    stale = set(ROLES) - {"anonymous"}
    statuses: Counter = Counter()

    def signed_in(role: str):
        client = clients[role]
        if role in stale:
            login(client, ROLES[role])
            stale.discard(role)
        return client

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data):
        role = data.draw(st.sampled_from(sorted(ROLES)), label="role")
        rule = data.draw(st.sampled_from(rules), label="rule")
        method = data.draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        path = build(rule, data.draw, known, protected)
        query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), evil_values(),
                                          max_size=3), label="query")
        client = signed_in(role)
        kwargs = {"query_string": query}
        if method == "POST":
            body = data.draw(st.dictionaries(st.sampled_from(fields), evil_values(),
                                             max_size=8), label="form")
            if data.draw(st.integers(0, 9)):  # the session's real token, mostly
                body["csrf_token"] = _token(client, ROLES[role])
            kwargs["data"] = body
        response = client.open(path, method=method, **kwargs)
        statuses[response.status_code] += 1
        event(f"{role} {method} {response.status_code}")
        assert response.status_code < 500, (role, method, path, kwargs)
        if role != "anonymous" and (path == "/auth/logout" or "/auth/login" in
                                    response.headers.get("Location", "")):
            stale.add(role)  # this request may have ended the session

    probe()
    assert sum(statuses.values()) >= EXAMPLES
    assert statuses[200] and any(400 <= s < 500 for s in statuses), statuses


def _token(client, email: str | None) -> str:
    """The session's CSRF token, from a page every visitor may open (signed in again when
    an earlier request ended the session)."""
    if email is not None and client.get("/auth/sandi").status_code != 200:
        assert login(client, email).status_code == 302, email
    return csrf_from(client.get("/auth/login" if email is None else "/auth/sandi")
                     .get_data(as_text=True))
