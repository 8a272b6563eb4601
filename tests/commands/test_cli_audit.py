"""Every organisation change through a `flask` command writes the audit event the web form
writes for the same change: same action, same details, the actor "cli" instead of the
signed-in user. Each test makes the change once through the command line and once
through the admin page, and compares the two events."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.factories import SetupMark, desk, make_user
from support.web import login, submit

from survey.core.db import db
from survey.core.models import AuditEvent, User

ADMIN = "admin@skm.go.id"


@pytest.fixture
def admin(app, org, client):
    make_user(org, ADMIN, "admin")
    SetupMark.take(db.session)
    login(client, ADMIN)
    return client


def cli(runner, *args: str, input: str | None = None) -> None:
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output


def web(client, url: str, data: dict) -> None:
    """Post the form like a browser; the page redirects after saving."""
    response = submit(client, url, data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.id > SetupMark.audit_id)
        .order_by(AuditEvent.id)))


def one_each(action: str) -> tuple[AuditEvent, AuditEvent]:
    """The command's event and the web form's event, in that order."""
    by_cli = [e for e in events(action) if e.actor == "cli"]
    by_web = [e for e in events(action) if e.actor == ADMIN]
    assert len(by_cli) == 1 and len(by_web) == 1, [(e.actor, e.target) for e in
                                                   events(action)]
    assert by_cli[0].user_id is None and by_web[0].user_id is not None
    return by_cli[0], by_web[0]


def test_agency_create(admin, runner):
    cli(runner, "agency", "create", "--code", "KEC-C", "--name", "Kecamatan Baru",
        "--parent", "KEC-A")
    web(admin, "/admin/instansi/baru", {"code": "KEC-D", "name": "Kecamatan Baru",
                                        "parent": "KEC-A", "timezone": "Asia/Jakarta"})
    by_cli, by_web = one_each("agency_created")
    assert (by_cli.target, by_web.target) == ("KEC-C", "KEC-D")
    assert by_cli.details == by_web.details == {"name": "Kecamatan Baru", "parent": "KEC-A"}


def test_desk_create(admin, runner):
    cli(runner, "desk", "create", "--agency", "KEC-A", "--code", "L3", "--name", "Loket 3")
    web(admin, "/admin/instansi/KEC-A/loket/baru", {
        "code": "L4", "name": "Loket 3", "questionnaire": "permenpan-14-2017"})
    by_cli, by_web = one_each("desk_created")
    assert (by_cli.target, by_web.target) == ("KEC-A/L3", "KEC-A/L4")
    assert by_cli.details == by_web.details == {
        "name": "Loket 3", "questionnaire": "permenpan-14-2017", "services": []}


def test_service_create(admin, runner):
    cli(runner, "service", "create", "--agency", "KEC-A", "--code", "AKTA", "--name", "Akta",
        "--desk", "L1")
    web(admin, "/admin/instansi/KEC-A/layanan/baru", {
        "code": "AKTB", "name_id": "Akta", "active": "y", "desks": str(desk("L1").id)})
    by_cli, by_web = one_each("service_created")
    assert (by_cli.target, by_web.target) == ("KEC-A/AKTA", "KEC-A/AKTB")
    assert by_cli.details == by_web.details == {
        "name_id": "Akta", "name_en": None, "active": True, "desks": ["L1"]}


def test_user_create(admin, runner):
    cli(runner, "user", "create", "--email", "one@kec-a.go.id", "--role", "agency_manager",
        "--agency", "KEC-A", "--password-stdin", input="long enough password\n")
    web(admin, "/admin/pengguna/baru", {
        "email": "two@kec-a.go.id", "password": "long enough password",
        "role": "agency_manager", "agencies": "KEC-A"})
    by_cli, by_web = one_each("user_created")
    assert (by_cli.target, by_web.target) == ("one@kec-a.go.id", "two@kec-a.go.id")
    assert by_cli.details == by_web.details == {"role": "agency_manager",
                                                "agencies": ["KEC-A"]}
    assert "password" not in str(by_cli.details) + str(by_web.details)


def test_volume_set(admin, runner):
    l1 = desk("L1")
    cli(runner, "volume", "set", "--agency", "KEC-A", "--desk", "L1", "--month", "2024-06",
        "--count", "500")
    # The grid posts every month of every desk; only July changes.
    cells = {f"v-{d.id}-{m}": "" for d in (l1, desk("L2")) for m in range(1, 13)}
    cells.update({f"v-{l1.id}-5": "450", f"v-{l1.id}-6": "500", f"v-{l1.id}-7": "510"})
    web(admin, "/admin/instansi/KEC-A/volume?tahun=2024", cells)
    by_cli, by_web = one_each("volume_set")
    assert by_cli.target == by_web.target == "KEC-A 2024"
    assert by_cli.details == {"changes": [
        {"desk": "L1", "month": "2024-06", "old": None, "new": 500}]}
    assert by_web.details == {"changes": [
        {"desk": "L1", "month": "2024-07", "old": None, "new": 510}]}


def test_volume_set_by_day_and_unchanged_values(admin, runner):
    cli(runner, "volume", "set", "--agency", "KEC-A", "--desk", "L2", "--day", "2024-05-31",
        "--count", "12")
    cli(runner, "volume", "set", "--agency", "KEC-A", "--desk", "L2", "--day", "2024-05-31",
        "--count", "12")  # the same value again changes nothing: no second event
    [event] = events("volume_set")
    assert (event.actor, event.target) == ("cli", "KEC-A 2024")
    assert event.details == {"changes": [
        {"desk": "L2", "month": "2024-05-31", "old": None, "new": 12}]}


def test_commands_without_a_web_form_are_audited_as_cli(admin, runner):
    cli(runner, "desk", "api-key", "--agency", "KEC-A", "--desk", "L1")
    cli(runner, "user", "token", "--email", ADMIN, "--name", "BI dashboard")
    [key] = events("desk_api_key")
    [token] = events("api_token_created")
    assert (key.actor, key.target) == ("cli", "KEC-A/L1")
    assert (token.actor, token.target, token.details["name"]) == ("cli", ADMIN, "BI dashboard")
    assert token.details["expires_at"] > "2026"  # tokens expire (365 days by default)


def test_a_refused_command_writes_no_event(admin, runner):
    result = runner.invoke(args=["agency", "create", "--code", "KEC-A", "--name", "Again"])
    assert result.exit_code == 1 and "agency KEC-A already exists" in result.output
    result = runner.invoke(args=["user", "create", "--email", "x@kec-a.go.id", "--role",
                                 "desk_staff", "--password-stdin"],
                           input="long enough password\n")
    assert result.exit_code == 1 and "needs at least one --agency" in result.output
    assert not events("agency_created") and not events("user_created")
    assert db.session.scalar(select(User).where(User.email == "x@kec-a.go.id")) is None
