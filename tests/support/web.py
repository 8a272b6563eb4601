"""Requests as a browser makes them: a fresh request state, the CSRF token of a page, the
staff sign-in, and the citizen form's hidden fields."""

from __future__ import annotations

import html
import re

from support.factories import PASSWORD


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


def forget_request_state() -> None:
    """Start the next request with an empty `g`, as a real request would. The tests'
    client class (support.app.IsolatedClient) already does this before every request; this
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


def login(client, email: str, password: str = PASSWORD):
    """Sign in through the real login form (CSRF included)."""
    forget_request_state()
    page = client.get("/auth/login").get_data(as_text=True)
    return client.post("/auth/login", data={"csrf_token": csrf_from(page), "email": email,
                                            "password": password})


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf token on the page"
    return match.group(1)


def get(client, url: str):
    """A fresh browser request (see forget_request_state)."""
    forget_request_state()
    return client.get(url)


def text(response) -> str:
    """A page's HTML with its entities decoded, as a reader sees the text."""
    return html.unescape(response.get_data(as_text=True))


def submit(client, url: str, data: dict, form_url: str | None = None, **kwargs):
    """Open the form page like a browser, then post it with the page's CSRF token."""
    page = get(client, form_url or url)
    assert page.status_code == 200, (form_url or url, page.status_code)
    forget_request_state()
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  **data}, **kwargs)


def enrol_kiosk(client, desk, name: str = "Tablet 1") -> int:
    """Make the client's browser an enrolled kiosk of the desk (as the staff page does);
    returns the device id."""
    from survey.core.db import db, write_transaction
    from survey.core.org import kiosks
    from survey.web.devices import KIOSK_COOKIE, cookie_value

    with write_transaction(db.session):
        device, secret = kiosks.enrol(db.session, desk, name, actor=None)
    client.set_cookie(KIOSK_COOKIE, cookie_value(device.id, secret), path="/k/")
    return device.id


def refused_in_indonesian(page: str, english: str) -> None:
    """A file's refusal on an Indonesian page: the line (and the column) the core's English
    message names, in Indonesian ("Baris 3, kolom ..."), and not that English text."""
    import re as _re

    where = _re.match(r"line (\d+)(, column)?", english)
    if where:
        expected = f"Baris {where.group(1)}" + (", kolom" if where.group(2) else ":")
        assert expected in page, (expected, english)
    assert english not in page, english
