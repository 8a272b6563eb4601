"""Refusals and error pages in the visitor's language: the core's errors translated with
their line, the error pages' titles and sentences (never Werkzeug's English or the rate
limiter's "10 per 1 minute"), labels instead of codes, and the API's machine codes."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from support.factories import fill, make_user
from support.web import csrf_from, forget_request_state, get, login, text

from survey.core.errors import ValidationError
from survey.web.messages import MESSAGES, message_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(app, org, client):
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    return client


def in_english(client) -> None:
    client.get("/bahasa/en")


def upload_volumes(client, data: bytes):
    page = get(client, "/admin/volume/impor")
    forget_request_state()
    return client.post("/admin/volume/impor", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "file": (BytesIO(data), "v.csv")}, content_type="multipart/form-data")


def test_a_volume_import_error_names_the_line_in_the_visitors_language(admin):
    login(admin, "admin@skm.go.id")
    bad = b"agency,desk,month,count\nKEC-A,L1,2024-05,10\nKEC-A,L9,2024-05,1\n"
    page = text(upload_volumes(admin, bad))
    assert "Baris 3: Instansi KEC-A tidak memiliki loket “L9”." in page
    assert "has no desk" not in page
    in_english(admin)
    page = text(upload_volumes(admin, bad))
    assert "Line 3: Agency KEC-A has no desk “L9”." in page


def test_a_response_import_error_names_line_and_column(admin):
    login(admin, "admin@skm.go.id")
    header = "agency,desk," + ",".join(f"U{i}" for i in range(1, 10)) + ",sex\n"
    page = get(admin, "/kertas/impor")
    forget_request_state()
    response = admin.post("/kertas/impor", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "file": (BytesIO((header + "KEC-A,L1," + "4," * 9 + "M\n").encode()), "r.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert ("Baris 2, kolom jenis kelamin: “M” bukan salah satu dari L, P (atau kosong)."
            in text(response))


def test_a_forbidden_page_in_both_languages(admin):
    login(admin, "staff@kec-a.go.id")
    response = get(admin, "/admin/")
    page = text(response)
    assert response.status_code == 403
    assert "<title>Akses ditolak" in page
    assert "Akun Anda tidak boleh membuka halaman ini." in page
    assert "permission" not in page  # Werkzeug's "You don't have the permission ..."
    in_english(admin)
    page = text(get(admin, "/admin/"))
    assert "<title>Access denied" in page and "Your account may not open this page." in page


def test_too_many_sign_ins_in_both_languages_with_retry_after(admin):
    for _ in range(10):
        login(admin, "nobody@x.go.id", "wrong password!")
    refused = login(admin, "nobody@x.go.id", "wrong password!")
    page = text(refused)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan. Silakan coba lagi dalam beberapa menit." in page
    assert "per 1 minute" not in page
    in_english(admin)
    refused = login(admin, "nobody@x.go.id", "wrong password!")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many attempts. Please try again in a few minutes." in text(refused)


def test_the_audit_log_shows_labels_not_codes_or_json(admin):
    login(admin, "nobody@x.go.id", "wrong password!")
    login(admin, "admin@skm.go.id")
    page = text(get(admin, "/audit/log"))
    log = page[page.index("<table"):]
    assert "Gagal masuk" in log and "login_failed" not in log
    assert "<dt>Peran</dt><dd>Petugas loket</dd>" in log  # user_created of the staff
    assert "Tidak dikenal (gagal masuk)" in log and "Operator (baris perintah)" in log
    assert not re.search(r"\{\s*&#34;|\{\s*\"|\{\}", log), "raw JSON in the audit log"


def test_channels_have_labels_on_the_dashboard(admin, org):
    fill(org, per_desk=3)
    login(admin, "admin@skm.go.id")
    page = text(get(admin, "/dashboard/KEC-A?period=2024-05"))
    assert "Kode QR" in page and not re.search(r"\bqr \d", page)


def test_api_errors_carry_a_machine_code(admin, runner):
    out = runner.invoke(args=["user", "token", "--email", "admin@skm.go.id", "--name", "t"])
    token = out.output.strip().split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    bad = admin.get("/api/v1/agencies/KEC-A/results?period=2024-Q9", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_period"
    missing = admin.get("/api/v1/agencies/NOPE/desks", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    anonymous = admin.get("/api/v1/agencies")
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "unauthorized"


def test_every_code_the_core_raises_has_a_translation():
    """A new refusal without a message would reach people as a vague sentence."""
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (ROOT / "survey" / "core").rglob("*.py"))
    codes = set(re.findall(r'code="([a-z_]+)"', source))
    codes |= set(re.findall(r'_RowError\([^()]*?"[^"]*"[^()]*?, "([a-z_]+)"', source, re.S))
    assert len(codes) > 60
    assert codes - MESSAGES.keys() == set()


def test_an_error_without_a_code_is_not_shown_in_english(app):
    with app.test_request_context("/", headers={"Accept-Language": "id"}):
        assert message_for(ValidationError("something odd")) == (
            "Isian tidak dapat diterima; tidak ada yang disimpan.")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 429, 500, 503])
@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_error_page_has_a_title_and_a_sentence_in_both_languages(app, status, locale):
    """Whatever the status, the page says what happened in the visitor's language and
    never shows Werkzeug's English description."""
    from flask import abort
    from werkzeug.exceptions import HTTPException, default_exceptions

    from survey.web.app import ERROR_SENTENCES, ERROR_TITLES

    with app.test_request_context("/x", headers={"Accept-Language": locale}):
        app.preprocess_request()  # the locale and the signed-out user, as in a request
        try:
            abort(status)
        except HTTPException as exc:
            response = app.make_response(app.handle_user_exception(exc))
        title, sentence = str(ERROR_TITLES[status]()), str(ERROR_SENTENCES[status]())
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert f"<title>{title}" in page.replace("&#39;", "'")
    assert sentence in page.replace("&#39;", "'")
    assert default_exceptions[status].description not in page
    if locale == "id":
        assert "Please" not in page and "page" not in title.lower()


def test_wtforms_own_messages_are_translated(admin):
    """WTForms has no Indonesian catalogue: its messages come from ours."""
    from support.web import submit

    login(admin, "admin@skm.go.id")
    admin.get("/bahasa/id")
    bad_role = submit(admin, "/admin/pengguna/baru", {
        "email": "x@a.go.id", "role": "bogus", "password": "x" * 12})
    assert bad_role.status_code == 422 and "Pilihan tidak sah." in text(bad_role)
    bad_service = submit(admin, "/admin/instansi/KEC-A/loket/baru", {
        "code": "L9", "name": "X", "services": ["999"]})
    page = text(bad_service)
    assert bad_service.status_code == 422
    assert "'999' bukan pilihan yang sah untuk bagian ini." in page
    assert "not a valid choice" not in page
