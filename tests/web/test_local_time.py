"""Every time a person reads is in the agency's zone (else the site's), named as
Indonesians know it: a printed visit ticket, the audit log, kiosk devices, API tokens.
Stored values stay UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from support.factories import desk, fill, make_user
from support.web import csrf_from, enrol_kiosk, get, login, text

from survey.core.db import db
from survey.core.models import ApiToken, AuditEvent, KioskDevice

# 20:00 UTC on 4 December: already 5 December in every Indonesian zone.
STORED = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


@pytest.fixture
def east(org):
    """A second agency, in Jayapura (WIT, UTC+9)."""
    org.create_agency(db.session, "KEC-P", "Distrik Abepura", timezone="Asia/Jayapura")
    org.create_desk(db.session, "KEC-P", "L1", "Loket Distrik")
    db.session.commit()
    return org


@pytest.mark.parametrize(("agency", "zone", "name"), [
    ("KEC-A", "Asia/Jakarta", "WIB"), ("KEC-P", "Asia/Jayapura", "WIT")])
def test_a_printed_ticket_is_valid_until_a_local_time(app, client, east, agency, zone, name):
    make_user(east, "s@x.go.id", "admin")
    login(client, "s@x.go.id")
    page = text(get(client, "/loket/"))
    ticket = client.post(f"/loket/{desk('L1', agency).id}/tiket",
                         data={"csrf_token": csrf_from(page)})
    printed = re.search(r"valid until ([^·]+?) ·", text(ticket)).group(1)
    assert "UTC" not in printed and printed.endswith(f" {name}")
    expected = datetime.now(UTC) + timedelta(hours=app.config["TICKET_TTL_HOURS"])
    shown = _parse_id(printed.removesuffix(f" {name}"))
    local = expected.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    assert abs(shown - local) < timedelta(minutes=2)


MONTHS_ID = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov",
             "Des"]


def _parse_id(value: str) -> datetime:
    """5 Des 2026 20.00 (as the Indonesian pages print it)."""
    day, month, year, clock = value.split()
    hour, minute = clock.split(".")
    return datetime(int(year), MONTHS_ID.index(month) + 1, int(day), int(hour), int(minute))


def test_the_audit_log_shows_local_times(client, org):
    make_user(org, "a@x.go.id", "admin")
    db.session.execute(update(AuditEvent).values(created_at=STORED))
    db.session.commit()
    login(client, "a@x.go.id")
    page = text(get(client, "/audit/log"))
    assert "(UTC)" not in page
    assert "5 Des 2026 03.00 WIB" in page
    assert "2026-12-04 20:00" not in page


def test_kiosks_and_api_tokens_in_local_time(client, east):
    make_user(east, "a@x.go.id", "admin")
    eastern = desk("L1", "KEC-P")
    enrol_kiosk(client, eastern)
    db.session.execute(update(KioskDevice).values(created_at=STORED))
    db.session.commit()
    login(client, "a@x.go.id")
    assert "5 Des 2026 05.00 WIT" in text(get(client, f"/loket/{eastern.id}/kios"))

    admin = east.get_user(db.session, "a@x.go.id")
    east.create_api_token(db.session, admin, "laporan", days=30)
    db.session.execute(update(ApiToken).values(last_used_at=STORED, expires_at=STORED))
    db.session.commit()
    page = text(get(client, f"/admin/pengguna/{admin.id}"))
    assert page.count("5 Des 2026 03.00 WIB") == 2  # expires, last used


def test_the_review_queue_dates_responses_in_indonesian(client, org):
    fill(org, per_desk=4, flagged=1)  # 14 May 2024, 10:00 in Jakarta
    make_user(org, "m@x.go.id", "agency_manager", ["KEC-A"])
    login(client, "m@x.go.id")
    page = text(get(client, "/dashboard/KEC-A/antrean/flag?period=2024-05"))
    assert "14 Mei 2024 10.00" in page and "2024-05-14" not in page
