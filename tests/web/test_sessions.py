"""Staff sessions end when they should (logout, password change or reset, role change,
deactivation), users change their own password, and API tokens expire, are listed and
can be revoked (admin page and `flask user token --revoke`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from support.factories import make_user
from support.web import csrf_from, get, login, submit, text

from survey.core.db import db, utcnow
from survey.core.models import ApiToken, AuditEvent, User

PASSWORD = "long enough password"


def signed_in(client) -> bool:
    """Whether the client's session still opens a staff page."""
    return get(client, "/loket/").status_code == 200


@pytest.fixture
def staff(app, org):
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    make_user(org, "admin@skm.go.id", "admin")
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        assert login(browser, "staff@kec-a.go.id").status_code == 302
        assert signed_in(browser)
    return browsers


def user(email: str = "staff@kec-a.go.id") -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_logout_ends_every_session_of_the_user(staff):
    laptop, phone = staff
    copied = laptop.get_cookie("session").value  # e.g. taken from a shared computer
    page = get(laptop, "/loket/").get_data(as_text=True)
    assert laptop.post("/auth/logout", data={"csrf_token": csrf_from(page)}).status_code == 303
    assert not signed_in(laptop) and not signed_in(phone)
    laptop.set_cookie("session", copied)
    assert not signed_in(laptop)  # the old cookie is worth nothing now


def test_an_admin_password_reset_deactivation_or_role_change_ends_sessions(app, staff):
    admin = app.test_client()
    login(admin, "admin@skm.go.id")
    account = user().id
    reset = submit(admin, f"/admin/pengguna/{account}/sandi", {"password": "x" * 12},
                   form_url=f"/admin/pengguna/{account}")
    assert reset.status_code == 303
    assert not any(signed_in(b) for b in staff)

    again = app.test_client()
    login(again, "staff@kec-a.go.id", "x" * 12)
    assert signed_in(again)
    moved = submit(admin, f"/admin/pengguna/{account}", {
        "name": "", "role": "agency_manager", "agencies": "KEC-A", "active": "y"})
    assert moved.status_code == 303 and not signed_in(again)

    again = app.test_client()
    login(again, "staff@kec-a.go.id", "x" * 12)
    assert get(again, "/dashboard/").status_code in (200, 302)
    renamed = submit(admin, f"/admin/pengguna/{account}", {
        "name": "Budi", "role": "agency_manager", "agencies": "KEC-A", "active": "y"})
    assert renamed.status_code == 303  # a new name changes nothing the user may see ...
    assert get(again, "/admin/").status_code == 200  # ... so the session stays
    off = submit(admin, f"/admin/pengguna/{account}", {
        "name": "Budi", "role": "agency_manager", "agencies": "KEC-A"})
    assert off.status_code == 303 and get(again, "/admin/").status_code == 302


def test_users_change_their_own_password(app, staff):
    laptop, phone = staff
    assert "Ubah kata sandi" in text(get(laptop, "/loket/"))
    wrong = submit(laptop, "/auth/sandi", {"current": "not it at all", "new": "a new secret 1",
                                           "repeat": "a new secret 1"})
    assert wrong.status_code == 422 and "Kata sandi saat ini salah." in text(wrong)
    differ = submit(laptop, "/auth/sandi", {"current": PASSWORD, "new": "a new secret 1",
                                            "repeat": "a new secret 2"})
    assert differ.status_code == 422 and "Kedua kata sandi baru tidak sama." in text(differ)
    assert signed_in(phone)  # nothing changed yet
    done = submit(laptop, "/auth/sandi", {"current": PASSWORD, "new": "a new secret 1",
                                          "repeat": "a new secret 1"})
    assert done.status_code == 303
    assert signed_in(laptop) and not signed_in(phone)
    assert login(app.test_client(), "staff@kec-a.go.id").status_code == 401
    assert login(app.test_client(), "staff@kec-a.go.id", "a new secret 1").status_code == 302
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "password_changed")).all()
    assert event.actor == "staff@kec-a.go.id" and "secret" not in str(event.details)


def api(client, token: str) -> int:
    return client.get("/api/v1/agencies", headers={"Authorization": f"Bearer {token}"}
                      ).status_code


def test_tokens_expire_are_listed_and_revoked_from_the_command_line(app, org, client, runner):
    make_user(org, "aud@bpk.go.id", "auditor")
    created = runner.invoke(args=["user", "token", "--email", "aud@bpk.go.id", "--name",
                                  "BI dashboard", "--days", "30"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert api(client, token) == 200
    row = db.session.scalar(select(ApiToken))
    assert row.expires_at - row.created_at == timedelta(days=30)
    listing = runner.invoke(args=["user", "tokens", "--email", "aud@bpk.go.id"]).output
    assert "BI dashboard" in listing and "active" in listing
    assert token not in listing  # only its hash is stored

    revoked = runner.invoke(args=["user", "token", "--revoke", str(row.id)])
    assert revoked.exit_code == 0 and "Revoked token" in revoked.output
    assert api(client, token) == 401
    again = runner.invoke(args=["user", "token", "--revoke", str(row.id)])
    assert again.exit_code == 1 and "already revoked" in again.output
    neither = runner.invoke(args=["user", "token"])
    assert neither.exit_code == 1 and "--email" in neither.output

    expiring = runner.invoke(args=["user", "token", "--email", "aud@bpk.go.id", "--days", "1"]
                             ).output.strip()
    assert api(client, expiring) == 200
    newest = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    newest.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert api(client, expiring) == 401


def test_an_admin_revokes_a_token_on_the_user_page(app, org, client, runner):
    make_user(org, "admin@skm.go.id", "admin")
    auditor = make_user(org, "aud@bpk.go.id", "auditor")
    token = runner.invoke(args=["user", "token", "--email", "aud@bpk.go.id", "--name",
                                "sheet sync"]).output.strip()
    login(client, "admin@skm.go.id")
    page = text(get(client, f"/admin/pengguna/{auditor.id}"))
    assert "sheet sync" in page and "Cabut" in page and "belum pernah" in page
    row = db.session.scalar(select(ApiToken))
    response = client.post(f"/admin/pengguna/{auditor.id}/token/{row.id}/cabut",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert api(app.test_client(), token) == 401
    assert "dicabut pada" in text(get(client, f"/admin/pengguna/{auditor.id}"))
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "api_token_revoked")).all()
    assert event.actor == "admin@skm.go.id" and event.target == "aud@bpk.go.id"
    # Another user's token id under this user is not found.
    other = make_user(org, "other@bpk.go.id", "auditor")
    forged = client.post(f"/admin/pengguna/{other.id}/token/{row.id}/cabut",
                         data={"csrf_token": csrf_from(page)})
    assert forged.status_code == 404
