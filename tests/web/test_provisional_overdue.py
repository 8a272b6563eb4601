"""A period that has not ended is marked provisional on the dashboards; follow-up actions
past their due date (the agency's local date) and still owed are marked overdue, and the
dashboard says how many."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from support.factories import desk, fill
from support.web import get, text

from survey.core.db import db, utcnow
from survey.core.localtime import long_date
from survey.core.models import FollowUp
from survey.core.periods import current_period, local_today
from survey.core.results import published

PROVISIONAL = re.compile(r'<div class="alert warn" role="status" id="provisional">(.*?)</div>',
                         re.S)
LATE_TAG = '<span class="tag warn">Terlambat</span>'


def test_a_running_period_is_provisional_on_both_dashboards(org, manager):
    today = local_today("Asia/Jakarta")
    running = current_period("semester", today)
    l1 = desk("L1").id
    for url in ("/dashboard/KEC-A", f"/dashboard/KEC-A/loket/{l1}"):
        notice = PROVISIONAL.search(text(get(manager, url)))
        assert notice, url
        assert "Sementara" in notice.group(1)
        assert f"berlangsung sampai {long_date(running.end)}" in notice.group(1)
        ended = text(get(manager, url + "?period=2024-05"))
        assert 'id="provisional"' not in ended, url
    english = text(get(manager, "/dashboard/KEC-A?lang=en"))
    assert "Provisional:" in english and long_date(running.end, "en") in english


@pytest.fixture
def plan(org):
    """Five actions of May 2024: two overdue (planned and in progress, due yesterday in
    Jakarta), one done late, one due today, one without a due date."""
    today = local_today("Asia/Jakarta")
    agency_id = desk("L1").agency_id
    rows = [("Tambah petugas", "planned", today - timedelta(days=1)),
            ("Papan alur", "in_progress", today - timedelta(days=1)),
            ("Perbaiki AC", "done", today - timedelta(days=1)),
            ("Kotak saran", "planned", today),
            ("Survei ulang", "planned", None)]
    for action, status, due in rows:
        db.session.add(FollowUp(agency_id=agency_id, period="2024-05", element_code="U3",
                                action=action, owner="Sekcam", due_date=due, status=status))
    db.session.commit()
    return today


def _late_rows(page: str) -> list[str]:
    return [row for row in re.findall(r"<tr>(.*?)</tr>", page, re.S) if LATE_TAG in row]


def test_overdue_actions_are_marked_and_counted(org, manager, plan):
    fill(org, per_desk=5)
    for url in ("/dashboard/KEC-A?period=2024-05", "/dashboard/KEC-A/rtl?period=2024-05"):
        page = text(get(manager, url))
        late = _late_rows(page)
        assert len(late) == 2, url
        assert "Tambah petugas" in late[0] + late[1] and "Papan alur" in late[0] + late[1]
        assert "Kegiatan yang melewati batas waktu dan belum selesai: 2." in page, url
        yesterday = plan - timedelta(days=1)
        assert long_date(yesterday) in page  # due dates with Indonesian month names

    period = org.create_period(db.session, "2024-05")
    published.close_period(db.session, period, utcnow(), plan, actor=None)
    db.session.commit()
    public = text(get(manager, "/publik/KEC-A"))
    assert len(_late_rows(public)) == 2


def test_nothing_is_overdue_when_all_is_done_or_not_yet_due(org, manager, plan):
    db.session.query(FollowUp).filter(FollowUp.status != "planned").delete()
    db.session.query(FollowUp).filter(FollowUp.action == "Tambah petugas").update(
        {"status": "cancelled"})
    db.session.commit()
    page = text(get(manager, "/dashboard/KEC-A/rtl?period=2024-05"))
    assert "Terlambat" not in page and "Kotak saran" in page
