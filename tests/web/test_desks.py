"""Staff desk pages (QR codes, posters, visit tickets), the queue-system ticket API, and
the desk/ticket commands."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from sqlalchemy import func, select
from support.factories import SetupMark, desk, make_user
from support.web import csrf_from, forget_request_state, login

from survey.core.db import db
from survey.core.models import AuditEvent, Desk, Ticket

HAS_ZBAR = shutil.which("zbarimg") is not None
HAS_PDFTOTEXT = shutil.which("pdftotext") is not None


@pytest.fixture
def two_agencies(org):
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    db.session.commit()
    return org


def test_login_logout_and_failed_login_are_audited(app, client, org):
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    SetupMark.take(db.session)
    bad = login(client, "staff@kec-a.go.id", "wrong password!")
    assert bad.status_code == 401 and "Surel atau kata sandi salah" in bad.get_data(True)
    good = login(client, "staff@kec-a.go.id")
    assert good.status_code == 302 and good.headers["Location"].endswith("/loket/")
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.id > SetupMark.audit_id).order_by(AuditEvent.id)).all()
    assert actions == ["login_failed", "login"]
    page = client.get("/loket/").get_data(as_text=True)
    assert "Keluar" in page
    forget_request_state()
    out = client.post("/auth/logout", data={"csrf_token": csrf_from(page)})
    assert out.status_code == 303
    assert client.get("/loket/").status_code == 302  # back to the login page


def test_login_attempts_are_rate_limited(app, client, org):
    for _ in range(10):
        login(client, "nobody@x.go.id", "wrong password!")
    assert login(client, "nobody@x.go.id", "wrong password!").status_code == 429


def test_desk_staff_sees_only_their_desks(app, client, two_agencies):
    make_user(two_agencies, "s@a.go.id", "desk_staff", ["KEC-A"])
    login(client, "s@a.go.id")
    html = client.get("/loket/").get_data(as_text=True)
    assert "Loket 1" in html and "Loket B1" not in html
    other = desk(agency="KEC-B")
    assert client.get(f"/loket/{other.id}/qr.png").status_code == 404
    assert client.post(f"/loket/{other.id}/tiket", data={"csrf_token": csrf_from(html)}
                       ).status_code == 404


def test_staff_prints_a_ticket_that_opens_the_form(app, client, org):
    make_user(org, "s@a.go.id", "desk_staff", ["KEC-A"])
    login(client, "s@a.go.id")
    html = client.get("/loket/").get_data(as_text=True)
    d = desk()
    ticket = client.post(f"/loket/{d.id}/tiket", data={"csrf_token": csrf_from(html)})
    text = ticket.get_data(as_text=True)
    assert ticket.status_code == 200 and "<svg" in text
    with client.get("/static/ticket.css") as css:
        assert "size:80mm" in css.get_data(as_text=True)  # the receipt-printer layout
    url = re.search(r'class="url">([^<]+)<', text).group(1)
    assert url.startswith("https://survey.example.go.id/t/")
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    token = url.rsplit("/", 1)[1]
    forget_request_state()
    assert client.get(f"/t/{token}").status_code == 200


def test_auditor_cannot_issue_tickets(app, client, org):
    make_user(org, "a@x.go.id", "auditor")
    login(client, "a@x.go.id")
    html = client.get("/loket/").get_data(as_text=True)
    assert "Cetak tiket" not in html
    assert client.post(f"/loket/{desk().id}/tiket", data={"csrf_token": csrf_from(html)}
                       ).status_code == 403


@pytest.mark.skipif(not HAS_ZBAR, reason="zbarimg (Debian zbar-tools) is not installed")
def test_qr_png_decodes_to_the_public_survey_url(app, client, org, tmp_path):
    make_user(org, "m@a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@a.go.id")
    d = desk()
    png = client.get(f"/loket/{d.id}/qr.png")
    assert png.mimetype == "image/png"
    (tmp_path / "qr.png").write_bytes(png.data)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "qr.png")],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert decoded == f"https://survey.example.go.id/s/{d.slug}"
    svg = client.get(f"/loket/{d.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")


def test_qr_ignores_the_request_host(app, org):
    """QR codes only ever encode this site's configured address."""
    from survey.web.urls import survey_url

    with app.test_request_context("/", base_url="https://evil.example"):
        assert survey_url(desk()).startswith("https://survey.example.go.id/s/")


@pytest.mark.skipif(not HAS_PDFTOTEXT, reason="pdftotext (Debian poppler-utils) missing")
def test_posters_pdf(app, client, org, tmp_path):
    make_user(org, "m@a.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@a.go.id")
    pdf = client.get("/loket/instansi/KEC-A/poster.pdf")
    assert pdf.mimetype == "application/pdf"
    (tmp_path / "p.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    for d in db.session.scalars(select(Desk)):
        assert d.name in text and d.slug in text
    assert "Pindai kode QR" in text and "Scan the QR code" in text
    assert text.count("\f") == 2  # one A4 page per desk
    assert client.get("/loket/instansi/NOPE/poster.pdf").status_code == 404


def test_ticket_api_needs_the_desk_key(app, client, org, runner):
    assert client.post("/api/v1/tickets").status_code == 401
    assert client.post("/api/v1/tickets", headers={"Authorization": "Bearer nope"}
                       ).status_code == 401
    key = runner.invoke(args=["desk", "api-key", "--agency", "KEC-A", "--desk", "L1"]
                        ).output.strip()
    assert key.startswith("skm_")
    auth = {"Authorization": f"Bearer {key}"}
    made = client.post("/api/v1/tickets", json={"count": 3}, headers=auth)
    assert made.status_code == 201
    body = made.get_json()
    assert (body["agency"], body["desk"], len(body["tickets"])) == ("KEC-A", "L1", 3)
    token = body["tickets"][0]["url"].rsplit("/", 1)[1]
    assert client.get(f"/t/{token}").status_code == 200
    for bad in ({"count": 0}, {"count": "2"}, {"count": 501}, [1]):
        response = client.post("/api/v1/tickets", json=bad, headers=auth)
        assert response.status_code == 400 and "error" in response.get_json()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_cli_ticket_issue_and_errors(app, runner, org):
    out = runner.invoke(args=["ticket", "issue", "--agency", "KEC-A", "--desk", "L1",
                              "--count", "2"])
    assert out.exit_code == 0
    urls = out.output.split()
    assert len(urls) == 2 and all(u.startswith("https://survey.example.go.id/t/") for u in urls)
    bad = runner.invoke(args=["ticket", "issue", "--agency", "KEC-A", "--desk", "L1",
                              "--count", "0"])
    assert bad.exit_code != 0 and "count must be between" in bad.output
    d = desk()
    d.active = False
    db.session.commit()
    closed = runner.invoke(args=["ticket", "issue", "--agency", "KEC-A", "--desk", "L1"])
    assert closed.exit_code != 0 and "closed" in closed.output


@pytest.mark.skipif(not (HAS_ZBAR and HAS_PDFTOTEXT), reason="zbar-tools/poppler missing")
def test_cli_qr_and_posters(app, runner, org, tmp_path):
    d = desk()
    for fmt in ("png", "svg", "pdf"):
        out = tmp_path / f"qr.{fmt}"
        result = runner.invoke(args=["desk", "qr", "--agency", "KEC-A", "--desk", "L1",
                                     "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "qr.png")],
                          capture_output=True, text=True).stdout.strip().endswith(d.slug)
    assert (tmp_path / "qr.svg").read_text().startswith("<svg")
    assert (tmp_path / "qr.pdf").read_bytes().startswith(b"%PDF")
    result = runner.invoke(args=["desk", "posters", "--agency", "KEC-A", "--out",
                                 str(tmp_path / "all.pdf")])
    assert result.exit_code == 0 and "2 posters" in result.output
    bad = runner.invoke(args=["desk", "qr", "--agency", "KEC-A", "--desk", "L9", "--format",
                              "png", "--out", str(tmp_path / "x.png")])
    assert bad.exit_code != 0 and "no desk" in bad.output
    bad = runner.invoke(args=["desk", "qr", "--agency", "KEC-A", "--desk", "L1", "--format",
                              "gif", "--out", str(tmp_path / "x.gif")])
    assert bad.exit_code != 0


def test_strangers_cannot_lock_a_colleague_out(app, client, org):
    """30 wrong passwords for one account, from ten other addresses, slow only those
    addresses: the real user, from their own address, signs in at once."""
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    for attempt in range(30):
        forget_request_state()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{attempt % 10}"
        login(client, "staff@kec-a.go.id", "wrong password!")
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert login(client, "staff@kec-a.go.id").status_code == 302


def test_repeated_tries_for_one_account_from_one_address_are_throttled(app, client, org):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # leave the per-address limit aside
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    for _ in range(30):
        login(client, "staff@kec-a.go.id", "wrong password!")
    assert login(client, "staff@kec-a.go.id").status_code == 429


def test_a_failed_sign_in_never_stores_what_was_typed(app, client, org):
    user = make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    SetupMark.take(db.session)
    login(client, "staff@kec-a.go.id", "wrong password!")
    login(client, "MySecretPassword123", "wrong password!")  # a password in the e-mail field
    failed = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "login_failed", AuditEvent.id > SetupMark.audit_id)
        .order_by(AuditEvent.id)).all()
    assert [(e.actor, e.target) for e in failed] == [("anonymous", f"user:{user.id}"),
                                                     ("anonymous", None)]
    assert "MySecretPassword123" not in str([(e.details, e.actor, e.target) for e in failed])
