"""Published results stay final: once a period is closed, no channel (web form, ticket,
kiosk, paper sheet, CSV import on the web and from the command line, review) can add a
response dated inside it or change whether a flagged one counts; nothing is stored and
the reason names the period. Reopening takes a reason, and after a revision the public
page says so and keeps the earlier figures visible."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from support.factories import desk, fill, make_user
from support.web import csrf_from, enrol_kiosk, form_fields, get, login, submit, text

from survey.core import tickets
from survey.core.db import db, utcnow
from survey.core.models import AuditEvent, Publication, ReportingPeriod, Response

AUG_20 = datetime(2026, 8, 20, 3, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"SURVEY_MIN_FILL_SECONDS": 0, "SUBMIT_RATE_LIMIT": "1000 per minute"}


def responses() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Response))


def close(key: str) -> None:
    """Close a period directly (the admin page refuses one that has not ended; a kiosk
    clock can still be wrong, so the channels of today are tested through this)."""
    db.session.add(ReportingPeriod(key=key, closed_at=utcnow()))
    db.session.commit()


@pytest.fixture
def admin(app, org, client):
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "manager@kec-a.go.id", "agency_manager", ["KEC-A"])
    make_user(org, "staff@kec-a.go.id", "desk_staff", ["KEC-A"])
    login(client, "admin@skm.go.id")
    return client


def test_web_form_kiosk_and_ticket_refuse_a_closed_period(app, org, client):
    for key in {date.today().strftime("%Y-%m"), datetime.now(UTC).strftime("%Y-%m")}:
        close(key)  # the agency's (WIB) day may already be in the next month
    before = responses()
    token = tickets.issue(db.session, desk(), 1, 24)[0]
    db.session.commit()
    enrol_kiosk(client, desk())
    for url in (f"/s/{desk().slug}", f"/k/{desk().slug}", f"/t/{token}"):
        page = get(client, url).get_data(as_text=True)
        data = {**form_fields(page), **{f"U{i}": "1" for i in range(1, 10)},
                "service": re.search(r'<option value="(\d+)"', page).group(1)}
        response = client.post(url, data=data)
        assert response.status_code == 409, url
        assert "ditutup dan hasilnya sudah dipublikasikan" in text(response)
    assert responses() == before
    assert tickets.find(db.session, token).used_at is None  # the ticket was not spent


def test_paper_sheet_refuses_rows_dated_in_a_closed_period(app, admin):
    close("2026-Q3")
    staff = app.test_client()
    login(staff, "staff@kec-a.go.id")
    l1 = desk()
    url = f"/kertas/loket/{l1.id}?tanggal=2026-08-20"
    page = get(staff, url).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page),
            "sheet": re.search(r'name="sheet" value="([^"]+)"', page).group(1),
            "r1-date": "2026-08-20", **{f"r1-U{i}": "1" for i in range(1, 10)}}
    response = staff.post(url, data=data)
    assert response.status_code == 422
    assert "Periode 2026-Q3 sudah ditutup" in text(response) and "2026-08-20" in text(response)
    assert responses() == 0


CSV = ("agency,desk,submitted_at,U1,U2,U3,U4,U5,U6,U7,U8,U9\n"
       "KEC-A,L1,2026-10-02,4,4,4,4,4,4,4,4,4\n"
       "KEC-A,L1,2026-08-20,1,1,1,1,1,1,1,1,1\n")


def test_csv_import_on_the_web_and_the_command_line_refuses_a_closed_period(app, admin, runner,
                                                                           tmp_path):
    close("2026-Q3")
    manager = app.test_client()
    login(manager, "manager@kec-a.go.id")
    from io import BytesIO

    response = submit(manager, "/kertas/impor", {"file": (BytesIO(CSV.encode()), "r.csv")},
                      content_type="multipart/form-data")
    assert response.status_code == 422
    page = text(response)
    assert "Baris 3" in page and "2026-Q3" in page
    path = tmp_path / "r.csv"
    path.write_text(CSV)
    result = runner.invoke(args=["responses", "import", str(path)])
    assert result.exit_code == 1
    assert "line 3: period 2026-Q3 is closed" in result.output
    assert responses() == 0


def test_a_flagged_response_in_a_closed_period_can_no_longer_be_released(app, org, admin):
    fill(org, per_desk=12)  # May 2024, three flagged per desk
    close("2024-05")
    manager = app.test_client()
    login(manager, "manager@kec-a.go.id")
    queue = get(manager, "/dashboard/KEC-A/antrean/flag?period=2024-05").get_data(as_text=True)
    flagged = int(re.search(r"/dashboard/KEC-A/tinjau/(\d+)", queue).group(1))
    decided = manager.post(f"/dashboard/KEC-A/tinjau/{flagged}", data={
        "csrf_token": csrf_from(queue), "decision": "release", "reason": "same family"},
        follow_redirects=True)
    assert "Periode 2024-05 sudah ditutup" in text(decided)
    assert not db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "review_release"))


def test_reopening_needs_a_reason_and_the_public_page_keeps_the_earlier_figures(app, org,
                                                                               admin):
    fill(org, per_desk=20)
    db.session.add(ReportingPeriod(key="2024-05"))
    db.session.commit()
    period = db.session.scalar(select(ReportingPeriod))
    periods_page = get(admin, "/admin/periode").get_data(as_text=True)
    token = csrf_from(periods_page)
    assert admin.post(f"/admin/periode/{period.id}/tutup",
                      data={"csrf_token": token}).status_code == 303
    first = text(get(admin, "/publik/KEC-A"))
    headline = re.search(r'<p class="big"><strong>([^<]+)</strong>', first).group(1)
    assert "Direvisi" not in first

    no_reason = admin.post(f"/admin/periode/{period.id}/buka", data={"csrf_token": token},
                           follow_redirects=True)
    assert "Sebutkan alasan membuka kembali periode" in text(no_reason)
    assert db.session.get(ReportingPeriod, period.id).closed_at is not None
    reopened = admin.post(f"/admin/periode/{period.id}/buka", data={
        "csrf_token": token, "reason": "40 kuesioner kertas Mei terlambat diketik"})
    assert reopened.status_code == 303
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "period_reopened")).all()
    assert event.details == {"reason": "40 kuesioner kertas Mei terlambat diketik"}

    fill(org, per_desk=10, seed=9)  # the late questionnaires
    assert admin.post(f"/admin/periode/{period.id}/tutup",
                      data={"csrf_token": token}).status_code == 303
    revised = text(get(admin, "/publik/KEC-A"))
    assert "Direvisi pada" in revised and "Dipublikasikan sebelumnya" in revised
    assert headline in revised  # the earlier figure stays visible ...
    assert "40 kuesioner kertas Mei terlambat diketik" in revised  # ... with the reason
    publications = db.session.scalars(select(Publication).order_by(Publication.id)).all()
    assert [p.withdrawn_at is None for p in publications] == [False, True]
    assert publications[0].results["KEC-A"]["n"] == 40 - 6  # flagged ones do not count
