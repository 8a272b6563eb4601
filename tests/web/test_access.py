"""The access policy: every route is in the table, and each role gets exactly what the
table says on every route (a walk over app.url_map)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support.factories import desk, fill, make_user
from support.web import csrf_from, login

from survey.core import tickets
from survey.core.db import db
from survey.core.models import Agency, ReportingPeriod, Response, Service, User
from survey.core.org import kiosks
from survey.web.access import POLICY, PUBLIC

ROLES = ("admin", "agency_manager", "auditor", "desk_staff")


def test_every_route_has_a_policy(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(POLICY))
    assert missing == [], f"routes without an access policy: {missing}"


def test_an_unlisted_endpoint_is_refused(app, client):
    """Fail closed: a route someone forgets to list answers 403, not data."""
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    response = client.get("/forgotten")
    assert response.status_code == 403 and b"secret" not in response.data


@pytest.fixture
def world(org):
    fill(org, per_desk=12)
    for role in ROLES:
        make_user(org, f"{role}@kec-a.go.id", role, [] if role in ("admin", "auditor")
                  else ["KEC-A"])
    db.session.add(ReportingPeriod(key="2024-05"))
    db.session.commit()
    return {
        "code": "KEC-A",
        "desk_id": desk("L1").id,
        "response_id": db.session.scalar(select(Response.id).limit(1)),
        "kind": "flag",
        "fmt": "png",
        "slug": desk("L1").slug,
        "token": tickets.issue(db.session, desk("L1"), 1, 24)[0],
        "token_id": 1,
        "device_id": kiosks.enrol(db.session, desk("L1"), "Tablet", actor=None)[0].id,
        "filename": "app.css",
        "agency_id": db.session.scalar(select(Agency.id).where(Agency.code == "KEC-A")),
        "user_id": db.session.scalar(select(User.id).limit(1)),
        "service_id": db.session.scalar(select(Service.id).limit(1)),
        "period_id": db.session.scalar(select(ReportingPeriod.id)),
        "year": 2024,
        "key": "2024-05",
    }


def _routes(app, values):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        unknown = set(rule.arguments) - set(values)
        assert not unknown, f"{rule.endpoint}: add sample values for {sorted(unknown)}"
        url = rule.rule
        for name in rule.arguments:  # <name>, <int:name>, <int(max=...):name>, ...
            url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(values[name]), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _request(client, method, url, token):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token})


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_gets_what_the_policy_says(app, client, world, role):
    if role:
        login(client, f"{role}@kec-a.go.id")
    page = {None: "/auth/login", "auditor": "/dashboard/KEC-A"}.get(role, "/loket/")
    token = csrf_from(client.get(page).get_data(as_text=True))
    seen = []
    routes = list(_routes(app, world))
    # signing out ends the session: do it last
    routes.sort(key=lambda r: r[0] == "auth.logout")
    for endpoint, method, url in routes:
        rule = POLICY[endpoint]
        with _request(client, method, url, token) as response:
            status = response.status_code
            to_login = status == 302 and "/auth/login" in response.headers.get("Location", "")
        seen.append((endpoint, method, status))
        assert status < 500, (endpoint, method, status)
        if rule == PUBLIC:
            continue
        if role is None:
            assert to_login or status == 401, (endpoint, method, status)
        elif role in rule:
            assert status not in (401, 403) and not to_login, (endpoint, method, status)
        else:
            assert status == 403, (endpoint, method, status)
    assert len(seen) >= len(POLICY) - 1
