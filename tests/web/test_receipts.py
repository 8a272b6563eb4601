"""Receipts that protect and prove: the public check page confirms a real code (and since
when a signed export covers it), refuses made-up and malformed ones, says nothing else
about the response, and is rate limited."""

from __future__ import annotations

import re

import pytest
from support.factories import desk, make_user
from support.web import csrf_from, form_fields, get, login, text

from survey.core import signing

CODE = re.compile(r'id="receipt">([^<]+)<')


@pytest.fixture
def app_config():
    return {"SURVEY_MIN_FILL_SECONDS": 0}


def answer(client) -> str:
    """Answer at desk L1 like a citizen; the receipt the thank-you page shows."""
    page = get(client, f"/s/{desk().slug}").get_data(as_text=True)
    data = {**form_fields(page), **{f"U{i}": "4" for i in range(1, 10)},
            "service": re.search(r'<option value="(\d+)"', page).group(1)}
    sent = client.post(f"/s/{desk().slug}", data=data)
    assert sent.status_code == 303 and sent.headers["Location"] == "/selesai"
    return CODE.search(client.get("/selesai").get_data(as_text=True)).group(1)


def check(client, code: str):
    page = get(client, "/cek-kode")
    assert page.status_code == 200
    return client.post("/cek-kode", data={"csrf_token": csrf_from(page.get_data(True)),
                                          "code": code})


def test_a_real_code_is_confirmed_and_then_covered_by_a_signed_export(app, org, client):
    code = answer(client)
    found = check(client, code)
    assert found.status_code == 200
    page = text(found)
    assert "tercatat dalam rantai hash" in page
    assert "Belum ada ekspor bertanda tangan" in page
    assert "Cache-Control" in found.headers and code not in found.request.url

    signing.ensure_keypair(app.instance_path)
    make_user(org, "aud@bpk.go.id", "auditor")
    auditor = app.test_client()
    login(auditor, "aud@bpk.go.id")
    month = __import__("survey.core.db", fromlist=["utcnow"]).utcnow().strftime("%Y-%m")
    assert auditor.get(f"/audit/ekspor/KEC-A.bundle?period={month}").status_code == 200
    covered = text(check(client, code))
    assert "Ekspor bertanda tangan mencakupnya sejak" in covered


def test_typing_variants_are_read_and_unknown_codes_are_not_confirmed(app, org, client):
    code = answer(client)
    typed = code.lower().replace("-", " ").replace("0", "o")
    assert "tercatat dalam rantai hash" in text(check(client, typed))
    unknown = "ZZZZZ-ZZZZZ" if code != "ZZZZZ-ZZZZZ" else "YYYYY-YYYYY"
    assert "tidak ada jawaban dengan kode ini" in text(check(client, unknown))
    malformed = check(client, "ABC")
    assert malformed.status_code == 422 and "sepuluh huruf dan angka" in text(malformed)
    missing_csrf = client.post("/cek-kode", data={"code": code})
    assert missing_csrf.status_code == 400


def test_the_check_page_is_rate_limited(app, org, client):
    page = get(client, "/cek-kode").get_data(as_text=True)
    token = csrf_from(page)
    codes = [client.post("/cek-kode", data={"csrf_token": token, "code": "ABCDE-FGHJK"}
                         ).status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
