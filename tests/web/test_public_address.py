"""The address printed and encoded in QR codes, posters, tickets and the badge code:
PUBLIC_BASE_URL when it is set, else where the server listens (HOST and PORT, which
`make run PORT=5077` passes on)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.factories import desk, make_user
from support.web import csrf_from, get, login, text

from survey.core import qr
from survey.core.config import public_base_url

CASES = {
    # make run PORT=5077: the Makefile exports HOST and PORT; no PUBLIC_BASE_URL.
    "derived": ({"HOST": "127.0.0.1", "PORT": "5077"}, {"PUBLIC_BASE_URL": ""},
                "http://127.0.0.1:5077"),
    "configured": ({"HOST": "127.0.0.1", "PORT": "5077"},
                   {"PUBLIC_BASE_URL": "https://skm.contoh.go.id/"},
                   "https://skm.contoh.go.id"),
}


@pytest.fixture(params=sorted(CASES))
def case(request, monkeypatch):
    environment, config, expected = CASES[request.param]
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return config, expected


@pytest.fixture
def app_config(case):
    return case[0]


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    """Every text put into a QR code."""
    seen: list[str] = []
    original = qr._code

    def recording(url: str):
        seen.append(url)
        return original(url)

    monkeypatch.setattr(qr, "_code", recording)
    return seen


def test_the_address_reaches_qr_codes_posters_tickets_and_the_badge_code(
        app, client, org, case, encoded, tmp_path: Path):
    expected = case[1]
    assert app.config["PUBLIC_BASE_URL"] == expected
    make_user(org, "m@a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@a.go.id")
    d = desk()

    assert get(client, f"/loket/{d.id}/qr.png").status_code == 200
    assert encoded[-1] == f"{expected}/s/{d.slug}"
    page = text(get(client, "/loket/"))
    assert f"{expected}/s/{d.slug}" in page and ":5000" not in page

    encoded.clear()
    poster = get(client, f"/loket/{d.id}/poster.pdf")
    assert poster.status_code == 200 and poster.mimetype == "application/pdf"
    assert encoded == [f"{expected}/s/{d.slug}"]

    encoded.clear()
    ticket = client.post(f"/loket/{d.id}/tiket", data={"csrf_token": csrf_from(page)})
    printed = re.search(r'class="url">([^<]+)<', text(ticket)).group(1)
    assert printed.startswith(f"{expected}/t/") and encoded == [printed]

    public = text(get(client, "/publik/KEC-A"))
    assert f'<img src="{expected}/publik/KEC-A/badge.svg"' in public


def test_the_derived_address():
    assert public_base_url({"HOST": "127.0.0.1", "PORT": 5077}) == "http://127.0.0.1:5077"
    assert public_base_url({"HOST": "0.0.0.0", "PORT": 8000}) == "http://127.0.0.1:8000"
    assert public_base_url({"HOST": "::1", "PORT": 8000}) == "http://[::1]:8000"
    assert public_base_url({"PUBLIC_BASE_URL": " https://skm.go.id/ ", "PORT": 1}) == \
        "https://skm.go.id"
