"""Helpers for driving the citizen form like a browser does."""

from __future__ import annotations

import re

from survey.core.db import db
from survey.core.models import Desk


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the survey form, as a browser would send them."""
    fields = {}
    for name in ("csrf_token", "idempotency_key", "t"):
        match = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert match, f"form has no {name}"
        fields[name] = match.group(1)
    return fields


def answers(score: int = 3, count: int = 9) -> dict[str, str]:
    return {f"U{i}": str(score) for i in range(1, count + 1)}


def desk(code: str = "L1", agency: str | None = None) -> Desk:
    from survey.core.models import Agency

    query = db.session.query(Desk).filter(Desk.code == code)
    if agency:
        query = query.join(Agency).filter(Agency.code == agency)
    return query.one()


def forget_request_state() -> None:
    """Start the next request with an empty `g`, as a real request would. The tests'
    client class (appfactory.IsolatedClient) already does this before every request; this
    remains for code that renders outside the client."""
    from flask import g, has_app_context

    if has_app_context():
        g.__dict__.clear()


def open_form(client, url: str) -> tuple[str, dict[str, str]]:
    forget_request_state()
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    return html, form_fields(html)


def service_id(html: str) -> str:
    match = re.search(r'<select name="service"[^>]*>.*?<option value="(\d+)"', html, re.S)
    assert match
    return match.group(1)


def login(client, email: str, password: str = "long enough password"):
    """Sign in through the real login form (CSRF included)."""
    forget_request_state()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, page
    return client.post("/auth/login", data={"csrf_token": token.group(1), "email": email,
                                            "password": password})


def make_user(org, email: str, role: str, agencies=(), password="long enough password"):
    user = org.create_user(db.session, email, password, role, list(agencies))
    db.session.commit()
    return user


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf token on the page"
    return match.group(1)


def assert_same_results(actual, expected, path: str = "$") -> None:
    """Two JSON documents of results are equal: the same keys and values, floats to 1e-9
    relative (the engine's outputs are unrounded)."""
    import pytest

    if isinstance(actual, dict):
        assert set(actual) == set(expected), path
        for key in actual:
            assert_same_results(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(actual, list):
        assert len(actual) == len(expected), path
        for i, (a, b) in enumerate(zip(actual, expected, strict=True)):
            assert_same_results(a, b, f"{path}[{i}]")
    elif isinstance(actual, float) and isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), path
    else:
        assert actual == expected, path
