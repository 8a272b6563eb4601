"""Operator commands, their output, and their error paths (non-zero, a clear message,
nothing stored)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from survey.core.db import db
from survey.core.models import (
    Agency,
    Answer,
    ChainEntry,
    Desk,
    Questionnaire,
    ReportingPeriod,
    Response,
    Service,
    ServiceVolume,
    User,
)
from survey.core.periods import add_months, local_today


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def ok(runner, *args, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def fails(runner, *args, match: str, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code != 0, result.output
    assert match in result.output, result.output
    return result.output


@pytest.fixture
def kec(runner):
    ok(runner, "agency", "create", "--code", "KEC-A", "--name", "Kecamatan A",
       "--head-name", "Budi", "--head-nip", "197001012000031001")
    ok(runner, "desk", "create", "--agency", "KEC-A", "--code", "L1", "--name", "Loket 1")
    return runner


def test_init_migrates_and_seeds_both_standards(empty_app, tmp_path):
    app = empty_app
    runner = app.test_cli_runner()
    first = ok(runner, "init")
    assert "Seeded questionnaire permenpan-14-2017" in first
    assert "Seeded questionnaire kepmenpan-25-2004" in first
    assert "Created the export signing key pair" in first
    private = tmp_path / "instance" / "signing-key.pem"
    assert private.exists() and oct(private.stat().st_mode & 0o777) == "0o600"
    second = ok(runner, "init")
    assert "Seeded" not in second and "signing key" not in second
    with app.app_context():
        codes = {q.code: [e.code for e in q.elements]
                 for q in db.session.scalars(select(Questionnaire))}
    assert codes["permenpan-14-2017"] == [f"U{i}" for i in range(1, 10)]
    assert codes["kepmenpan-25-2004"] == [f"U{i}" for i in range(1, 15)]


def test_seeded_questionnaire_has_both_languages(app):
    with app.app_context():
        q = db.session.scalar(select(Questionnaire).where(
            Questionnaire.code == "permenpan-14-2017"))
        u4 = q.elements[3]
        assert u4.name_id == "Biaya/Tarif"
        assert u4.labels_id == ["Sangat mahal", "Cukup mahal", "Murah", "Gratis"]
        assert u4.labels_en[3] == "Free of charge"
        assert q.elements[7].name_id == "Sarana dan Prasarana"  # U8 = facilities (rule)
        assert q.elements[8].code == "U9" and "pengaduan" in q.elements[8].question_id


def test_agency_create_and_its_errors(app, runner):
    assert "Created agency MPP" in ok(runner, "agency", "create", "--code", "MPP",
                                      "--name", "Mal Pelayanan Publik")
    ok(runner, "agency", "create", "--code", "DUKCAPIL", "--name", "Dukcapil",
       "--parent", "MPP")
    fails(runner, "agency", "create", "--code", "MPP", "--name", "Again",
          match="already exists")
    fails(runner, "agency", "create", "--code", "bad code!", "--name", "X", match="invalid")
    fails(runner, "agency", "create", "--code", "X", "--name", "  ", match="must not be empty")
    fails(runner, "agency", "create", "--code", "Y", "--name", "Y", "--parent", "NOPE",
          match="no agency with code 'NOPE'")
    fails(runner, "agency", "create", "--code", "Z", "--name", "Z", "--timezone", "Mars/Base",
          match="unknown time zone")
    fails(runner, "agency", "create", "--code", "W", "--name", "W", "--head-nip", "123",
          match="NIP must have 18 digits")
    fails(runner, "agency", "create", "--name", "no code", match="Missing option '--code'")
    with app.app_context():
        agencies = {a.code: a for a in db.session.scalars(select(Agency))}
        assert set(agencies) == {"MPP", "DUKCAPIL"}
        assert agencies["DUKCAPIL"].parent.code == "MPP"


def test_desk_create_list_json(app, kec):
    ok(kec, "desk", "create", "--agency", "KEC-A", "--code", "L2", "--name", "Loket 2",
       "--location", "Lantai 1")
    desks = json.loads(ok(kec, "desk", "list", "--format", "json"))
    assert [(d["agency"], d["code"], d["name"]) for d in desks] == [
        ("KEC-A", "L1", "Loket 1"), ("KEC-A", "L2", "Loket 2")]
    with app.app_context():
        slugs = dict(db.session.execute(select(Desk.code, Desk.slug)).all())
    for d in desks:
        assert set(d) >= {"agency", "code", "name", "url"}
        assert d["url"] == f"https://survey.example.go.id/s/{slugs[d['code']]}"
    table = ok(kec, "desk", "list")
    assert "Loket 2" in table and slugs["L2"] in table


def test_desk_errors_store_nothing(app, kec):
    fails(kec, "desk", "create", "--agency", "NOPE", "--code", "L1", "--name", "x",
          match="no agency")
    fails(kec, "desk", "create", "--agency", "KEC-A", "--code", "L1", "--name", "x",
          match="already has a desk L1")
    fails(kec, "desk", "create", "--agency", "KEC-A", "--code", "L3", "--name", "x",
          "--questionnaire", "custom-x", match="no questionnaire 'custom-x'")
    fails(kec, "desk", "list", "--agency", "NOPE", match="no agency")
    fails(kec, "desk", "list", "--format", "xml", match="Invalid value")
    assert count(app, Desk) == 1


def test_desk_on_the_2004_questionnaire(app, kec):
    ok(kec, "desk", "create", "--agency", "KEC-A", "--code", "OLD", "--name", "Legacy",
       "--questionnaire", "kepmenpan-25-2004")
    with app.app_context():
        desk = db.session.scalar(select(Desk).where(Desk.code == "OLD"))
        assert len(desk.questionnaire.elements) == 14


def test_service_create(app, kec):
    ok(kec, "service", "create", "--agency", "KEC-A", "--code", "KTP", "--name", "KTP-el",
       "--name-en", "ID card", "--desk", "L1")
    fails(kec, "service", "create", "--agency", "KEC-A", "--code", "KTP", "--name", "x",
          match="already has a service KTP")
    fails(kec, "service", "create", "--agency", "KEC-A", "--code", "KK", "--name", "x",
          "--desk", "L9", match="no desk with code 'L9'")
    with app.app_context():
        services = db.session.scalars(select(Service)).all()
        assert [(s.code, [d.code for d in s.desks]) for s in services] == [("KTP", ["L1"])]


def test_user_create_from_stdin(app, kec):
    out = ok(kec, "user", "create", "--email", "Manager@Kec-A.go.id", "--role",
             "agency_manager", "--agency", "KEC-A", "--password-stdin",
             input="correct horse battery\n")
    assert "Created agency_manager manager@kec-a.go.id" in out
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.email == "manager@kec-a.go.id"
        assert user.password_hash != "correct horse battery"
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert [a.code for a in user.agencies] == ["KEC-A"]


def test_user_create_prompts_twice_for_the_password(app, kec):
    ok(kec, "user", "create", "--email", "admin@x.go.id", "--role", "admin",
       input="a long password\na long password\n")
    assert count(app, User) == 1


@pytest.mark.parametrize("args, stdin, message", [
    (["--email", "not-an-email", "--role", "admin"], "long enough pw\n", "not an e-mail"),
    (["--email", "a@b.go.id", "--role", "admin"], "short\n", "at least 10 characters"),
    (["--email", "a@b.go.id", "--role", "agency_manager"], "long enough pw\n",
     "needs at least one --agency"),
    (["--email", "a@b.go.id", "--role", "desk_staff", "--agency", "NOPE"], "long enough pw\n",
     "no agency"),
    (["--email", "a@b.go.id", "--role", "superuser"], "long enough pw\n", "Invalid value"),
])
def test_user_create_errors(app, kec, args, stdin, message):
    fails(kec, "user", "create", *args, "--password-stdin", input=stdin, match=message)
    assert count(app, User) == 0


def test_user_email_is_unique_case_insensitively(app, kec):
    ok(kec, "user", "create", "--email", "a@b.go.id", "--role", "auditor", "--password-stdin",
       input="long enough pw\n")
    fails(kec, "user", "create", "--email", "A@B.go.id", "--role", "auditor",
          "--password-stdin", input="long enough pw\n", match="already exists")


def test_volume_set_month_and_day_and_replace(app, kec):
    ok(kec, "volume", "set", "--agency", "KEC-A", "--desk", "L1", "--month", "2024-05",
       "--count", "450")
    ok(kec, "volume", "set", "--agency", "KEC-A", "--desk", "L1", "--month", "2024-05",
       "--count", "460")
    ok(kec, "volume", "set", "--agency", "KEC-A", "--desk", "L1", "--day", "2024-06-03",
       "--count", "31")
    with app.app_context():
        rows = sorted((v.granularity, v.period_start.isoformat(), v.count)
                      for v in db.session.scalars(select(ServiceVolume)))
    assert rows == [("day", "2024-06-03", 31), ("month", "2024-05-01", 460)]


@pytest.mark.parametrize("args, message", [
    (["--month", "2024-13", "--count", "5"], "must look like 2024-05"),
    (["--month", "May", "--count", "5"], "must look like 2024-05"),
    (["--day", "2024-02-30", "--count", "5"], "must look like 2024-05-31"),
    (["--month", "2024-05", "--count", "-3"], "count must be a whole number >= 0"),
    (["--month", "2024-05", "--day", "2024-05-01", "--count", "3"], "exactly one of"),
    (["--count", "3"], "exactly one of"),
    (["--month", "2024-05", "--count", "many"], "Invalid value"),
])
def test_volume_set_errors(app, kec, args, message):
    fails(kec, "volume", "set", "--agency", "KEC-A", "--desk", "L1", *args, match=message)
    assert count(app, ServiceVolume) == 0


def test_volume_set_unknown_desk(app, kec):
    fails(kec, "volume", "set", "--agency", "KEC-A", "--desk", "L7", "--month", "2024-05",
          "--count", "1", match="no desk with code 'L7'")


def test_demo_seeds_a_mall_and_is_idempotent(app, runner):
    out = ok(runner, "demo", "--end-month", "2024-06")
    assert "Demo seeded" in out
    with app.app_context():
        mall = db.session.scalar(select(Agency).where(Agency.code == "MPP-HARAPAN"))
        assert len(mall.children) >= 12  # a coordination meeting has a league to compare
        desks = db.session.scalars(select(Desk)).all()
        assert len(desks) >= 20
        n = db.session.scalar(select(func.count()).select_from(Response))
        assert 14000 <= n <= 15500
        months = db.session.execute(
            select(func.min(Response.day), func.max(Response.day))).one()
        # two years: every period has the same period a year earlier to compare with
        assert months[0].isoformat()[:7] == "2022-07" and months[1].isoformat()[:7] == "2024-06"
        # paper forms leave blanks: some responses have fewer than nine answers
        per_response = select(Answer.response_id, func.count().label("k")).group_by(
            Answer.response_id).subquery()
        assert db.session.scalar(
            select(func.count()).select_from(per_response).where(per_response.c.k < 9)) > 0
        assert db.session.scalar(
            select(func.count()).select_from(Response).where(Response.comment.is_not(None))
        ) > 100
        # differing distributions: desk means spread over more than a third of a point
        means = db.session.execute(
            select(Response.desk_id, func.avg(Answer.score)).join(Answer).group_by(
                Response.desk_id)).all()
        values = [float(m) for _, m in means]
        assert max(values) - min(values) > 0.35
        assert db.session.scalar(select(func.count()).select_from(ServiceVolume)) == 24 * len(
            desks)
        assert db.session.scalar(select(func.count()).select_from(ChainEntry).where(
            ChainEntry.kind == "response")) == n  # every response on the chain
        before = {m.__name__: count(app, m) for m in (Agency, Desk, Response, Answer, User)}
    again = ok(runner, "demo", "--end-month", "2024-06")
    assert "nothing changed" in again
    assert {m.__name__: count(app, m) for m in (Agency, Desk, Response, Answer, User)} == before


def test_demo_publishes_its_periods_that_have_ended(app, runner):
    """The demo closes what an agency would have closed, so that every public page shows
    published results instead of "no results yet"."""
    out = ok(runner, "demo", "--end-month", "2024-06")
    assert "37 periods that have ended closed and published" in out
    with app.app_context():
        closed = dict(db.session.execute(
            select(ReportingPeriod.key, ReportingPeriod.closed_at)).tuples().all())
    months = [f"{y}-{m:02d}" for y, m in [(2022, m) for m in range(7, 13)]
              + [(2023, m) for m in range(1, 13)] + [(2024, m) for m in range(1, 7)]]
    assert sorted(closed) == sorted(
        [*months, "2022-Q3", "2022-Q4", "2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4",
         "2024-Q1", "2024-Q2", "2022-S2", "2023-S1", "2023-S2", "2024-S1", "2023"])
    assert all(closed.values())
    client = app.test_client()
    for code in ("DUKCAPIL", "DPMPTSP", "SAMSAT", "IMIGRASI", "MPP-HARAPAN"):
        page = client.get(f"/publik/{code}?lang=en").get_data(as_text=True)
        assert "No results have been published yet" not in page, code
        assert "Community Satisfaction Index (IKM) · June 2024" in page, code


def test_demo_leaves_the_running_month_open(app, runner):
    with app.app_context():
        today = local_today(app.config["TIMEZONE"])
    ok(runner, "demo", "--end-month", f"{today:%Y-%m}")
    with app.app_context():
        keys = set(db.session.scalars(select(ReportingPeriod.key)))
    assert f"{today:%Y-%m}" not in keys  # not over yet: nothing to publish
    assert f"{add_months(today, -1):%Y-%m}" in keys


def test_demo_masks_phone_numbers_in_comments(app, runner):
    ok(runner, "demo", "--end-month", "2024-06")
    with app.app_context():
        comments = db.session.scalars(
            select(Response.comment).where(Response.comment.like("%hubungi%"))).all()
    assert comments and all("0812" not in c and "**** **** ****" in c for c in comments)


def test_demo_rejects_bad_month(app, runner):
    fails(runner, "demo", "--end-month", "June", match="must look like 2024-05")
    assert count(app, Agency) == 0
